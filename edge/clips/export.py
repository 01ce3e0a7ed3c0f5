"""Export a clip: cut it from the buffer, hash it, sign its manifest with the box's key, write the pair.

`export_clip` is what the agent calls for an approved request (from the event loop: the work runs in a
thread); `export_clip_blocking` is the same for a caller already off the loop (the owner's `canvass-edge
clip`). On any failure nothing is left in the directory but what was there before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from edge.clips.cut import Cut, Polygon, cut_clip
from edge.clips.manifest import Answering, BoxSigner, build_manifest, prepare_directory, publish
from edge.clips.plan import check_window, to_us
from edge.recording.index import SegmentIndex
from provisioning.identity import Identity
from wire.evidence import Manifest, file_sha256, sign_manifest


@dataclass(frozen=True, slots=True)
class ExportedClip:
    """A clip and its signed manifest, written under their final names."""

    clip_path: Path
    manifest_path: Path
    cut: Cut
    manifest: Manifest
    clip_sha256: str
    clip_bytes: int


async def export_clip(*, index: SegmentIndex, recordings_dir: Path, identity: Identity, camera: str,
                      window_from: dt.datetime, window_to: dt.datetime, out_dir: Path,
                      masks: Sequence[Polygon] | None = None, request_id: int | None = None,
                      grant_id: UUID | None = None, audit_index: int | None = None,
                      clock: Callable[[], float] = time.time) -> ExportedClip:
    """Cut `camera`'s [window_from, window_to) into out_dir/clip.mp4 with out_dir/manifest.json signed by the
    box; `masks` (the owner's privacy masks, 0..1 polygons) make it the masked, re-encoded clip. Raises
    edge.errors.ClipError (NothingRecorded, StillRecording) with a sentence saying why not."""
    return await asyncio.to_thread(
        _export_with_identity, index=index, recordings_dir=recordings_dir, identity=identity, camera=camera,
        from_us=to_us(window_from), to_us=to_us(window_to), out_dir=out_dir, masks=masks or (),
        answering=Answering(request_id, grant_id, audit_index), clock=clock)


def _export_with_identity(*, identity: Identity, **kwargs) -> ExportedClip:
    return export_clip_blocking(signer=BoxSigner.from_identity(identity), **kwargs)


def export_clip_blocking(*, index: SegmentIndex, recordings_dir: Path, signer: BoxSigner, camera: str,
                         from_us: int, to_us: int, out_dir: Path, masks: Sequence[Polygon] = (),
                         answering: Answering = Answering(),
                         clock: Callable[[], float] = time.time) -> ExportedClip:
    """`export_clip` in the calling thread (blocking: cuts, hashes and fsyncs)."""
    check_window(from_us, to_us)
    made = not out_dir.exists()
    tmp = prepare_directory(out_dir)
    try:
        cut = cut_clip(index, recordings_dir, camera, from_us=from_us, to_us=to_us, out_path=tmp, masks=masks)
        digest, size = file_sha256(tmp)
        created_at = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
        manifest = build_manifest(cut, device_id=signer.device_id, certificate_pem=signer.certificate_pem,
                                  clip_sha256=digest, clip_bytes=size, created_at=created_at, answering=answering)
        clip_path, manifest_path = publish(out_dir, tmp, sign_manifest(manifest, signer.key))
    finally:
        tmp.unlink(missing_ok=True)
        if made and not any(out_dir.iterdir()):  # a failed export leaves no empty directory it made
            out_dir.rmdir()
    return ExportedClip(clip_path, manifest_path, cut, manifest, digest, size)
