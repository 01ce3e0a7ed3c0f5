"""Clips cut on the box from footage a real simulated camera recorded through a real agent, which keeps
recording while the clips are cut (edge.clips, `canvass-edge clip`, `canvass-audit verify-clip`)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from edge.clips.export import ExportedClip, export_clip
from edge.clips.plan import iso, to_datetime
from edge.errors import ClipError, NothingRecorded, StillRecording
from edge.recording.index import SegmentIndex
from hub.audit.verify import main as audit_main
from provisioning.keys import new_key
from tests.cut_support import (Box, clip_frames, clip_packet_bytes, enrol, expected_frames, extradata,
                                ffprobe_stream, record_with_a_gap, recorded_packet_bytes, top_level_boxes)
from wire.evidence import SignedManifest, parse_signed, sign_manifest

S = 1_000_000
LEFT_HALF = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]


@pytest.fixture(scope="module")
def box(tmp_path_factory, sim_cache: Path):
    box = record_with_a_gap(tmp_path_factory.mktemp("box"), sim_cache)
    yield box
    box.agent.terminate()
    box.camera.close()


def export(box: Box, out: Path, from_us: int, to_us: int, **kwargs) -> ExportedClip:
    index = box.agent.index()  # its own read-only connection, as the CLI's
    try:
        return asyncio.run(export_clip(index=index, recordings_dir=box.recordings, identity=box.identity,
                                       camera="cam1", window_from=to_datetime(from_us), window_to=to_datetime(to_us),
                                       out_dir=out, **kwargs))
    finally:
        index.close()


@pytest.fixture(scope="module")
def across_the_gap(box: Box, tmp_path_factory) -> ExportedClip:
    """A clip from the middle of the last segment before the gap to the middle of the second one after it."""
    last, second = box.before_gap[-1], box.after_gap[1]
    from_us, to_us = (last.start_us + last.end_us) // 2, (second.start_us + second.end_us) // 2
    return export(box, tmp_path_factory.mktemp("gap"), from_us, to_us, request_id=7,
                  grant_id="5b0f8a4e-3c1d-4f7e-9a2b-1c2d3e4f5a6b", audit_index=41)


def verify(capsys, *args: str) -> tuple[int, str, str]:
    code = audit_main(["verify-clip", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_clip_across_a_segment_boundary_is_the_recorded_packets_unchanged(box: Box, tmp_path: Path):
    first, second = box.before_gap[0], box.before_gap[1]
    from_us, to_us = first.start_us + 1_300_000, second.start_us + 1_000_000  # a keyframe a second: at 1 s
    exported = export(box, tmp_path / "out", from_us, to_us)
    clip, cut = exported.clip_path, exported.cut

    expected = expected_frames(box.recordings, [first, second], from_us, to_us)
    assert expected[0].keyframe and from_us - S < expected[0].at_us <= from_us
    assert [digest for _, digest in clip_frames(clip)] == [f.digest for f in expected]
    assert clip_packet_bytes(clip) == recorded_packet_bytes(box.recordings, [first, second], from_us, to_us)
    assert extradata(clip) == extradata(box.recordings / first.path), "the camera's own SPS/PPS"
    assert cut.actual_from_us == expected[0].at_us and cut.frames == len(expected)
    assert 0 < cut.actual_to_us - expected[-1].at_us <= 70_000  # the last frame's end
    assert [(s.start_us, s.sha256, s.bytes) for s in cut.segments] == \
        [(s.start_us, s.sha256, s.bytes) for s in (first, second)]
    assert cut.gaps == () and not cut.masked

    probe = ffprobe_stream(clip)
    assert (probe["codec_name"], probe["codec_tag_string"]) == ("h264", "avc1")
    boxes = top_level_boxes(clip)
    assert boxes.index("moov") < boxes.index("mdat"), f"not faststart: {boxes}"
    manifest = exported.manifest
    assert manifest.request_id is None and manifest.device_id == box.identity.device_id
    assert (exported.clip_path.parent / "manifest.json").exists()
    assert sorted(p.name for p in exported.clip_path.parent.iterdir()) == ["clip.mp4", "manifest.json"]


def test_a_clip_across_the_gap_keeps_the_hole_in_its_timeline_and_lists_the_gap(box: Box, across_the_gap):
    cut, clip = across_the_gap.cut, across_the_gap.clip_path
    sources = [box.before_gap[-1], *box.after_gap[:2]]
    expected = expected_frames(box.recordings, sources, cut.requested_from_us, cut.requested_to_us)
    got = clip_frames(clip)
    assert [digest for _, digest in got] == [f.digest for f in expected]
    # clip time t is recording time actual_from + t, on both sides of the gap (to the 90 kHz tick)
    assert all(abs(t - (f.at_us - cut.actual_from_us)) <= 12 for (t, _), f in zip(got, expected))

    index = box.agent.index()
    (gap,) = [g for g in index.gaps("cam1") if g.start_us < box.after_gap[0].start_us]
    index.close()
    assert [(g.start_us, g.end_us, g.reason) for g in cut.gaps] == [(gap.start_us, gap.end_us, gap.reason)]
    assert gap.end_us - gap.start_us > 2 * S
    assert float(ffprobe_stream(clip)["format"]["duration"]) == \
        pytest.approx((cut.actual_to_us - cut.actual_from_us) / S, abs=0.07)
    manifest = across_the_gap.manifest
    assert [(g.start, g.end, g.reason) for g in manifest.gaps] == \
        [(to_datetime(gap.start_us), to_datetime(gap.end_us), gap.reason)]
    assert (manifest.request_id, str(manifest.grant_id), manifest.audit_index) == \
        (7, "5b0f8a4e-3c1d-4f7e-9a2b-1c2d3e4f5a6b", 41)
    assert [s.start for s in manifest.segments] == [to_datetime(s.start_us) for s in sources]


def test_verify_clip_passes_on_a_fresh_export_and_names_device_camera_window_and_gaps(box, across_the_gap, capsys,
                                                                                       tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(box.ca_pem)
    code, out, _ = verify(capsys, across_the_gap.clip_path, across_the_gap.manifest_path, "--ca", ca)
    cut = across_the_gap.cut
    assert code == 0 and out.startswith("OK")
    assert box.identity.device_id in out and "camera:  cam1" in out
    assert f"{iso(cut.actual_from_us)} to {iso(cut.actual_to_us)}" in out
    gap = cut.gaps[0]
    assert f"gap:     {iso(gap.start_us)} to {iso(gap.end_us)}: {gap.reason}" in out
    code, out, _ = verify(capsys, across_the_gap.clip_path, across_the_gap.manifest_path)
    assert code == 0 and "not checked against a CA" in out


def test_verify_clip_names_a_flipped_byte_in_the_clip(across_the_gap, capsys, tmp_path):
    clip = tmp_path / "clip.mp4"
    data = bytearray(across_the_gap.clip_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    clip.write_bytes(data)
    code, _, err = verify(capsys, clip, across_the_gap.manifest_path)
    assert code == 1
    assert err.splitlines() == ["FAILED: the clip does not verify",
                                f"problem: the clip's SHA-256 is {_sha(clip)}; the manifest says "
                                f"{across_the_gap.clip_sha256}"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rewrite(signed: SignedManifest, path: Path, **changes) -> Path:
    path.write_text(SignedManifest(**{**signed.model_dump(), **changes}).model_dump_json())
    return path


def test_verify_clip_names_a_changed_byte_or_field_in_the_manifest(across_the_gap, capsys, tmp_path):
    signed = parse_signed(across_the_gap.manifest_path.read_bytes())
    text = signed.manifest
    digest = across_the_gap.clip_sha256
    tampered = {
        "a field": text.replace('"masked":false', '"masked":true'),
        "a byte": text.replace(digest, ("0" if digest[0] != "0" else "1") + digest[1:]),
    }
    for what, changed in tampered.items():
        assert changed != text, what
        code, _, err = verify(capsys, across_the_gap.clip_path, _rewrite(signed, tmp_path / "m.json", manifest=changed))
        assert code == 1, what
        assert "problem: the manifest's signature does not verify with the box certificate it names" in err, what
    flipped = bytearray(across_the_gap.manifest_path.read_bytes())
    flipped[flipped.index(b'"signature":"') + 20] ^= 0x01
    (tmp_path / "flipped.json").write_bytes(flipped)
    code, _, err = verify(capsys, across_the_gap.clip_path, tmp_path / "flipped.json")
    assert code == 1 and "signature does not verify" in err
    (tmp_path / "broken.json").write_bytes(across_the_gap.manifest_path.read_bytes()[:-30])
    code, _, err = verify(capsys, across_the_gap.clip_path, tmp_path / "broken.json")
    assert code == 1 and "problem: the manifest file is not a signed clip manifest" in err


def test_verify_clip_names_a_manifest_signed_by_another_key(across_the_gap, capsys, tmp_path):
    forged = sign_manifest(across_the_gap.manifest, new_key())  # the box's certificate, someone else's key
    (tmp_path / "forged.json").write_text(forged.model_dump_json())
    code, _, err = verify(capsys, across_the_gap.clip_path, tmp_path / "forged.json")
    assert code == 1
    assert err.splitlines()[1:] == ["problem: the manifest's signature does not verify with the box certificate it "
                                    "names (the manifest was changed after signing, or signed by another key)"]


def test_verify_clip_names_a_certificate_from_another_ca(across_the_gap, capsys, tmp_path):
    other, _ = enrol(tmp_path / "other-box", tmp_path / "other-ca")
    code, _, err = verify(capsys, across_the_gap.clip_path, across_the_gap.manifest_path, "--ca", other.ca)
    assert code == 1
    assert err.splitlines()[1:] == ["problem: the box certificate was not issued by the given CA"]


def test_verify_clip_refuses_files_it_cannot_read_with_exit_2(across_the_gap, capsys, tmp_path):
    (tmp_path / "not-a-cert.pem").write_text("hello")
    for args, said in (((tmp_path / "missing.mp4", across_the_gap.manifest_path), "cannot read"),
                       ((across_the_gap.clip_path, tmp_path / "missing.json"), "cannot read"),
                       ((across_the_gap.clip_path, across_the_gap.manifest_path, "--ca", tmp_path / "nope.pem"),
                        "cannot read"),
                       ((across_the_gap.clip_path, across_the_gap.manifest_path, "--ca", tmp_path / "not-a-cert.pem"),
                        "is not a PEM certificate")):
        code, out, err = verify(capsys, *args)
        assert code == 2 and said in err and "Traceback" not in err and out == ""


def test_a_window_with_nothing_recorded_says_so_and_what_was_recorded_nearest(box: Box, tmp_path):
    index = box.agent.index()
    (gap,) = [g for g in index.gaps("cam1") if g.start_us < box.after_gap[0].start_us]
    index.close()
    inside = (gap.start_us + 200_000, gap.end_us - 200_000)
    with pytest.raises(NothingRecorded) as caught:
        export(box, tmp_path / "none", *inside)
    assert str(caught.value) == (f"nothing of camera cam1 is recorded from {iso(inside[0])} to {iso(inside[1])}; "
                                 f"the last recording before it ended at {iso(gap.start_us)} and recording resumed "
                                 f"at {iso(gap.end_us)}")
    assert not (tmp_path / "none").exists(), "nothing left behind"
    long_ago = box.before_gap[0].start_us - 3600 * S
    with pytest.raises(NothingRecorded, match="recording resumed at " + iso(box.before_gap[0].start_us)):
        export(box, tmp_path / "old", long_ago, long_ago + 60 * S)


def test_a_window_reaching_into_the_segment_being_written_is_refused(box: Box, tmp_path):
    index = box.agent.index()
    (open_segment,) = [s for s in index.segments("cam1", from_us=box.after_gap[-1].end_us) if s.state == "open"]
    index.close()
    with pytest.raises(StillRecording, match="still being recorded"):
        export(box, tmp_path / "live", box.after_gap[-1].start_us, open_segment.start_us + 500_000)
    assert not (tmp_path / "live").exists()


def test_a_segment_changed_since_it_closed_is_left_out_and_listed_as_a_gap(box: Box, tmp_path):
    copy = tmp_path / "copy"
    recordings = copy / "recordings"
    segments = box.before_gap[:3]
    for s in segments:
        (recordings / s.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(box.recordings / s.path, recordings / s.path)
    copy_index(box, copy / "index.sqlite3")
    damaged = recordings / segments[1].path
    data = bytearray(damaged.read_bytes())
    data[-100] ^= 0x01
    damaged.write_bytes(data)
    box_copy = Box(box.agent, box.camera, box.identity, box.ca_pem, box.grant_key, [], [])
    index = SegmentIndex(copy / "index.sqlite3", readonly=True)
    try:
        exported = asyncio.run(export_clip(
            index=index, recordings_dir=recordings, identity=box_copy.identity, camera="cam1",
            window_from=to_datetime(segments[0].start_us), window_to=to_datetime(segments[2].end_us - 1),
            out_dir=tmp_path / "out"))
    finally:
        index.close()
    assert [s.start_us for s in exported.cut.segments] == [segments[0].start_us, segments[2].start_us]
    assert [(g.start_us, g.end_us, g.reason) for g in exported.cut.gaps] == [
        (segments[1].start_us, segments[1].end_us,
         "recorded segment changed since it was closed (its SHA-256 no longer matches the index)")]


def test_a_finished_export_is_never_overwritten(across_the_gap, box: Box):
    cut = across_the_gap.cut
    before = across_the_gap.manifest_path.read_bytes()
    with pytest.raises(ClipError, match="already holds an exported clip"):
        export(box, across_the_gap.clip_path.parent, cut.requested_from_us, cut.requested_to_us)
    assert across_the_gap.manifest_path.read_bytes() == before


def test_a_camera_with_privacy_masks_gets_a_masked_reencoded_clip(box: Box, tmp_path, capsys):
    first = box.before_gap[0]
    from_us, to_us = first.start_us, first.start_us + 1_500_000
    exported = export(box, tmp_path / "masked", from_us, to_us, masks=[LEFT_HALF])
    assert exported.manifest.masked and exported.cut.masked
    expected = expected_frames(box.recordings, [first], from_us, to_us)
    probe = ffprobe_stream(exported.clip_path)
    assert (probe["codec_name"], probe["codec_tag_string"], probe["pix_fmt"]) == ("h264", "avc1", "yuv420p")
    boxes = top_level_boxes(exported.clip_path)
    assert boxes.index("moov") < boxes.index("mdat")
    with av.open(str(exported.clip_path)) as container:
        pictures = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(pictures) == len(expected)
    width = pictures[0].shape[1]
    for picture in pictures:
        assert picture[:, : width // 2 - 8].max() <= 24, "the masked half is not dark"
        assert np.mean(picture[:, width // 2 + 8:]) > 40, "the unmasked half went dark too"
    assert verify(capsys, exported.clip_path, exported.manifest_path)[0] == 0


def copy_index(box: Box, target: Path) -> None:
    """A consistent copy of the running agent's index (SQLite's backup: the WAL's pages included)."""
    source = sqlite3.connect(f"file:{box.agent.data_dir / 'index.sqlite3'}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", "clip", *args], capture_output=True, text=True,
                          timeout=120)


