"""The audit log's formats, once for the hub that writes it, the appliance that checks grants against it and
the offline verifier (`canvass-audit verify`).

An entry is hashed into the log's Merkle tree as its canonical text: compact
JSON with sorted keys, UTF-8, every field and the entry's own index, its time
in UTC with microseconds (``2026-12-01T21:37:42.123456Z``).
`AuditEntry.canonical()` makes exactly those bytes and `AuditEntry.parse()`
reads them back; what an entry records about a grant or an owner's approval
is read from its details through `GrantDetails` and `ApprovalDetails`, and
the footage an access entry names (`window_from`/`window_to`) through
`FootageWindow`.

The HTTP payloads of the log (checkpoint, proofs) and the records of a
verifiable export are here too, since appliances and auditors read them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Literal, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictInt, StrictStr,
                      ValidationError, field_serializer)

EXPORT_FORMAT = "canvass-audit-export/1"
#: What the hub's signature over a ranged export's range claim starts with (never a checkpoint's first line).
RANGE_CLAIM = "canvass-audit-range/1"
AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class AuditFormatError(ValueError):
    """Text that is not an audit entry, or details that do not record what they are read as."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "text"
    return f"{where}: {first['msg']}"


class AuditEntry(_Strict):
    """One entry of the audit log, as hashed into the tree."""

    index: Annotated[StrictInt, Field(ge=0, description="The entry's leaf index in the log.")]
    at: AwareDatetime
    actor: StrictStr
    action: StrictStr
    object: StrictStr
    outcome: StrictStr
    source: StrictStr
    reason: StrictStr
    case_number: StrictStr
    details: dict[str, JsonValue] = {}

    @field_serializer("at")
    def _utc_microseconds(self, at: dt.datetime) -> str:
        return at.astimezone(dt.timezone.utc).strftime(AT_FORMAT)

    def canonical(self) -> bytes:
        """The bytes hashed into the log: sorted-key compact JSON, UTF-8."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    @classmethod
    def parse(cls, text: str | bytes) -> "AuditEntry":
        """The entry in `text`; AuditFormatError saying what is wrong otherwise."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise AuditFormatError(f"not an audit entry: {_first_problem(exc)}") from None

    def details_as(self, model: type[D]) -> D:
        """This entry's details read as `model`; AuditFormatError if they do not hold what it needs."""
        try:
            return model.model_validate(self.details)
        except ValidationError as exc:
            raise AuditFormatError(f"the entry's details are not {model.__name__}: {_first_problem(exc)}") from None


class _Details(BaseModel):
    """What an entry's details say about one kind of event; other keys in the details are not read."""

    model_config = ConfigDict(extra="ignore", frozen=True)


D = TypeVar("D", bound=_Details)


def iso_utc(moment: dt.datetime | None) -> str | None:
    """`moment` as ISO 8601 in UTC (how access entries name footage times), None stays None."""
    return None if moment is None else moment.astimezone(dt.timezone.utc).isoformat()


class FootageWindow(_Details):
    """The recorded footage an access entry names: [window_from, window_to), both None for live."""

    window_from: AwareDatetime | None = None
    window_to: AwareDatetime | None = None

    def details(self) -> dict[str, JsonValue]:
        """As an entry's details (ISO 8601 in UTC, null for live), so an auditor sees what could be shown."""
        return {"window_from": iso_utc(self.window_from), "window_to": iso_utc(self.window_to)}


class GrantDetails(FootageWindow):
    """An `access.grant` entry: the grant it records and the footage window it grants (entries written before
    windows were recorded read as no window)."""

    grant_id: StrictStr
    mode: StrictStr


class ApprovalDetails(_Details):
    """An `access.owner_decision` entry: what the owner approved or denied."""

    approved: StrictBool
    camera: StrictStr
    device_id: StrictStr
    mode: StrictStr
    window_from: AwareDatetime | None = None
    window_to: AwareDatetime | None = None


# ---------------------------------------------------------------- HTTP: checkpoint and proofs


class CheckpointOut(_Strict):
    """The newest signed checkpoint: the size it covers, its root (base64) and the signed note (`wire.checkpoint`)."""

    size: Annotated[int, Field(ge=0)]
    root: Annotated[str, Field(max_length=100)]
    note: Annotated[str, Field(max_length=4000)]


class ProofOut(_Strict):
    """An inclusion or consistency proof: base64 SHA-256 hashes, in RFC 6962 order."""

    proof: Annotated[list[str], Field(max_length=128)]


# ---------------------------------------------------------------- the verifiable export (JSON lines)


class ExportRange(_Strict):
    """A ranged export's claim: leaf indexes [first, end) of a log of `size` whose root is `root` (hex) hold
    every entry logged in [since, until) and the fence entry either side; `signature` is the hub's audit key's
    (base64 Ed25519) over `claim(origin)`, so the claim cannot be changed after export."""

    first: Annotated[StrictInt, Field(ge=0)]
    end: Annotated[StrictInt, Field(ge=0)]
    size: Annotated[StrictInt, Field(ge=0)]
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    root: Annotated[StrictStr, Field(pattern="^[0-9a-f]{64}$")] | None = None
    signature: Annotated[StrictStr, Field(max_length=200)] | None = None

    def claim(self, origin: str) -> bytes:
        """The signed bytes: RANGE_CLAIM, a newline, then sorted-key compact JSON of every field but the
        signature, and the log's origin."""
        fields = {**self.model_dump(mode="json", exclude={"signature"}), "origin": origin}
        return (RANGE_CLAIM + "\n" + json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                                 ensure_ascii=False)).encode()

    def signed(self, key: Ed25519PrivateKey, origin: str) -> "ExportRange":
        """This claim with the hub's signature (by its audit key) for the log called `origin`."""
        signature = base64.b64encode(key.sign(self.claim(origin))).decode()
        return self.model_copy(update={"signature": signature})

    def signed_by(self, key: Ed25519PublicKey, origin: str) -> bool:
        """Whether `signature` is `key`'s over this claim for `origin` (False if there is none)."""
        if self.signature is None:
            return False
        try:
            key.verify(base64.b64decode(self.signature, validate=True), self.claim(origin))
        except (InvalidSignature, ValueError):  # not base64, or not the key's
            return False
        return True


class ExportHeader(_Strict):
    """The first line: the format, the log's origin and key, and the range if the export is ranged."""

    format: Literal["canvass-audit-export/1"] = EXPORT_FORMAT
    origin: str
    key_name: str
    public_key: str
    range: ExportRange | None = None


class ExportedEntry(_Strict):
    """One entry: its index, its canonical text, and its leaf hash as the hub's tree stores it."""

    index: StrictInt
    entry: StrictStr
    leaf_hash: StrictStr | None


#: [level, index, hex hash] of a perfect subtree covering entries a ranged export leaves out.
Block = tuple[StrictInt, StrictInt, StrictStr]


class LeftBlocks(_Strict):
    left: list[Block]


class RightBlocks(_Strict):
    right: list[Block]


class ExportedCheckpoint(_Strict):
    checkpoint: StrictStr


class SavedCheckpoint(BaseModel):
    """A checkpoint kept somewhere else as JSON with its signed note: `/api/audit/checkpoint`'s answer, or the
    state an appliance's witness keeps. `canvass-audit verify --checkpoint` reads it (or a bare signed note)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    note: Annotated[StrictStr, Field(max_length=4000)]
