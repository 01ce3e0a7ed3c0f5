"""The court bundle: downloaded from the real hub (uvicorn on loopback) after real uploads, verified offline by
`canvass-audit verify-bundle`, and every kind of tampering caught and named."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edge.clips.upload import upload_clip
from hub import audit
from wire.checkpoint import raw_public
from tests.clip_support import REPO, ClipHub, approved_request, enrol_box, noisy_mp4, signed_manifest, write_manifest


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, sim_cache: Path):
    """(bundle path, the hub's audit key in base64, the request ids) for a case with two delivered clips."""
    root = tmp_path_factory.mktemp("bundle")
    hub = ClipHub(root).start()
    try:
        clip, box = noisy_mp4(sim_cache), enrol_box(hub.hub)
        requests = [approved_request(hub.hub, box) for _ in range(2)]
        for request in requests:
            _footage_service_entries(hub, request)
            manifest = write_manifest(root / f"m{request.request_id}.json", signed_manifest(box, request, clip))
            upload_clip(clip_path=clip, manifest_path=manifest, url=hub.uploads, token=request.token,
                        request_id=request.request_id)
        path = root / "bundle.zip"
        with hub.client(hub.signed_in("analyst", "analyst")) as c, c.stream(
                "GET", "/api/cases/2026-000123/bundle") as r:
            assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
            assert "attachment" in r.headers["content-disposition"]
            with path.open("wb") as out:
                for chunk in r.iter_bytes():
                    out.write(chunk)
        key = base64.b64encode(raw_public(hub.hub.audit_key.public_key())).decode()
        assert [e.actor for e in hub.audit_entries("case.bundle")] == ["analyst"]
        yield path, key, [r.request_id for r in requests]
    finally:
        hub.stop()


def _footage_service_entries(hub: ClipHub, request) -> None:
    """The entries the footage-request service writes when a request is made and the owner decides."""
    with hub.hub.db.session() as session:
        for action, actor in (("footage.request", "analyst"), ("footage.decision", "owner-1")):
            audit.append(session, actor=actor, action=action, outcome=audit.Outcome.SUCCESS,
                         object=f"request:{request.request_id}", case_number=request.case_number,
                         window_from=request.window_from.isoformat(), window_to=request.window_to.isoformat())


def verify(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify-bundle", str(path), *extra],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def rewritten(source: Path, out: Path, change) -> Path:
    """A copy of the bundle with `change(name, data) -> data` applied to every member (re-zipped cleanly)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            new.writestr(info, change(info.filename, old.read(info.filename)))
    return out


def test_the_bundle_holds_clips_manifests_certificates_proofs_and_a_readme(bundle):
    path, key, requests = bundle
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        index = json.loads(z.read("bundle.json"))
        readme = z.read("README.txt").decode()
        entries = [json.loads(line) for line in z.read("audit/entries.jsonl").decode().splitlines()]
    for request_id in requests:
        assert {f"clips/request-{request_id}/clip.mp4", f"clips/request-{request_id}/manifest.json"} <= names
    assert "certificates/hub-ca.pem" in names and "audit/checkpoint.txt" in names
    assert index["audit_public_key"] == key and len(index["clips"]) == 2
    actions = [json.loads(e["entry"])["action"] for e in entries]
    assert actions.count("footage.request") == actions.count("footage.decision") == actions.count("clip.upload") == 2
    assert "case.bundle" in actions
    assert "canvass-audit verify-bundle" in readme and "compare it with the one the city publishes" in readme


def test_the_bundle_verifies_offline_end_to_end_with_the_pinned_key(bundle):
    path, key, _ = bundle
    done = verify(path, "--key", key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("VERIFIED: 2 clip(s)") and "the audit key given" in done.stdout


def test_a_flipped_byte_in_a_clip_is_caught_and_named(bundle, tmp_path: Path):
    path, key, requests = bundle
    target = f"clips/request-{requests[0]}/clip.mp4"

    def flip(name: str, data: bytes) -> bytes:
        return data[:5000] + bytes([data[5000] ^ 1]) + data[5001:] if name == target else data

    done = verify(rewritten(path, tmp_path / "tampered.zip", flip), "--key", key)
    assert done.returncode == 1
    assert f"FAILED: clip of request {requests[0]} ({target}): the clip's SHA-256 is" in done.stderr
    assert f"request {requests[1]}" not in done.stderr  # the other clip still verifies


def test_a_byte_flipped_in_the_zip_itself_is_caught(bundle, tmp_path: Path):
    path, key, requests = bundle
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(f"clips/request-{requests[1]}/clip.mp4")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 200 + 4000] ^= 0x01  # inside the stored clip's data
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(data)
    done = verify(damaged, "--key", key)
    assert done.returncode == 1 and "damaged inside the zip" in done.stderr and f"request {requests[1]}" in done.stderr


def test_an_edited_audit_entry_is_caught_and_named(bundle, tmp_path: Path):
    path, key, requests = bundle
    edited: dict[str, int] = {}

    def edit(name: str, data: bytes) -> bytes:
        if name != "audit/entries.jsonl":
            return data
        lines = data.decode().splitlines()
        for i, line in enumerate(lines):
            record = json.loads(line)
            entry = json.loads(record["entry"])
            if entry["action"] == "footage.decision" and entry["object"] == f"request:{requests[0]}":
                entry["actor"] = "someone-else"
                record["entry"] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
                lines[i] = json.dumps(record)
                edited["index"] = record["index"]
        return ("\n".join(lines) + "\n").encode()

    done = verify(rewritten(path, tmp_path / "edited.zip", edit), "--key", key)
    assert done.returncode == 1
    assert f"audit entry {edited['index']} (footage.decision request:{requests[0]}) is not in the log the " \
           "checkpoint signs" in done.stderr
    assert "clip of request" not in done.stderr  # only what was edited is named


def test_a_clip_without_its_upload_entry_is_caught(bundle, tmp_path: Path):
    path, key, requests = bundle

    def drop(name: str, data: bytes) -> bytes:
        if name != "audit/entries.jsonl":
            return data
        keep = [line for line in data.decode().splitlines()
                if not ('"clip.upload"' in json.loads(line)["entry"]
                        and f'"request:{requests[1]}"' in json.loads(line)["entry"])]
        return ("\n".join(keep) + "\n").encode()

    done = verify(rewritten(path, tmp_path / "dropped.zip", drop), "--key", key)
    assert done.returncode == 1
    assert f"no proven audit entry records the upload of request {requests[1]}'s clip" in done.stderr


def test_a_bundle_signed_with_another_key_fails_against_the_pinned_one(bundle):
    path, _, _ = bundle
    other = base64.b64encode(bytes(range(32))).decode()
    done = verify(path, "--key", other)
    assert done.returncode == 1 and "not the one given with --key" in done.stderr
