"""Payloads on the MQTT link: typed, versioned, strict.

Every payload is JSON produced and parsed by these pydantic models with
``extra="forbid"``; anything else is rejected with a `WireError` naming the
problem (and the receiver logs it and carries on). Events carry an idempotent
id and a per-appliance sequence number from the appliance's durable outbox, so
the hub can store each exactly once and in order (see `edge.link.outbox`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal, TypeVar, Union
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from wire.owner import KeyOffer, OwnerSigned

VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
CameraName = Annotated[str, Field(pattern=NAME_PATTERN, description="Camera name on its appliance.")]
Plate = Annotated[str, Field(pattern=r"^[0-9A-Z]{1,10}$", description="Plate text: upper-case letters and digits.")]


class WireError(ValueError):
    """A payload that is not what the wire format says."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- events (appliance → hub)


class BoxAlarm(_Strict):
    """An alarm the box holds raised now (its key, e.g. ``clock:unsynchronised``, ``retention:disk_budget_unmet``,
    ``write_failed:<camera>``), for its owner's status view."""

    key: Annotated[str, Field(min_length=1, max_length=100)]
    level: Literal["warning", "critical"]
    message: Annotated[str, Field(max_length=500)]
    since: AwareDatetime


class CameraKeep(_Strict):
    """How long a camera's video is kept (its retention setting) and the oldest video the box still holds."""

    camera: CameraName
    retention_days: Annotated[float, Field(gt=0, le=365)]
    oldest: AwareDatetime | None = None


class Health(_Strict):
    """The box's periodic health. The fields after `cameras_recording` are for the owner's status view and left
    out by a box that predates them (a hub that predates them never sees them: they are sent only when set)."""

    kind: Literal["health"] = "health"
    uptime_s: Annotated[float, Field(ge=0)]
    disk_free_bytes: Annotated[int, Field(ge=0)]
    cameras_recording: Annotated[int, Field(ge=0, le=4)]
    disk_total_bytes: Annotated[int | None, Field(ge=0)] = None
    recordings_bytes: Annotated[int | None, Field(ge=0)] = None
    keep: Annotated[list[CameraKeep] | None, Field(max_length=4)] = None
    alarms: Annotated[list[BoxAlarm] | None, Field(max_length=20)] = None


class CameraStatus(_Strict):
    """A camera's state on the box: whether video is recorded (`status`), and whether its owner has paused
    sharing on the box (`sharing_paused`). Two facts: a paused camera still records.

    `sharing_paused` is True while paused and left out otherwise, so the status of a camera that is not paused
    is the same bytes as before the field existed (a hub that predates it still takes it; a box that predates
    it never says paused). The box sends its status again whenever either fact changes."""

    kind: Literal["camera_status"] = "camera_status"
    camera: CameraName
    status: Literal["online", "offline", "recording"]
    detail: Annotated[str, Field(max_length=500)] = ""
    sharing_paused: bool | None = None

    @property
    def paused(self) -> bool:
        return self.sharing_paused is True


class HotListHit(_Strict):
    list_name: Annotated[str, Field(min_length=1, max_length=100)]
    entry_plate: Plate
    reason: Annotated[str, Field(max_length=500)]


