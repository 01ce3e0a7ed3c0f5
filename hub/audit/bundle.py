"""`canvass-audit verify-bundle BUNDLE [--key AUDIT_PUBLIC_KEY]`: check a case's court bundle offline, end to
end, with nothing but the file (and the city's published audit key).

Checks: the checkpoint is signed by the audit key (the bundle's, which must equal `--key` when given); every
audit entry's inclusion proof leads to the checkpoint's root; every clip verifies against its box-signed
manifest with the bundled hub CA (`wire.evidence.verify_clip`: signature, certificate chain and validity,
device, SHA-256, size), its bundled certificate is the manifest's, and its manifest names a request whose
successful upload of that very clip (SHA-256) is among the proven entries. Every failure is named; exit 0
only if there is none.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import ValidationError

from wire import bundle as wb
from wire import checkpoint as cp
from wire import merkle
from wire.audit import AuditEntry, AuditFormatError
from wire.checkpoint import raw_public
from wire.evidence import ManifestError, parse_signed, verify_clip


class BundleProblem(Exception):
    """The bundle cannot be checked at all (not a zip, no index, no key): the message says why."""


@dataclass
class BundleVerdict:
    problems: list[str] = field(default_factory=list)
    clips: int = 0
    entries: int = 0
    checkpoint_size: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def read_key(text: str) -> bytes:
    """The raw Ed25519 key in `text`: base64, or a file holding base64 or a PEM public key."""
    path = Path(text)
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the --key PEM is not an Ed25519 public key")
        return raw_public(key)
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("the --key is not a 32-byte Ed25519 public key")
    return raw


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise BundleProblem(f"{name} is missing from the bundle") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise BundleProblem(f"{name} is damaged inside the zip ({exc})") from None


def _index(archive: zipfile.ZipFile) -> wb.BundleIndex:
    try:
        return wb.BundleIndex.model_validate_json(_read(archive, wb.INDEX))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BundleProblem(f"{wb.INDEX} is not a court bundle index ({'.'.join(map(str, first['loc']))}: "
                            f"{first['msg']})") from None


def _audit_key(index: wb.BundleIndex, pinned: bytes | None) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(index.audit_public_key, validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise BundleProblem("the bundle's audit public key is malformed") from None
    if pinned is not None and raw != pinned:
        raise BundleProblem("the bundle's audit key is not the one given with --key: it does not come from that "
                            "log, or it was re-signed")
    return key


def _checkpoint(archive: zipfile.ZipFile, index: wb.BundleIndex, key: Ed25519PublicKey) -> cp.Checkpoint:
    try:
        return cp.verify(_read(archive, wb.CHECKPOINT).decode(), key, index.audit_key_name, origin=index.audit_origin)
    except (cp.CheckpointError, UnicodeDecodeError) as exc:
        raise BundleProblem(f"{wb.CHECKPOINT} is rejected: {exc}") from None


def _entry(line: str, number: int, checkpoint: cp.Checkpoint) -> AuditEntry:
    """The entry on `line` if its proof leads to the checkpoint's root; BundleProblem naming it otherwise."""
    try:
        record = wb.BundleEntry.model_validate_json(line)
        entry = AuditEntry.parse(record.entry)
        proof = [base64.b64decode(p, validate=True) for p in record.proof]
    except (ValidationError, AuditFormatError, ValueError):
        raise BundleProblem(f"{wb.ENTRIES} line {number} is not an audit entry with its proof") from None
    what = f"audit entry {record.index} ({entry.action} {entry.object})"
    if entry.index != record.index:
        raise BundleProblem(f"{what} says it is entry {entry.index}: it was moved")
    leaf = merkle.leaf_hash(record.entry.encode())
    if not merkle.verify_inclusion(record.index, checkpoint.size, leaf, proof, checkpoint.root):
        raise BundleProblem(f"{what} is not in the log the checkpoint signs ({checkpoint.size} entries): it was "
                            "edited after it was logged, or its proof is not this log's")
    return entry


