"""`canvass-audit verify-clip CLIP MANIFEST [--ca CA_CERT]`, the part that reads the files and words the verdict.

`wire.evidence.verify_clip` does the checking; this reads the three files (a file that cannot be read at
all is `UnreadableFile`, which the command reports as a usage error), and turns the result into lines: what
the clip is (device, camera, actual window, gaps) when it verifies, or every problem, one a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from wire.evidence import Manifest, ManifestError, parse_signed, verify_clip


class UnreadableFile(ValueError):
    """A file given to verify-clip cannot be read, or the CA file holds no certificate; says which."""


@dataclass(frozen=True)
class ClipCheck:
    """The verdict on one clip: `problems` empty means everything verified."""

    problems: list[str]
    manifest: Manifest | None = None  # None when the manifest file is not a signed manifest at all
    ca_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def check_clip_files(clip: Path, manifest: Path, ca: Path | None = None) -> ClipCheck:
    """Verify `clip` against the signed manifest in `manifest` (and the box certificate against `ca`)."""
    data = _read(manifest)
    ca_pem = _read(ca) if ca is not None else None
    if ca_pem is not None:
        try:
            x509.load_pem_x509_certificate(ca_pem)
        except ValueError:
            raise UnreadableFile(f"{ca} is not a PEM certificate") from None
    if not clip.is_file():
        raise UnreadableFile(f"cannot read {clip}: no such file")
    try:
        signed = parse_signed(data)
    except ManifestError as exc:
        return ClipCheck([f"the manifest file is not a signed clip manifest ({exc})"])
    try:
        problems = verify_clip(clip, signed, ca_pem)
    except OSError as exc:
        raise UnreadableFile(f"cannot read {clip}: {exc.strerror}") from None
    return ClipCheck(problems, signed.read(), ca_pem is not None)


def verdict_lines(check: ClipCheck) -> list[str]:
    """OK and what the clip is, or FAILED and each problem on its own line."""
    if not check.ok:
        return ["FAILED: the clip does not verify", *(f"problem: {p}" for p in check.problems)]
    m = check.manifest
    assert m is not None
    lines = ["OK: the clip and its manifest verify",
             f"device:  {m.device_id}" + ("" if check.ca_checked else "  (certificate not checked against a CA: "
                                                                      "give --ca with the hub's CA certificate)"),
             f"camera:  {m.camera}",
             f"window:  {_iso(m.actual_from)} to {_iso(m.actual_to)} (requested {_iso(m.requested_from)} to "
             f"{_iso(m.requested_to)})",
             f"clip:    {m.clip_bytes} bytes, SHA-256 {m.clip_sha256}" + (", privacy masks painted out" if m.masked
                                                                          else ""),
             f"sources: {len(m.segments)} recorded segments"]
    if m.request_id is not None:
        lines.append(f"request: {m.request_id}, grant {m.grant_id}, audit log index {m.audit_index}")
    lines += [f"gap:     {_iso(g.start)} to {_iso(g.end)}: {g.reason}" for g in m.gaps] or ["gaps:    none"]
    return lines


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read {path}: {exc.strerror}") from None


def _iso(when) -> str:
    return when.isoformat().replace("+00:00", "Z")
