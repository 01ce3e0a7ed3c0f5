"""Clip uploads from a box to the hub, end to end: the real hub app under uvicorn on loopback, the box's real
`upload_clip` (tuspy), a real MP4 and manifests signed with keys the hub's own CA certified."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx
import pytest

from edge.clips.upload import AlreadyDelivered, ClipRejected, UploadInterrupted, UploadRefused, upload_clip
from hub.clips.staging import upload_id
from hub.clips.tickets import token_hash
from tests.clip_support import (ClipHub, MotoS3, approved_request, enrol_box, noisy_mp4, signed_manifest,
                                write_manifest)
from tests.proxy_support import CuttingProxy

CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def moto_s3():
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture
def clip_hub(tmp_path: Path):
    hub = ClipHub(tmp_path).start()
    yield hub
    hub.stop()


@pytest.fixture(params=["local", "s3"])
def any_store_hub(request, tmp_path: Path):
    settings = request.getfixturevalue("moto_s3").settings() if request.param == "s3" else {}
    hub = ClipHub(tmp_path, **settings).start()
    yield hub
    hub.stop()


@pytest.fixture
def clip(sim_cache: Path) -> Path:
    return noisy_mp4(sim_cache)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(hub: ClipHub, request, clip: Path, manifest: Path, **kwargs) -> str:
    return upload_clip(clip_path=clip, manifest_path=manifest, url=kwargs.pop("url", hub.uploads), token=request.token,
                       request_id=request.request_id, chunk_bytes=kwargs.pop("chunk_bytes", CHUNK), **kwargs)


def assert_nothing_stored(hub: ClipHub, request_id: int) -> None:
    assert hub.clip_of(request_id) is None
    assert hub.request(request_id).status == "approved"
    assert not hub.settings.clips_dir.exists() or not any(p.is_file() for p in hub.settings.clips_dir.rglob("*"))


def test_a_good_upload_verifies_and_lands_in_the_case(any_store_hub: ClipHub, clip: Path, tmp_path: Path):
    clip_hub = any_store_hub
    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
    state = tmp_path / "upload-state.json"
    url = upload(clip_hub, request, clip, manifest, state_path=state)
    assert url.endswith("/api/uploads/" + upload_id(token_hash(request.token)))
    row = clip_hub.clip_of(request.request_id)
    assert row.verified and row.sha256 == sha256(clip.read_bytes()) and row.bytes == clip.stat().st_size
    assert row.storage_key == f"cases/{request.case_id}/{request.request_id}/clip.mp4"
    assert row.manifest == manifest.read_text()
    store = clip_hub.hub.clip_store
    assert sha256(store.open(row.storage_key).read()) == row.sha256
    assert store.open(f"cases/{request.case_id}/{request.request_id}/manifest.json").read() == manifest.read_bytes()
    delivered = clip_hub.request(request.request_id)
    assert (delivered.status, delivered.clip_stage, delivered.upload_token_hash) == ("delivered", "uploaded", None)
    [entry] = clip_hub.audit_entries("clip.upload")
    assert (entry.actor, entry.object, entry.outcome, entry.case_number) == (
        f"appliance:{box.device_id}", f"request:{request.request_id}", "success", request.case_number)
    assert entry.details["sha256"] == row.sha256 and entry.details["verified"] is True
    assert clip_hub.staged() == [] and not state.exists()


def test_an_interrupted_upload_resumes_where_the_hub_stopped_and_sends_each_byte_once(
        clip_hub: ClipHub, clip: Path, tmp_path: Path):
    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
    size, state = clip.stat().st_size, tmp_path / "upload-state.json"
    proxy = CuttingProxy(clip_hub.server.port, cut_after=size // 2).start()
    try:
        with pytest.raises(UploadInterrupted):
            upload(clip_hub, request, clip, manifest, url=proxy.url + "/api/uploads", state_path=state)
        assert proxy.cut.is_set() and state.exists()
        offset = _settled_offset(clip_hub, request, state)
        assert 0 < offset < size
        upload(clip_hub, request, clip, manifest, url=proxy.url + "/api/uploads", state_path=state)
    finally:
        proxy.stop()
    assert proxy.patches[0][0] == offset  # resumed at the hub's offset, not from zero
    assert sum(length for _, length in proxy.patches) == size - offset  # the rest, once
    row = clip_hub.clip_of(request.request_id)
    assert row.verified and row.sha256 == sha256(clip.read_bytes())


def _settled_offset(hub: ClipHub, request, state: Path) -> int:
    """The hub's offset for the interrupted upload once it has written what it received before the cut."""
    import json
    import time

    url, seen = json.loads(state.read_text())["url"], []
    for _ in range(50):
        r = httpx.head(url, headers={"Authorization": f"Bearer {request.token}", "Tus-Resumable": "1.0.0"})
        seen.append(int(r.headers["upload-offset"]))
        if len(seen) > 2 and seen[-1] == seen[-2] == seen[-3]:
            return seen[-1]
        time.sleep(0.1)
    raise AssertionError(f"the offset did not settle: {seen}")


