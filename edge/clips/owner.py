"""The owner's own export (`canvass-edge clip`): a verified clip for the police on a USB stick, without the hub.

It runs beside the agent: it opens the index read-only on its own connection and cuts only closed
segments. The clip is signed like one the hub asked for (no request, grant or audit index), so
`canvass-audit verify-clip` checks it the same way. That needs the box's enrolment key and certificate: an
unenrolled box has nothing a verifier could trust, so it refuses and says how to enrol. The owner's privacy
masks, when the camera's policy has any, are painted out here too (masks are what the owner never shares).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge.clips.cut import Polygon
from edge.clips.export import ExportedClip, export_clip_blocking
from edge.clips.manifest import BoxSigner
from edge.clips.plan import iso
from edge.config import EdgeConfig
from edge.errors import ClipError
from edge.recording.index import SegmentIndex
from edge.recording.storage import Layout
from provisioning.identity import Identity, IdentityError
from wire.consent import ConsentError

NOT_ENROLLED = ("this box is not enrolled with a hub, so it has no key to sign the clip's manifest with: a manifest "
                "is signed with the key and certificate the box receives at enrolment, which is what lets anyone "
                "check the clip came unchanged from this box. Enrol it (`canvass-provision enroll`) and export "
                "again; until then `canvass-edge segments` lists the recorded files and their hashes")


def box_identity(layout: Layout) -> Identity:
    """The enrolled box's identity; ClipError saying what to do if there is none (or it is damaged)."""
    if not Identity.exists(layout.identity):
        raise ClipError(NOT_ENROLLED)
    try:
        return Identity.load(layout.identity)
    except IdentityError as exc:
        raise ClipError(f"the box's identity cannot sign a clip: {exc}") from None


def owner_masks(layout: Layout, identity: Identity, camera: str) -> Sequence[Polygon]:
    """The privacy masks of `camera`'s policy as kept on the box (none if no policy was ever received)."""
    if not layout.consent_path.exists():
        return []
    from edge.consent.guard import ConsentGuard  # the consent store: only needed here

    guard = ConsentGuard(layout.consent_path, grant_key_pem=identity.grant_public_key_pem)
    try:
        document = guard.policy(camera)
    except ConsentError as exc:
        raise ClipError(f"the policy of camera {camera} kept on the box does not verify ({exc}); its privacy "
                        "masks cannot be known, so no clip is exported") from None
    finally:
        guard.close()
    return document.policy.privacy_masks if document is not None else []


def owner_export(config: EdgeConfig, camera: str, *, from_us: int, to_us: int, out_dir: Path) -> ExportedClip:
    """Export `camera`'s [from_us, to_us) into out_dir (clip.mp4 + manifest.json). Blocking."""
    config.camera(camera)  # ConfigError naming the cameras there are
    layout = Layout(config.appliance.data_dir)
    identity = box_identity(layout)
    signer = BoxSigner.from_identity(identity)
    masks = owner_masks(layout, identity, camera)
    if not layout.index_path.exists():
        raise ClipError(f"nothing recorded yet: {layout.index_path} does not exist (has `canvass-edge run` started?)")
    index = SegmentIndex(layout.index_path, readonly=True)
    try:
        return export_clip_blocking(index=index, recordings_dir=layout.recordings, signer=signer, camera=camera,
                                    from_us=from_us, to_us=to_us, out_dir=out_dir, masks=masks)
    finally:
        index.close()


def summary(exported: ExportedClip) -> list[str]:
    """What the owner is told about the export, one line each."""
    cut, manifest = exported.cut, exported.manifest
    lines = [f"clip      {exported.clip_path} ({exported.clip_bytes} bytes, SHA-256 {exported.clip_sha256})",
             f"manifest  {exported.manifest_path} (signed by {manifest.device_id})",
             f"camera    {cut.camera}: {iso(cut.actual_from_us)} to {iso(cut.actual_to_us)}, {cut.frames} frames "
             f"from {len(cut.segments)} recorded segments"]
    if cut.masked:
        lines.append("masked    the camera's privacy masks are painted out (the picture was re-encoded)")
    lines += [f"gap       {iso(g.start_us)} to {iso(g.end_us)}: {g.reason}" for g in cut.gaps]
    lines.append("check it  canvass-audit verify-clip CLIP MANIFEST [--ca the hub's CA certificate]")
    return lines
