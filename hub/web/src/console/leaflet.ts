// Leaflet and its clustering plug-in, from npm (never a CDN). The plug-in extends the global `L` that Leaflet's
// own bundle sets, so it is imported after it, here, once.
import L from "leaflet";
import "leaflet.markercluster";
import "leaflet/dist/leaflet.css";
import "leaflet.markercluster/dist/MarkerCluster.css";

export default L;