def test_a_rate_limited_upload_stopped_half_way_resumes_from_its_state(clip_hub: ClipHub, clip: Path, tmp_path: Path):
    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
    size, state, stop = clip.stat().st_size, tmp_path / "state.json", threading.Event()
    offsets: list[int] = []

    def note(offset: int, total: int) -> None:
        offsets.append(offset)
        if offset >= total // 2:
            stop.set()

    rate = 2 * 1024 * 1024
    with pytest.raises(UploadInterrupted, match="stopped"):
        upload(clip_hub, request, clip, manifest, state_path=state, rate_limit_bytes_per_s=rate, stop=stop,
               progress=note)
    stopped_at = offsets[-1]
    assert size // 2 <= stopped_at < size and clip_hub.clip_of(request.request_id) is None
    resumed: list[int] = []
    upload(clip_hub, request, clip, manifest, state_path=state, progress=lambda o, t: resumed.append(o))
    assert resumed[0] - stopped_at <= CHUNK  # the first chunk after the stop starts where it stopped
    assert clip_hub.clip_of(request.request_id).verified


def test_a_flipped_byte_is_not_verified_and_is_kept_apart_from_evidence(clip_hub: ClipHub, clip: Path,
                                                                       tmp_path: Path):
    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
    damaged = tmp_path / "clip.mp4"
    data = bytearray(clip.read_bytes())
    data[len(data) // 3] ^= 0x01
    damaged.write_bytes(data)
    with pytest.raises(ClipRejected, match="SHA-256"):
        upload(clip_hub, request, damaged, manifest)
    row = clip_hub.clip_of(request.request_id)
    assert not row.verified and "SHA-256" in row.verification
    assert row.storage_key.startswith(f"quarantine/{request.case_id}/{request.request_id}/")
    assert not (clip_hub.settings.clips_dir / "cases").exists()
    after = clip_hub.request(request.request_id)
    assert (after.status, after.clip_stage, after.upload_token_hash) == ("approved", "failed", None)
    assert "kept apart" in after.clip_detail
    [entry] = clip_hub.audit_entries("clip.upload")
    assert entry.outcome == "failure" and entry.details["verified"] is False
    with pytest.raises(AlreadyDelivered):  # the token was single-use
        upload(clip_hub, request, clip, manifest)


def test_a_wrong_token_is_refused_and_nothing_is_stored(clip_hub: ClipHub, clip: Path, tmp_path: Path):
    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
    with pytest.raises(UploadRefused) as refused:
        upload_clip(clip_path=clip, manifest_path=manifest, url=clip_hub.uploads, token="not-the-token-" + "x" * 20,
                    request_id=request.request_id)
    assert refused.value.status == 403 and "not valid" in refused.value.detail
    no_token = httpx.put(f"{clip_hub.uploads}/{request.request_id}/manifest", content=manifest.read_bytes())
    assert no_token.status_code == 401
    other = approved_request(clip_hub.hub, box, case_number="2026-000999")
    with pytest.raises(UploadRefused) as crossed:  # a real token, for another request
        upload_clip(clip_path=clip, manifest_path=manifest, url=clip_hub.uploads, token=other.token,
                    request_id=request.request_id)
    assert crossed.value.status == 403
    assert_nothing_stored(clip_hub, request.request_id)
    assert clip_hub.staged() == []


def test_a_reused_token_is_told_the_clip_is_already_delivered(clip_hub: ClipHub, clip: Path, tmp_path: Path):
    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
    upload(clip_hub, request, clip, manifest)
    with pytest.raises(AlreadyDelivered) as again:
        upload(clip_hub, request, clip, manifest)
    assert again.value.status == 409
    created = httpx.post(clip_hub.uploads, headers={"Authorization": f"Bearer {request.token}",
                                                    "Tus-Resumable": "1.0.0", "Upload-Length": "10"})
    assert created.status_code == 409
    assert len(clip_hub.audit_entries("clip.upload")) == 1


def test_a_manifest_signed_by_another_box_is_refused(clip_hub: ClipHub, clip: Path, tmp_path: Path):
    box, other = enrol_box(clip_hub.hub), enrol_box(clip_hub.hub, name="florist")
    request = approved_request(clip_hub.hub, box)
    forged = signed_manifest(box, request, clip, key=other.key, certificate_pem=other.certificate_pem)
    manifest = write_manifest(tmp_path / "manifest.json", forged)
    with pytest.raises(UploadRefused) as refused:
        upload(clip_hub, request, clip, manifest)
    assert refused.value.status == 403
    assert f"the box certificate is for {other.device_id}" in refused.value.detail
    assert "other than the one the hub issued" in refused.value.detail
    assert_nothing_stored(clip_hub, request.request_id)
    [entry] = clip_hub.audit_entries("clip.upload")
    assert entry.outcome == "denied" and entry.details["stage"] == "manifest"


def test_a_manifest_window_outside_the_approved_window_is_refused(clip_hub: ClipHub, clip: Path, tmp_path: Path):
    import datetime as dt

    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    late = signed_manifest(box, request, clip, actual_to=request.window_to + dt.timedelta(minutes=5))
    with pytest.raises(UploadRefused) as refused:
        upload(clip_hub, request, clip, write_manifest(tmp_path / "manifest.json", late))
    assert refused.value.status == 422 and "outside the approved window" in refused.value.detail
    other_camera = signed_manifest(box, request, clip, camera="cam2", request_id=request.request_id + 100)
    with pytest.raises(UploadRefused) as wrong:
        upload(clip_hub, request, clip, write_manifest(tmp_path / "manifest2.json", other_camera))
    assert "camera cam2" in wrong.value.detail and f"request {request.request_id + 100}" in wrong.value.detail
    assert_nothing_stored(clip_hub, request.request_id)
    assert clip_hub.staged() == []


def test_more_bytes_than_the_manifest_says_are_refused_with_413(clip_hub: ClipHub, clip: Path, tmp_path: Path):
    box = enrol_box(clip_hub.hub)
    request = approved_request(clip_hub.hub, box)
    manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
    auth = {"Authorization": f"Bearer {request.token}", "Tus-Resumable": "1.0.0"}
    early = httpx.post(clip_hub.uploads, headers={**auth, "Upload-Length": "10"})
    assert early.status_code == 409 and "send the manifest first" in early.json()["detail"]
    assert httpx.put(f"{clip_hub.uploads}/{request.request_id}/manifest", content=manifest.read_bytes(),
                     headers=auth).status_code == 200
    size = clip.stat().st_size
    meta = "request_id " + _b64(str(request.request_id)) + ",filename " + _b64("clip.mp4") + ",filetype " + _b64("v")
    bigger = httpx.post(clip_hub.uploads, headers={**auth, "Upload-Length": str(size + 1), "Upload-Metadata": meta})
    assert bigger.status_code == 413
    created = httpx.post(clip_hub.uploads, headers={**auth, "Upload-Length": str(size), "Upload-Metadata": meta})
    assert created.status_code == 201
    location = created.headers["location"]
    patch = {**auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert httpx.patch(location, content=clip.read_bytes() + b"extra", headers=patch).status_code == 413
    stranger = {**patch, "Authorization": "Bearer " + "y" * 40}
    assert httpx.patch(location, content=clip.read_bytes()[:1000], headers=stranger).status_code == 403
    head = httpx.head(location, headers=auth)
    assert head.headers["upload-offset"] == "0"  # neither wrote a byte
    assert_nothing_stored(clip_hub, request.request_id)


def test_a_clip_larger_than_the_hub_takes_is_refused_with_413(tmp_path: Path, clip: Path):
    hub = ClipHub(tmp_path, clip_max_bytes=1024 * 1024).start()
    try:
        box = enrol_box(hub.hub)
        request = approved_request(hub.hub, box)
        manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
        assert clip.stat().st_size > 1024 * 1024
        with pytest.raises(UploadRefused) as refused:
            upload(hub, request, clip, manifest)
        assert refused.value.status == 413 and "at most 1048576" in refused.value.detail
        assert_nothing_stored(hub, request.request_id)
        assert hub.staged() == []
    finally:
        hub.stop()


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_the_box_uploads_over_https_trusting_the_hub_ca_it_was_given(tmp_path: Path, clip: Path):
    import uvicorn

    from hub.app import create_app
    from sim.process import free_port
    from tests.edge_support import wait_for

    hub = ClipHub(tmp_path)
    issued, key_pem = hub.hub.ca.issue_server(["127.0.0.1"])
    (tmp_path / "server.pem").write_bytes(issued.pem)
    (tmp_path / "server.key").write_bytes(key_pem)
    (tmp_path / "ca.pem").write_bytes(hub.hub.ca.pem)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(hub.settings, hub.hub), host="127.0.0.1", port=port,
                                           log_level="warning", ssl_certfile=str(tmp_path / "server.pem"),
                                           ssl_keyfile=str(tmp_path / "server.key")))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=20, what="https hub up")
        box = enrol_box(hub.hub)
        request = approved_request(hub.hub, box)
        manifest = write_manifest(tmp_path / "manifest.json", signed_manifest(box, request, clip))
        url = f"https://127.0.0.1:{port}/api/uploads"
        with pytest.raises(UploadInterrupted, match="cannot be reached"):  # the system's CAs do not know the hub
            upload(hub, request, clip, manifest, url=url)
        assert upload(hub, request, clip, manifest, url=url, ca_path=tmp_path / "ca.pem").startswith("https://")
        assert hub.clip_of(request.request_id).verified
    finally:
        server.should_exit = True
        thread.join(timeout=15)
