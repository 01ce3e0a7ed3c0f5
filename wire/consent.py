"""Consent policies, owner approvals and access grants: what the owner and the hub sign and the appliance judges.

A policy and an approval are the owner's word: canonical JSON (sorted keys,
compact, UTF-8) signed with the owner's passkey (`wire.owner.OwnerSigned`),
verified by the appliance against the owner keys it holds. A grant is the
hub's word: a `Signed` envelope, an Ed25519 signature over exactly the
document's bytes by the hub's grant key, which the appliance received at
enrolment; where the policy asks for the owner's approval the grant carries the
owner-signed approval inside. The appliance verifies a signature before it
reads a field.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Literal
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from wire.messages import CameraName, SignedDocument
from wire.owner import OwnerSigned
from wire.topics import DEVICE_ID_PATTERN

SharingMode = Literal["off", "request_only", "emergency_live", "always"]
AccessMode = Literal["live", "playback", "clip"]
PlateSharing = Literal["none", "hits_only", "all"]
#: Why an analyst asks: the transparency report counts by it, and `emergency_live` cameras go live only for
#: the emergency ones.
Purpose = Literal["violent_crime", "property_crime", "missing_person", "traffic", "emergency", "other"]
EMERGENCY_PURPOSES: frozenset[str] = frozenset({"emergency", "violent_crime", "missing_person"})


class ConsentError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """A weekly window in the camera's local time: days (0 = Monday) and minutes from midnight, end exclusive."""

    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7)]
    start_minute: Annotated[int, Field(ge=0, le=1439)]
    end_minute: Annotated[int, Field(ge=1, le=1440)]

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        if self.end_minute <= self.start_minute:
            raise ValueError("end_minute must be after start_minute (split windows that cross midnight)")
        return self

    def contains(self, when: dt.datetime) -> bool:
        minute = when.hour * 60 + when.minute
        return when.weekday() in self.days and self.start_minute <= minute < self.end_minute


Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class Policy(_Strict):
    """One camera's consent as its owner set it (a new version on every change)."""

    sharing: SharingMode = "off"
    schedule: Annotated[list[Window], Field(max_length=50, description="Empty: any time.")] = []
    utc_offset_minutes: Annotated[int, Field(ge=-720, le=840, description="The camera's local time offset.")] = 0
    modes: Annotated[list[AccessMode], Field(max_length=3)] = []
    max_session_s: Annotated[int, Field(ge=10, le=24 * 3600)] = 900
    plate_sharing: PlateSharing = "none"
    privacy_masks: Annotated[list[Annotated[list[Point], Field(min_length=3, max_length=64)]],
                             Field(max_length=32, description="Polygons in 0..1 image coordinates.")] = []
    preapproved_purposes: Annotated[list[Purpose], Field(max_length=6, description=(
        "`always` cameras: the purposes whose clip requests the policy approves without asking the owner "
        "(empty: every purpose); requests of other purposes wait for the owner."))] = []

    def needs_approval(self, mode: AccessMode, purpose: str | None = None) -> bool:
        """Whether each request in `mode` for `purpose` waits for the owner's own approval: recorded footage of
        a `request_only` or `emergency_live` camera (an `emergency_live` camera goes live without one, in an
        emergency only), and clips of an `always` camera for a purpose its owner did not pre-approve."""
        if self.sharing == "always":
            return mode == "clip" and bool(self.preapproved_purposes) and purpose not in self.preapproved_purposes
        return self.sharing == "request_only" or (self.sharing == "emergency_live" and mode != "live")

    def purpose_problem(self, mode: AccessMode, purpose: str | None) -> str | None:
        """Why `purpose` may not have `mode` on this camera, or None."""
        if self.sharing == "emergency_live" and mode == "live" and purpose not in EMERGENCY_PURPOSES:
            return "this camera shares live video in an emergency only (purpose emergency, violent_crime or " \
                   "missing_person)"
        return None

    def in_schedule(self, when: dt.datetime) -> bool:
        if not self.schedule:
            return True
        local = when.astimezone(dt.timezone(dt.timedelta(minutes=self.utc_offset_minutes)))
        return any(window.contains(local) for window in self.schedule)


class PolicyDocument(_Strict):
    kind: Literal["policy"] = "policy"
    device_id: Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]
    camera: CameraName
    version: Annotated[int, Field(ge=1)]
    issued_at: AwareDatetime
    policy: Policy


class ApprovalDocument(_Strict):
    """The owner's approval of one footage request: this camera, this case, exactly this (maybe trimmed) window."""

    kind: Literal["approval"] = "approval"
    device_id: Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]
    camera: CameraName
    request_id: Annotated[int, Field(ge=1)]
    mode: AccessMode
    case_number: Annotated[str, Field(min_length=3, max_length=100)]
    window_from: AwareDatetime
    window_to: AwareDatetime
    issued_at: AwareDatetime


class Grant(_Strict):
    """Permission for one analyst to reach one camera in one mode, for a while, for a stated reason."""

    kind: Literal["grant"] = "grant"
    grant_id: UUID
    device_id: Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]
    camera: CameraName
    mode: AccessMode
    window_from: AwareDatetime | None = None  # footage time range, for playback and clip
    window_to: AwareDatetime | None = None
    analyst: Annotated[str, Field(min_length=1, max_length=100)]
    purpose: Purpose | None = None  # the box checks it where the owner's policy depends on it (emergency_live)
    reason: Annotated[str, Field(min_length=10, max_length=2000)]
    case_number: Annotated[str, Field(min_length=3, max_length=100)]
    not_before: AwareDatetime
    expires_at: AwareDatetime
    policy_version: Annotated[int, Field(ge=1)]
    audit_index: Annotated[int, Field(ge=0)]
    audit_entry: Annotated[str, Field(max_length=20_000, description="The audit entry's canonical text.")]
    audit_proof: Annotated[list[str], Field(max_length=64, description="base64 inclusion proof")]
    audit_checkpoint: Annotated[str, Field(max_length=4000, description="signed checkpoint including the entry")]
    # For a request_only camera: the owner's approval, an earlier entry of the same log under the same checkpoint.
    approval_index: Annotated[int | None, Field(ge=0)] = None
    approval_entry: Annotated[str | None, Field(max_length=20_000)] = None
    approval_proof: Annotated[list[str], Field(max_length=64)] = []
    # … and the approval itself, signed by the owner's passkey (an ApprovalDocument): the hub cannot make one.
    owner_approval: OwnerSigned | None = None


Signed = SignedDocument  # the envelope is part of the MQTT payloads too


def canonical(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(model: BaseModel, key: Ed25519PrivateKey) -> Signed:
    document = canonical(model)
    return Signed(document=document, signature=base64.b64encode(key.sign(document.encode())).decode())


def open_signed(signed: Signed, key: Ed25519PublicKey, model: type[BaseModel]):
    """The document inside `signed` if `key` signed it; ConsentError otherwise (nothing is read before)."""
    try:
        key.verify(base64.b64decode(signed.signature, validate=True), signed.document.encode())
    except (InvalidSignature, ValueError):
        raise ConsentError("signature does not verify") from None
    try:
        return model.model_validate_json(signed.document)
    except ValidationError as exc:
        raise ConsentError(f"signed document is not a valid {model.__name__}: {exc.errors()[0]['msg']}") from None
