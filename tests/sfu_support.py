"""The SFU in tests: a real Janus and a real coturn on loopback ports chosen per run (`sim.media_servers`), a hub
using them, and a browser-side viewer driven through the hub's API exactly as the console's player does."""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av

from edge.recording.h264 import iter_nals
from wire import rtc
from sim.media_servers import MediaServers

# The viewer's side, run in the page (served by the hub, so its fetches are same-origin under the CSP): ask for a
# token, redeem it for the SFU's offer, answer with ICE gathered, count decoded frames. `ice` overrides what the hub
# handed out (wrong or expired TURN credentials); `reuse` redeems a token someone already used; `first` is the viewer
# POST /api/streams with `watch` joined already (its offer and ICE servers), as the console's player uses it.
# `encoded` (a count) keeps that many of the received frames as they came, still encoded (Chromium's encoded
# insertable streams, between depacketizing and the decoder), in `window.__encoded`, base64: what the SFU forwarded.
VIEWER_JS = """
async ({sessionId, token, ice, policy, reuse, first, encoded}) => {
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
                                    iceTransportPolicy: policy ?? ticket.body.ice_transport_policy,
                                    encodedInsertableStreams: Boolean(encoded)});
  window.__pc = pc;
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  window.__video = video;
  window.__lastFrameAt = 0;
  const tick = () => { window.__lastFrameAt = Date.now(); video.requestVideoFrameCallback(tick); };
  video.requestVideoFrameCallback(tick);
  pc.ontrack = (e) => {
    if (encoded) {
      window.__encoded = [];
      const {readable, writable} = e.receiver.createEncodedStreams();
      readable.pipeThrough(new TransformStream({transform(frame, controller) {
        if (window.__encoded.length < encoded) {
          const bytes = new Uint8Array(frame.data);
          let text = "";
          for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
          window.__encoded.push({type: frame.type, data: btoa(text)});
        }
        controller.enqueue(frame);
      }})).pipeTo(writable);
    }
    video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
  };
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


class CameraPackets(threading.Thread):
    """The camera's own H.264, NAL unit by NAL unit: a second RTSP client on the simulated camera, demuxing only
    (no decode, so it keeps up on a loaded machine)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.nals, self.packets, self.stop = url, set(), 0, threading.Event()

    def run(self) -> None:
        with av.open(self.url, options={"rtsp_transport": "tcp"}) as container:
            stream = container.streams.video[0]
            self.nals.update(iter_nals(stream.codec_context.extradata or b""))
            for packet in container.demux(stream):
                self.nals.update(iter_nals(bytes(packet)))
                self.packets += 1
                if self.stop.is_set():
                    return


def received_nals(frames: list[dict]) -> list[list[bytes]]:
    """Each frame a browser kept (`encoded`), as its NAL units (Annex B, start codes dropped)."""
    return [list(iter_nals(base64.b64decode(frame["data"]))) for frame in frames]


def relay_candidates(turn_url: str, username: str, credential: str) -> list[str]:
    """The candidates a relay-only aiortc peer configured as the box configures its own (`session_ice`) gathers."""
    from aiortc import RTCPeerConnection

    from edge.config import StreamingConfig
    from edge.streaming.streamer import session_ice
    from wire import messages as m

    start = m.StreamStart(session_id=uuid.uuid4(), signed=m.SignedDocument(document="{}", signature="x" * 86),
                          ice_servers=[m.IceServer(urls=[turn_url], username=username, credential=credential)])

    async def gather() -> list[str]:
        pc = RTCPeerConnection(rtc.configuration(session_ice(StreamingConfig(relay_only=True), start)))
        try:
            pc.addTransceiver("video", direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            return [line for line in pc.localDescription.sdp.splitlines() if line.startswith("a=candidate")]
        finally:
            await pc.close()

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        return thread.submit(asyncio.run, asyncio.wait_for(gather(), 30)).result()