def test_the_clip_command_exports_a_verifiable_clip_while_the_agent_records(box: Box, tmp_path):
    assert box.agent.process.poll() is None, "the agent is running"
    first, last = box.before_gap[0], box.after_gap[0]
    out = tmp_path / "usb"
    done = run_cli("--config", str(box.agent.config), "--camera", "cam1", "--from", iso(first.start_us + 500_000),
                   "--to", iso(last.end_us), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "manifest" in done.stdout and "gap " in done.stdout
    signed = parse_signed((out / "manifest.json").read_bytes())
    manifest = signed.read()
    assert manifest.request_id is None and manifest.grant_id is None and manifest.camera == "cam1"
    assert len(manifest.gaps) == 1 and not manifest.masked
    check = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify-clip", str(out / "clip.mp4"),
                            str(out / "manifest.json"), "--ca", str(box.identity.ca)], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.startswith("OK"), check.stderr


def test_the_clip_command_paints_the_masks_of_the_cameras_policy(box: Box, tmp_path):
    from edge.consent.guard import ConsentGuard
    from tests.owner_support import SoftwareAuthenticator, pair_at_box
    from wire import consent as c

    document = c.PolicyDocument(device_id=box.identity.device_id, camera="cam1", version=1,
                                issued_at=to_datetime(box.before_gap[0].start_us),
                                policy=c.Policy(sharing="request_only", privacy_masks=[LEFT_HALF]))
    data_dir = tmp_path / "data"  # the same recordings and identity, and a consent store with that policy
    data_dir.mkdir()
    (data_dir / "recordings").symlink_to(box.recordings)
    (data_dir / "identity").symlink_to(box.identity.directory)
    copy_index(box, data_dir / "index.sqlite3")
    guard = ConsentGuard(data_dir / "consent.sqlite3", device_id=box.identity.device_id, cameras=["cam1"])
    owner = SoftwareAuthenticator()
    pair_at_box(guard, owner)
    guard.accept_policy(owner.sign(c.canonical(document)))
    guard.close()
    config = tmp_path / "edge.toml"
    config.write_text(box.agent.config.read_text().replace(str(box.agent.data_dir), str(data_dir)))
    first = box.before_gap[0]
    done = run_cli("--config", str(config), "--camera", "cam1", "--from", iso(first.start_us),
                   "--to", iso(first.start_us + S), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "privacy masks are painted out" in done.stdout
    assert parse_signed((tmp_path / "out" / "manifest.json").read_bytes()).read().masked


def test_the_clip_command_says_plainly_what_is_wrong(box: Box, tmp_path):
    first = box.before_gap[0]
    window = ["--from", iso(first.start_us), "--to", iso(first.end_us)]
    config = ["--config", str(box.agent.config)]
    unenrolled = tmp_path / "unenrolled.toml"
    unenrolled.write_text(box.agent.config.read_text().replace(str(box.agent.data_dir), str(tmp_path / "empty")))
    cases = {
        "unknown camera": (["--camera", "cam9", *window], "no camera named 'cam9' (have: cam1)"),
        "end before start": (["--camera", "cam1", "--from", iso(first.end_us), "--to", iso(first.start_us)],
                             "ends (" + iso(first.start_us) + ") at or before it starts"),
        "nothing recorded": (["--camera", "cam1", "--from", "2020-01-01T00:00:00", "--to", "2020-01-01T00:10:00"],
                             "nothing of camera cam1 is recorded from 2020-01-01T00:00:00Z to 2020-01-01T00:10:00Z; "
                             f"recording resumed at {iso(first.start_us)}"),
        "bad time": (["--camera", "cam1", "--from", "yesterday", "--to", iso(first.end_us)], "bad time"),
        "no end": (["--camera", "cam1", "--from", iso(first.start_us)], "needs both --from and --to"),
    }
    for what, (args, said) in cases.items():
        out = tmp_path / what.replace(" ", "-")
        done = run_cli(*config, *args, "--out", str(out))
        assert done.returncode == 2, what
        assert said in done.stderr and "Traceback" not in done.stderr, (what, done.stderr)
        assert not out.exists(), f"{what}: a directory was left behind"
    done = run_cli("--config", str(unenrolled), "--camera", "cam1", *window, "--out", str(tmp_path / "u"))
    assert done.returncode == 2 and "this box is not enrolled with a hub" in done.stderr
    assert "canvass-provision enroll" in done.stderr


def test_chromium_plays_a_clip_through_its_gap_to_the_end(across_the_gap, tmp_path, browser):
    page_file = tmp_path / "play.html"
    shutil.copy(across_the_gap.clip_path, tmp_path / "clip.mp4")
    page_file.write_text('<video id="v" src="clip.mp4" muted></video>')
    script = ("() => new Promise(done => { const v = document.getElementById('v'); v.playbackRate = 4;"
              " v.onended = () => done([v.currentTime, v.duration, v.videoWidth,"
              " v.getVideoPlaybackQuality().totalVideoFrames]); v.onerror = () => done(['error', v.error.message]);"
              " v.play(); })")
    page = browser.new_page()
    page.goto(page_file.as_uri())
    ended_at, duration, width, frames = page.evaluate(script)
    cut = across_the_gap.cut
    assert width == 1920
    assert duration == pytest.approx((cut.actual_to_us - cut.actual_from_us) / S, abs=0.1)
    assert ended_at == pytest.approx(duration, abs=0.1)
    assert frames >= cut.frames * 0.9, f"{frames} of {cut.frames} frames shown"
