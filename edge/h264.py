"""Just enough H.264 Annex-B parsing for a recorder: NAL types and parameter sets."""

from __future__ import annotations

from collections.abc import Iterator

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8


def iter_nals(data: bytes) -> Iterator[bytes]:
    """Yield the NAL units (without start codes) of an Annex-B byte string."""
    starts: list[tuple[int, int]] = []  # (start code position, payload position)
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        code_at = i - 1 if i > 0 and data[i - 1] == 0 else i
        starts.append((code_at, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, (_, payload_at) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(data)
        if end > payload_at:
            yield data[payload_at:end]


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units in `data`, as Annex-B, or b"" if it has none."""
    found = [nal for nal in iter_nals(data) if nal_type(nal) in (NAL_SPS, NAL_PPS)]
    if not any(nal_type(n) == NAL_SPS for n in found) or not any(nal_type(n) == NAL_PPS for n in found):
        return b""
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in found)


def has_parameter_sets(data: bytes) -> bool:
    return bool(parameter_sets(data))