#: The largest thumbnail a plate read carries (the JPEG's bytes; base64 on the wire takes a third more).
MAX_THUMBNAIL_BYTES = 64 * 1024
_THUMBNAIL_B64_CHARS = 4 * ((MAX_THUMBNAIL_BYTES + 2) // 3)


def _jpeg_base64(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("thumbnail_jpeg is not base64") from None
    if len(data) > MAX_THUMBNAIL_BYTES:
        raise ValueError(f"thumbnail_jpeg is larger than {MAX_THUMBNAIL_BYTES} bytes")
    if not data.startswith(b"\xff\xd8\xff"):
        raise ValueError("thumbnail_jpeg is not a JPEG")
    return text


class PlateRead(_Strict):
    """One vehicle pass read on the box, sent only as far as the owner's plate sharing allows; with the read's
    thumbnail (a JPEG, base64) when the box has one no larger than `MAX_THUMBNAIL_BYTES` — the thumbnail goes
    with the read or not at all, never on its own."""

    kind: Literal["plate_read"] = "plate_read"
    camera: CameraName
    plate: Plate
    confidence: Annotated[float, Field(ge=0, le=1)]
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    hit: HotListHit | None = None
    thumbnail_jpeg: Annotated[str | None, Field(max_length=_THUMBNAIL_B64_CHARS),
                              AfterValidator(_jpeg_base64)] = None

    @staticmethod
    def encode_thumbnail(jpeg: bytes) -> str:
        return base64.b64encode(jpeg).decode("ascii")

    def thumbnail(self) -> bytes | None:
        """The thumbnail's JPEG bytes, if the read carries one."""
        return None if self.thumbnail_jpeg is None else base64.b64decode(self.thumbnail_jpeg)


#: The largest camera snapshot (the JPEG's bytes) the box sends its owner's console; base64 takes a third more,
#: and the reply must stay under `MAX_PAYLOAD_BYTES`.
MAX_SNAPSHOT_BYTES = 160 * 1024
_SNAPSHOT_B64_CHARS = 4 * ((MAX_SNAPSHOT_BYTES + 2) // 3)


def _snapshot_base64(text: str) -> str:
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("jpeg is not base64") from None
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise ValueError(f"jpeg is larger than {MAX_SNAPSHOT_BYTES} bytes")
    if not data.startswith(b"\xff\xd8\xff"):
        raise ValueError("jpeg is not a JPEG")
    return text


class Alarm(_Strict):
    kind: Literal["alarm"] = "alarm"
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
    message: Annotated[str, Field(max_length=2000)]


class StreamEnded(_Strict):
    """A streaming session ended on the appliance, for whatever reason (the hub audits it with its duration)."""

    kind: Literal["stream_ended"] = "stream_ended"
    session_id: UUID
    grant_id: UUID
    camera: CameraName
    mode: Literal["live", "playback"]
    started_at: AwareDatetime
    ended_at: AwareDatetime
    reason: Annotated[str, Field(max_length=500)]
    packets_sent: Annotated[int, Field(ge=0)] = 0
    #: RTP payload bytes the appliance sent for the session (its uplink's share); absent from older appliances.
    bytes_sent: Annotated[int, Field(ge=0)] = 0


class Coverage(_Strict):
    """One closed span of a camera's timeline: recorded (`recorded`), or a gap with why (camera offline, …).

    The box sends each span as it closes, so the hub can say which cameras were recording at a time without
    asking them; consecutive recorded spans may be sent merged."""

    kind: Literal["coverage"] = "coverage"
    camera: CameraName
    start: AwareDatetime
    end: AwareDatetime
    recorded: bool
    reason: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> "Coverage":
        if self.end <= self.start:
            raise ValueError("a coverage span ends after it starts")
        return self


ClipStage = Literal["cutting", "uploading", "uploaded", "failed"]


class ClipProgress(_Strict):
    """Where the clip of footage request `request_id` stands on the box; `failed` says why in `detail`
    (e.g. nothing recorded in the window)."""

    kind: Literal["clip_progress"] = "clip_progress"
    request_id: Annotated[int, Field(ge=1)]
    camera: CameraName
    stage: ClipStage
    detail: Annotated[str, Field(max_length=2000)] = ""
    clip_sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    clip_bytes: Annotated[int | None, Field(ge=0)] = None


class Witnessed(_Strict):
    """The newest audit-log checkpoint (the hub's signed note) this box has verified and holds as its witness
    state; sent whenever it moves forward, so the owner's access log can prove entries against what the box
    itself checked."""

    kind: Literal["witnessed"] = "witnessed"
    note: Annotated[str, Field(min_length=1, max_length=2000)]


EventBody = Annotated[Union[Health, CameraStatus, PlateRead, Alarm, StreamEnded, Coverage, ClipProgress, Witnessed],
                      Field(discriminator="kind")]


class EventEnvelope(_Strict):
    """One event from an appliance's outbox.

    `stream` names the outbox (a new one after a factory reset) and `seq`
    counts from 1 within it without gaps, so the hub stores event `seq` only
    after `seq - 1` and acknowledges cumulatively.
    """

    v: Literal[1] = VERSION
    stream: UUID
    seq: Annotated[int, Field(ge=1)]
    id: UUID
    at: AwareDatetime
    body: EventBody


class EventAck(_Strict):
    """The hub has stored every event of `stream` up to and including `upto`."""

    v: Literal[1] = VERSION
    stream: UUID
    upto: Annotated[int, Field(ge=0)]


# ---------------------------------------------------------------- commands (hub → appliance)


class HotListEntry(_Strict):
    plate: Plate
    list_name: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(max_length=500)]
    expires_at: AwareDatetime | None = None


class HotListReplace(_Strict):
    """The whole hot list for this appliance; replaces what it had."""

    kind: Literal["hotlist.replace"] = "hotlist.replace"
    version: Annotated[int, Field(ge=0)]
    entries: Annotated[list[HotListEntry], Field(max_length=100_000)]


class Ping(_Strict):
    kind: Literal["ping"] = "ping"


class SignedDocument(_Strict):
    document: Annotated[str, Field(max_length=64_000)]
    signature: Annotated[str, Field(max_length=200)]


class PolicyUpdate(_Strict):
    """A camera's consent policy, signed by its owner's passkey (wire.consent.PolicyDocument inside)."""

    kind: Literal["consent.policy"] = "consent.policy"
    signed: OwnerSigned


class OwnerKeyOffer(_Strict):
    """An owner's key for the appliance to hold, MAC'd with a pairing code the appliance showed (wire.owner)."""

    kind: Literal["consent.owner_key"] = "consent.owner_key"
    offer: KeyOffer


class GrantPresent(_Strict):
    """An access grant for the appliance to judge (wire.consent.Grant inside); the reply says accepted or why not."""

    kind: Literal["access.grant"] = "access.grant"
    signed: SignedDocument


SessionDescription = Annotated[str, Field(min_length=10, max_length=32_000, description="SDP, ICE candidates included")]


def _turn_url(url: str) -> str:
    if not url.startswith(("turn:", "turns:")):
        raise ValueError("a TURN server's URL starts with turn: or turns:")
    return url


class IceServer(_Strict):
    """A TURN server the appliance may relay through, with credentials the hub made for this one session (TURN
    REST API convention: the user name starts with the Unix second they stop working; `hub.turn`)."""

    urls: Annotated[list[Annotated[str, Field(max_length=500), AfterValidator(_turn_url)]],
                    Field(min_length=1, max_length=4)]
    username: Annotated[str, Field(min_length=1, max_length=200)]
    credential: Annotated[str, Field(min_length=1, max_length=200)]


class StreamStart(_Strict):
    """Open a WebRTC session under a grant: the appliance judges the grant, then answers with its SDP offer.

    `at` is where playback starts (inside the grant's window); live ignores it. `ice_servers` are the TURN
    servers the appliance's peer may use for this session, with time-limited credentials (none: host candidates
    only). The reply's result is a `StreamOffer`: accepted or why not, and the offer only when accepted.
    """

    kind: Literal["stream.start"] = "stream.start"
    session_id: UUID
    signed: SignedDocument
    at: AwareDatetime | None = None
    ice_servers: Annotated[list[IceServer], Field(max_length=4)] = []


class StreamAnswer(_Strict):
    """The hub's SDP answer to the appliance's offer."""

    kind: Literal["stream.answer"] = "stream.answer"
    session_id: UUID
    sdp: SessionDescription


class StreamStop(_Strict):
    kind: Literal["stream.stop"] = "stream.stop"
    session_id: UUID
    reason: Annotated[str, Field(max_length=500)] = "stopped by the analyst"


class StreamKeepalive(_Strict):
    """The hub still wants these sessions; the appliance ends any it has not heard of for a while."""

    kind: Literal["stream.keepalive"] = "stream.keepalive"
    session_ids: Annotated[list[UUID], Field(max_length=64)]


class StreamControl(_Strict):
    """Playback controls: pause, resume, seek to `at` (inside the grant's window) or set `speed`.

    The reply's result is a `PlaybackState`.
    """

    kind: Literal["stream.control"] = "stream.control"
    session_id: UUID
    action: Literal["pause", "resume", "seek", "speed"]
    at: AwareDatetime | None = None
    speed: Annotated[float | None, Field(gt=0, le=16)] = None

    @model_validator(mode="after")
    def _arguments(self) -> "StreamControl":
        if self.action == "seek" and self.at is None:
            raise ValueError("seek needs `at`")
        if self.action == "speed" and self.speed is None:
            raise ValueError("speed needs `speed`")
        return self


RequestStatus = Literal["pending", "approved", "denied", "expired", "delivered", "cancelled"]
#: While a request is in one of these, the box keeps (holds) the footage of its window.
HELD_STATUSES: frozenset[str] = frozenset({"pending", "approved"})


class FootageNotice(_Strict):
    """A footage request for one of the box's cameras, and every change of its status.

    The box shows it to its owner (`canvass-edge requests`) and holds the window's segments from retention
    while the request is pending or approved; any other status releases the hold. The newest notice of a
    request wins (notices may be re-sent when the box comes back online)."""

    kind: Literal["footage.request"] = "footage.request"
    request_id: Annotated[int, Field(ge=1)]
    camera: CameraName
    window_from: AwareDatetime
    window_to: AwareDatetime
    status: RequestStatus
    analyst: Annotated[str, Field(min_length=1, max_length=100)]
    purpose: Annotated[str, Field(max_length=32)]
    case_number: Annotated[str, Field(max_length=100)]
    reason: Annotated[str, Field(max_length=2000)]
    expires_at: AwareDatetime
    note: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> "FootageNotice":
        if self.window_to <= self.window_from:
            raise ValueError("window_to must be after window_from")
        return self


class ClipOrder(_Strict):
    """Cut the clip of an approved request and upload it: `signed` is the hub's grant in mode `clip` for
    exactly the window to cut (the owner's approval inside it where the policy asks for one). The box judges
    it like any grant, answers at once (`ClipAccepted`) and reports progress as `ClipProgress` events; the
    upload goes (tus) to `upload_path` on the hub the box enrolled with — never anywhere else — with
    `upload_token`, which only this order carries."""

    kind: Literal["clip.order"] = "clip.order"
    request_id: Annotated[int, Field(ge=1)]
    signed: SignedDocument
    upload_path: Annotated[str, Field(pattern=r"^/api/[a-z0-9/_-]{1,100}$")]
    upload_token: Annotated[str, Field(min_length=20, max_length=200)]


class SnapshotRequest(_Strict):
    """A fresh still of `camera` for its owner's console (privacy masks are drawn over it): the box decodes the
    newest keyframe it holds and answers with a JPEG at most `max_width` pixels wide (`SnapshotTaken`). The hub
    sends it only for the camera's owner and never stores the picture."""

    kind: Literal["camera.snapshot"] = "camera.snapshot"
    camera: CameraName
    max_width: Annotated[int, Field(ge=160, le=1920)] = 960


CommandBody = Annotated[Union[HotListReplace, Ping, PolicyUpdate, OwnerKeyOffer, GrantPresent, StreamStart, StreamAnswer,
                              StreamStop, StreamKeepalive, StreamControl, FootageNotice, ClipOrder, SnapshotRequest],
                        Field(discriminator="kind")]


class Command(_Strict):
    v: Literal[1] = VERSION
    request_id: UUID
    body: CommandBody


# ---------------------------------------------------------------- replies (appliance → hub)


class Pong(_Strict):
    """The answer to `Ping`."""

    kind: Literal["pong"] = "pong"


class HotListTaken(_Strict):
    """The appliance now matches plates against hot list `version`."""

    kind: Literal["hotlist.taken"] = "hotlist.taken"
    version: Annotated[int, Field(ge=0)]
    entries: Annotated[int, Field(ge=0)]


class PolicyTaken(_Strict):
    """The appliance keeps this policy version for `camera` (older or equal versions are refused as errors)."""

    kind: Literal["consent.policy_taken"] = "consent.policy_taken"
    camera: CameraName
    version: Annotated[int, Field(ge=1)]


class OwnerKeyTaken(_Strict):
    """The appliance holds the offered owner key (its fingerprint), or refused it and why."""

    kind: Literal["consent.owner_key_taken"] = "consent.owner_key_taken"
    accepted: bool
    reason: Annotated[str, Field(max_length=500)]
    fingerprint: Annotated[str, Field(max_length=40)] = ""


class GrantDecision(_Strict):
    """What the appliance's consent guard decided about a presented grant, and why."""

    kind: Literal["access.decision"] = "access.decision"
    accepted: bool
    reason: Annotated[str, Field(max_length=2000)]


class StreamOffer(_Strict):
    """The answer to `StreamStart`: the grant's verdict and, when accepted, the appliance's SDP offer and the
    moment the session ends at the latest (the grant's expiry or the camera's maximum session, the sooner)."""

    kind: Literal["stream.offer"] = "stream.offer"
    accepted: bool
    reason: Annotated[str, Field(max_length=2000)]
    sdp: SessionDescription | None = None
    deadline: AwareDatetime | None = None

    @model_validator(mode="after")
    def _offer_when_accepted(self) -> "StreamOffer":
        if self.accepted and (self.sdp is None or self.deadline is None):
            raise ValueError("an accepted stream needs an offer and a deadline")
        if not self.accepted and self.sdp is not None:
            raise ValueError("a refused stream carries no offer")
        return self


class AnswerTaken(_Strict):
    """The appliance applied the hub's SDP answer to `session_id`."""

    kind: Literal["stream.answer_taken"] = "stream.answer_taken"
    session_id: UUID


class StreamStopped(_Strict):
    """`session_id` has ended on the appliance (or had already: `already_ended`, no duration)."""

    kind: Literal["stream.stopped"] = "stream.stopped"
    session_id: UUID
    already_ended: bool = False
    duration_s: Annotated[float | None, Field(ge=0)] = None


class KeepaliveTaken(_Strict):
    """Which of the sessions in a keepalive the appliance does not know (ended, or never started)."""

    kind: Literal["stream.keepalive_taken"] = "stream.keepalive_taken"
    unknown: Annotated[list[UUID], Field(max_length=64)] = []


class PlaybackState(_Strict):
    """Where a playback session stands after a control: the recorded time of the frame last sent, if any."""

    kind: Literal["stream.playback_state"] = "stream.playback_state"
    position: AwareDatetime | None = None
    paused: bool
    speed: Annotated[float, Field(gt=0, le=16)]


class NoticeTaken(_Strict):
    """The box has recorded the request's status; `held` whether it now holds the window, and how many seconds
    of the window it has recorded (0: nothing; the analyst is told at once)."""

    kind: Literal["footage.notice_taken"] = "footage.notice_taken"
    request_id: Annotated[int, Field(ge=1)]
    held: bool
    recorded_s: Annotated[float, Field(ge=0)]


class ClipAccepted(_Strict):
    """The consent guard's verdict on a clip order; when accepted the box cuts and uploads in the background."""

    kind: Literal["clip.accepted"] = "clip.accepted"
    request_id: Annotated[int, Field(ge=1)]
    accepted: bool
    reason: Annotated[str, Field(max_length=2000)]


class SnapshotTaken(_Strict):
    """A still of `camera`: its newest keyframe as a JPEG (base64, at most `MAX_SNAPSHOT_BYTES`), the picture's
    size and when the box recorded it."""

    kind: Literal["camera.snapshot_taken"] = "camera.snapshot_taken"
    camera: CameraName
    taken_at: AwareDatetime
    width: Annotated[int, Field(ge=1, le=1920)]
    height: Annotated[int, Field(ge=1, le=1920)]
    jpeg: Annotated[str, Field(max_length=_SNAPSHOT_B64_CHARS), AfterValidator(_snapshot_base64)]

    @staticmethod
    def encode_jpeg(jpeg: bytes) -> str:
        return base64.b64encode(jpeg).decode("ascii")

    def jpeg_bytes(self) -> bytes:
        return base64.b64decode(self.jpeg)


ReplyResult = Annotated[Union[Pong, HotListTaken, PolicyTaken, OwnerKeyTaken, GrantDecision, StreamOffer, AnswerTaken,
                              StreamStopped, KeepaliveTaken, PlaybackState, NoticeTaken, ClipAccepted, SnapshotTaken],
                        Field(discriminator="kind")]

#: What each command is answered with when it succeeds.
RESULT_OF: dict[type, type] = {
    Ping: Pong, HotListReplace: HotListTaken, PolicyUpdate: PolicyTaken, OwnerKeyOffer: OwnerKeyTaken,
    GrantPresent: GrantDecision,
    StreamStart: StreamOffer, StreamAnswer: AnswerTaken, StreamStop: StreamStopped, StreamKeepalive: KeepaliveTaken,
    StreamControl: PlaybackState, FootageNotice: NoticeTaken, ClipOrder: ClipAccepted, SnapshotRequest: SnapshotTaken,
}


class Reply(_Strict):
    """The appliance's answer to one command: `ok` with the command's result, or not ok with the error."""

    v: Literal[1] = VERSION
    request_id: UUID
    ok: bool
    error: Annotated[str, Field(max_length=2000)] = ""
    result: ReplyResult | None = None

    @model_validator(mode="after")
    def _result_when_ok(self) -> "Reply":
        if self.ok and self.result is None:
            raise ValueError("a successful reply carries its result")
        if not self.ok and self.result is not None:
            raise ValueError("a failed reply carries an error, not a result")
        return self


R = TypeVar("R", bound=BaseModel)


def result_of(reply: Reply, kind: type[R]) -> R:
    """The successful reply's result as `kind`; WireError if the reply failed or answered something else."""
    if not reply.ok:
        raise WireError(f"the appliance could not do it: {reply.error}")
    if not isinstance(reply.result, kind):
        got = type(reply.result).__name__
        raise WireError(f"the appliance answered with {got} where {kind.__name__} was expected")
    return reply.result


# ---------------------------------------------------------------- presence


class DeviceState(_Strict):
    """Retained on the device's ``state`` topic; the last will publishes "offline"."""

    v: Literal[1] = VERSION
    state: Literal["online", "offline"]
    at: datetime | None = None


Message = EventEnvelope | EventAck | Command | Reply | DeviceState


def encode(message: Message) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()


def decode(model: type[Message], payload: bytes) -> Message:
    """Parse `payload` as `model`; WireError with a short reason otherwise."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise WireError(f"invalid {model.__name__}: {where}: {first['msg']}") from None