def _entries(archive: zipfile.ZipFile, checkpoint: cp.Checkpoint, verdict: BundleVerdict) -> list[AuditEntry]:
    """The entries whose inclusion is proven; each one that is not is a problem."""
    proven = []
    lines = _read(archive, wb.ENTRIES).decode(errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            proven.append(_entry(line, number, checkpoint))
        except BundleProblem as problem:
            verdict.problems.append(str(problem))
    if not lines:
        verdict.problems.append("the bundle holds no audit entries: nothing proves the requests or uploads")
    verdict.entries = len(proven)
    return proven


def _extract(archive: zipfile.ZipFile, name: str, directory: Path) -> Path:
    """The member copied out to `directory` in chunks (its CRC checked on the way)."""
    target = directory / "clip.mp4"
    try:
        with archive.open(name) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except KeyError:
        raise BundleProblem(f"{name} is missing from the bundle") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleProblem(f"{name} is damaged inside the zip ({exc}): its bytes changed") from None
    return target


def _uploaded(proven: list[AuditEntry], request_id: int, sha256: str) -> bool:
    return any(e.action == "clip.upload" and e.object == f"request:{request_id}" and e.outcome == "success"
               and e.details.get("sha256") == sha256 for e in proven)


def _clip_problems(archive: zipfile.ZipFile, clip: wb.BundleClip, ca_pem: bytes, proven: list[AuditEntry]
                   ) -> list[str]:
    signed = parse_signed(_read(archive, clip.manifest))
    manifest = signed.read()
    with tempfile.TemporaryDirectory(prefix="canvass-bundle-") as tmp:
        problems = verify_clip(_extract(archive, clip.clip, Path(tmp)), signed, ca_pem, device_id=clip.device_id)
    if _read(archive, clip.certificate).decode(errors="replace") != manifest.certificate_pem:
        problems.append(f"{clip.certificate} is not the certificate the manifest carries")
    if manifest.request_id != clip.request_id:
        problems.append(f"the manifest answers request {manifest.request_id}, the bundle files it under "
                        f"{clip.request_id}")
    if manifest.clip_sha256 != clip.sha256:
        problems.append(f"{wb.INDEX} gives SHA-256 {clip.sha256}; the manifest says {manifest.clip_sha256}")
    if not _uploaded(proven, manifest.request_id, manifest.clip_sha256):
        problems.append(f"no proven audit entry records the upload of request {manifest.request_id}'s clip "
                        f"(clip.upload of request:{manifest.request_id} with SHA-256 {manifest.clip_sha256})")
    return problems


def _clips(archive: zipfile.ZipFile, index: wb.BundleIndex, proven: list[AuditEntry], verdict: BundleVerdict) -> None:
    ca_pem = _read(archive, wb.HUB_CA)
    for clip in index.clips:
        try:
            problems = _clip_problems(archive, clip, ca_pem, proven)
        except (BundleProblem, ManifestError) as exc:
            problems = [str(exc)]
        verdict.problems += [f"clip of request {clip.request_id} ({clip.clip}): {p}" for p in problems]
        verdict.clips += not problems


def verify_bundle(path: Path, pinned_key: bytes | None = None) -> BundleVerdict:
    verdict = BundleVerdict()
    try:
        with zipfile.ZipFile(path) as archive:
            index = _index(archive)
            checkpoint = _checkpoint(archive, index, _audit_key(index, pinned_key))
            verdict.checkpoint_size = checkpoint.size
            proven = _entries(archive, checkpoint, verdict)
            _clips(archive, index, proven, verdict)
    except zipfile.BadZipFile as exc:
        verdict.problems.append(f"not a readable zip: {exc}")
    except BundleProblem as problem:
        verdict.problems.append(str(problem))
    return verdict


def add_parser(sub) -> None:
    """`verify-bundle` on `canvass-audit`'s subcommands."""
    p = sub.add_parser("verify-bundle", help="verify a case's court bundle offline, end to end")
    p.add_argument("bundle", type=Path)
    p.add_argument("--key", default=None, help="the city's published audit public key (base64, or a file with "
                                               "it in base64 or PEM): the bundle's must be this one")


def run(args: argparse.Namespace) -> int:
    try:
        pinned = read_key(args.key) if args.key else None
    except ValueError as exc:
        print(f"canvass-audit: {exc}", file=sys.stderr)
        return 2
    if not args.bundle.is_file():
        print(f"canvass-audit: cannot read {args.bundle}", file=sys.stderr)
        return 2
    verdict = verify_bundle(args.bundle, pinned)
    if verdict.ok:
        pinned_note = "the audit key given" if pinned else "the bundle's own audit key (pin it with --key)"
        print(f"VERIFIED: {verdict.clips} clip(s) against their signed manifests and the hub CA, "
              f"{verdict.entries} audit entries in the log of {verdict.checkpoint_size} entries signed by "
              f"{pinned_note}")
        return 0
    for problem in verdict.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:  # for `python -m hub.audit.bundle`
    parser = argparse.ArgumentParser(prog="canvass-audit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
