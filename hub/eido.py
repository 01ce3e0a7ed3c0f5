"""NENA EIDO (NENA-STA-021.1, the Emergency Incident Data Object in JSON) onto the hub's incident fields.

What is read of an EIDO (the rest of the document is left alone):

- the incident's id: the document's `$id`, which in the EIDO is the Incident Tracking Identifier
  (`urn:emergency:uid:incidentid:…`); `incidentTrackingIdentifier` of the pre-standard drafts is accepted too;
- the type: `incidentComponent.incidentTypeCommonRegistryText` (the APCO common type), and its
  `incidentTypeInternalText` as the description;
- the priority: `incidentCommonPriorityNumber` (0–10, 10 the most urgent) onto the hub's 1–5 (1 the most
  urgent); 3 when absent;
- the status: closed when `incidentStatusCommonRegistryText` holds Closed or Cancelled, else open;
- the place: a location component (`locationComponent`, PIDF-LO XML in `locationByValue`, RFC 5491 GML
  shapes whose `gml:pos` is "lat lon", or a `geo:` URI) chosen by its location type — CurrentIncident, then
  InitialIncident, Investigation, Caller, RoutingLocation, Other; those the incident component references
  first — and the civic address found in it;
- the time reported: the earliest call's `callStartTimestamp`, else the incident component's, else the
  document's `lastUpdateTimeStamp`.

An EIDO that cannot be placed (no such location with coordinates) is refused (`EidoError`, 422), as is one
without an id, a type or a time. Messages say what is missing, never what was sent. The PIDF-LO is parsed with
defusedxml (no DTDs, no entities: the XML comes from outside).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from defusedxml import ElementTree
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from hub.incidents import IncidentFields

#: Location types (the EIDO Location Type registry) that place the incident, most telling first. Staging,
#: TowerLocation and UnitLocation are somewhere else.
PLACING_TYPES = ("CurrentIncident", "InitialIncident", "Investigation", "Caller", "RoutingLocation", "Other")
CLOSED_STATUSES = {"Closed", "Cancelled"}
_Text = Annotated[str, Field(max_length=500)]


class EidoError(ValueError):
    """An EIDO the hub cannot file as an incident; the message names what is missing, never the input."""


class _Component(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Reference(_Component):
    ref: _Text = Field(alias="$ref")


class LocationComponent(_Component):
    id: _Text = Field(alias="$id")
    locationTypeDescriptionRegistryText: Annotated[str, Field(max_length=100)] = "Other"
    locationByValue: Annotated[str | None, Field(max_length=200_000)] = None
    locationDescriptionText: _Text | None = None


class IncidentComponent(_Component):
    incidentTypeCommonRegistryText: Annotated[str, Field(min_length=1, max_length=100)]
    incidentTypeInternalText: _Text | None = None
    incidentStatusCommonRegistryText: Annotated[list[Annotated[str, Field(max_length=100)]],
                                                Field(max_length=50)] = []
    incidentCommonPriorityNumber: Annotated[int | None, Field(ge=0, le=10)] = None
    locationReference: Annotated[list[Reference], Field(max_length=100)] = []
    lastUpdateTimeStamp: AwareDatetime | None = None


class CallComponent(_Component):
    callStartTimestamp: AwareDatetime | None = None


class EidoDocument(_Component):
    """The parts of an EIDO the hub reads."""

    id: _Text | None = Field(default=None, alias="$id")
    incidentTrackingIdentifier: _Text | None = None
    eidoVersion: Literal["1.0"] | None = None
    lastUpdateTimeStamp: AwareDatetime | None = None
    incidentComponent: IncidentComponent | Annotated[list[IncidentComponent], Field(max_length=1)] | None = None
    callComponent: Annotated[list[CallComponent], Field(max_length=200)] = []
    locationComponent: Annotated[list[LocationComponent], Field(max_length=200)] = []


def incident_from_eido(document: EidoDocument) -> IncidentFields:
    """The incident an EIDO describes; EidoError if it has no id, type, place or time."""
    incident = _incident_component(document)
    candidates = _placing_locations(document, incident)
    point = next(((loc, p) for loc in candidates if (p := coordinates(loc.locationByValue or "")) is not None),
                 None)
    if point is None:
        raise EidoError("the EIDO cannot be placed: no incident or caller location with coordinates "
                        "(a PIDF-LO with gml:pos, or a geo: URI, in locationByValue)")
    location, (latitude, longitude) = point
    try:
        return IncidentFields(
            external_id=_tracking_id(document), type=incident.incidentTypeCommonRegistryText,
            priority=hub_priority(incident.incidentCommonPriorityNumber), latitude=latitude, longitude=longitude,
            address=address([location] + candidates), reported_at=_reported_at(document, incident),
            description=incident.incidentTypeInternalText or "",
            status="closed" if CLOSED_STATUSES & set(incident.incidentStatusCommonRegistryText) else "open")
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False))
        raise EidoError(f"the EIDO maps to an incident the hub cannot keep ({where} out of range)") from None


def hub_priority(common: int | None) -> int:
    """EIDO common priority 0–10 (10 most urgent) onto 1–5 (1 most urgent): 9–10 → 1 … 0–1 → 5; none → 3."""
    return 3 if common is None else max(1, 5 - common // 2)


def _incident_component(document: EidoDocument) -> IncidentComponent:
    component = document.incidentComponent
    if isinstance(component, list):
        component = component[0] if component else None
    if component is None:
        raise EidoError("the EIDO has no incidentComponent (the incident's type is needed)")
    return component


def _tracking_id(document: EidoDocument) -> str:
    found = document.id or document.incidentTrackingIdentifier
    if not found:
        raise EidoError("the EIDO has no incident tracking identifier ($id)")
    if len(found) > 100 or not all("!" <= ch <= "~" for ch in found):
        raise EidoError("the EIDO's incident tracking identifier is not up to 100 visible ASCII characters")
    return found


def _reported_at(document: EidoDocument, incident: IncidentComponent) -> dt.datetime:
    starts = [call.callStartTimestamp for call in document.callComponent if call.callStartTimestamp is not None]
    found = min(starts) if starts else incident.lastUpdateTimeStamp or document.lastUpdateTimeStamp
    if found is None:
        raise EidoError("the EIDO has no time (callStartTimestamp or lastUpdateTimeStamp)")
    return found


def _placing_locations(document: EidoDocument, incident: IncidentComponent) -> list[LocationComponent]:
    """The locations that may place the incident, the most telling first (by type; the incident's own first)."""
    referenced = [ref.ref for ref in incident.locationReference]
    candidates = [loc for loc in document.locationComponent if loc.locationTypeDescriptionRegistryText in
                  PLACING_TYPES]
    return sorted(candidates, key=lambda loc: (PLACING_TYPES.index(loc.locationTypeDescriptionRegistryText),
                                               loc.id not in referenced))


# ---------------------------------------------------------------- PIDF-LO


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse(pidf: str):
    try:
        return ElementTree.fromstring(pidf.strip().encode("utf-8"), forbid_dtd=True)
    except Exception:  # defusedxml and expat raise several kinds for hostile or broken XML: not a place
        return None


def coordinates(location: str) -> tuple[float, float] | None:
    """(latitude, longitude) of a PIDF-LO's first geodetic shape (its gml:pos, or the mean of a polygon's
    gml:posList), or of a `geo:` URI; None if there is none or it is out of range."""
    text = location.strip()
    if text.startswith("geo:"):
        return _point(text[4:].split(";", 1)[0].split(",")[:2])
    root = _parse(text)
    if root is None:
        return None
    for element in root.iter():
        if _local(element.tag) == "pos":
            return _point((element.text or "").split()[:2])
        if _local(element.tag) == "posList":
            return _polygon_centre((element.text or "").split())
    return None


def _point(parts: list[str]) -> tuple[float, float] | None:
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _polygon_centre(values: list[str]) -> tuple[float, float] | None:
    points = [_point(values[i:i + 2]) for i in range(0, len(values) - 1, 2)]
    if not points or None in points:
        return None
    if len(points) > 1 and points[0] == points[-1]:  # a closed ring repeats its first vertex
        points.pop()
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def address(locations: list[LocationComponent]) -> str:
    """The first civic address among the locations' PIDF-LOs (e.g. "42 W Cellular Street, Wilmington, DE"),
    else the first location's description text, else ""."""
    for location in locations:
        root = _parse(location.locationByValue or "")
        civic = next((e for e in root.iter() if _local(e.tag) == "civicAddress"), None) if root is not None \
            else None
        if civic is not None:
            parts = {_local(child.tag): (child.text or "").strip() for child in civic}
            street = " ".join(parts[key] for key in ("HNO", "HNS", "PRD", "RD", "STS", "POD") if parts.get(key))
            place = [parts[key] for key in ("A3", "A1", "PC") if parts.get(key)]
            return ", ".join([street] + place if street else place)[:500]
    return (locations[0].locationDescriptionText or "")[:500] if locations else ""
