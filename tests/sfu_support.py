"""The SFU in tests: a real Janus and a real coturn on loopback ports chosen per run (`sim.media_servers`), a hub
using them, and a browser-side viewer driven through the hub's API exactly as the console's player does."""

from __future__ import annotations

from pathlib import Path

from sim.media_servers import MediaServers

# The viewer's side, run in the page (served by the hub, so its fetches are same-origin under the CSP): ask for a
# token, redeem it for the SFU's offer, answer with ICE gathered, count decoded frames. `ice` overrides what the hub
# handed out (wrong or expired TURN credentials); `reuse` redeems a token someone already used; `first` is the viewer
# POST /api/streams with `watch` joined already (its offer and ICE servers), as the console's player uses it.
VIEWER_JS = """
async ({sessionId, token, ice, policy, reuse, first}) => {
  const headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"};
  const post = async (path, body) => {
    const r = await fetch(path, {method: "POST", headers, body: JSON.stringify(body ?? {})});
    return {status: r.status, body: r.status === 204 ? null : await r.json()};
  };
  const base = `/api/streams/${sessionId}/viewers`;
  let ticket, joined;
  if (first) {  // joined already by POST /api/streams with `watch`
    ticket = {body: first};
    joined = {body: first};
  } else {
    ticket = await post(base);
    if (ticket.status !== 200) return {status: ticket.status, step: "ticket"};
    const viewerToken = reuse ?? ticket.body.token;
    joined = await post(base + "/join", {token: viewerToken});
    window.__viewerToken = ticket.body.token;
    if (joined.status !== 200) return {status: joined.status, step: "join", detail: joined.body.detail};
  }
  const pc = new RTCPeerConnection({iceServers: ice ?? ticket.body.ice_servers,
                                    iceTransportPolicy: policy ?? ticket.body.ice_transport_policy});
  window.__pc = pc;
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  window.__video = video;
  window.__lastFrameAt = 0;
  const tick = () => { window.__lastFrameAt = Date.now(); video.requestVideoFrameCallback(tick); };
  video.requestVideoFrameCallback(tick);
  pc.ontrack = (e) => { video.srcObject = e.streams[0] ?? new MediaStream([e.track]); };
  await pc.setRemoteDescription({type: "offer", sdp: joined.body.sdp});
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 3000);
  });
  const gatheredAt = performance.now();
  const candidates = pc.localDescription.sdp.split("\\r\\n").filter((l) => l.startsWith("a=candidate"));
  const answered = await post(`${base}/${joined.body.viewer_id}/answer`, {sdp: pc.localDescription.sdp, type: "answer"});
  return {status: answered.status, step: "answer", viewerId: joined.body.viewer_id, candidates,
          token: ticket.body.token, iceServers: ticket.body.ice_servers, gatheredAt, answeredAt: performance.now()};
}
"""

FRAMES_JS = "() => window.__video ? window.__video.getVideoPlaybackQuality().totalVideoFrames : 0"


def start_media_servers(folder: Path, *, turn: bool = True) -> MediaServers:
    folder.mkdir(parents=True, exist_ok=True)
    return MediaServers(folder, turn=turn).start()
