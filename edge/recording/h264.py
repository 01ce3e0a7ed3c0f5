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


def avcc_to_annexb(avcc: bytes) -> bytes:
    """SPS/PPS of an avcC (ISO 14496-15) record as Annex-B NAL units."""
    if len(avcc) < 7 or avcc[0] != 1:
        raise ValueError("not an avcC record")
    out, pos = [], 5
    for count_mask in (0x1F, 0xFF):  # SPS count is 5 bits, PPS count 8 bits
        count = avcc[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(avcc[pos : pos + 2], "big")
            out.append(b"\x00\x00\x00\x01" + avcc[pos + 2 : pos + 2 + size])
            pos += 2 + size
    return b"".join(out)


def annexb_extradata(extradata: bytes) -> bytes:
    """Codec extradata as Annex-B SPS/PPS, whichever form it came in."""
    if extradata[:1] == b"\x01":
        return avcc_to_annexb(extradata)
    return parameter_sets(extradata)
