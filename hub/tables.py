"""The hub's database tables (SQLAlchemy 2, typed mappings).

Schema changes go through Alembic (hub/migrations); these classes are the
source the migrations are written from.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Enum, Float, ForeignKey, Index, Integer, LargeBinary,
                        PrimaryKeyConstraint, String, Text, UniqueConstraint, func)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Role(str, enum.Enum):
    ADMIN = "admin"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    OWNER = "owner"
    DISPATCH = "dispatch"  # a CAD integration account: files and updates incidents, nothing else


class Business(Base):
    __tablename__ = "businesses"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sites: Mapped[list["Site"]] = relationship(back_populates="business")


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    business: Mapped[Business] = relationship(back_populates="sites")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"), index=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The TOTP time step of the last code accepted: a code is accepted only for a later step (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The agency unit an analyst works for (e.g. "Robbery", "RTCC night desk"): the transparency report counts by it.
    unit: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # Where the hub writes to this user (an owner: footage requests waiting for a decision); "" for none.
    email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# User names are unique regardless of case (`ADMIN` cannot stand beside `admin`); sign-in looks names up the same way.
Index("uq_users_username_lower", func.lower(User.username), unique=True)


class SignInCounter(Base):
    """Failed (or reserved) password checks in the current window for one key (`hub.throttle`).

    `scope` is "pair" (account and address), "source" (address; account "") or "account" (source ""); times
    are whole seconds since the epoch, so the same SQL counts on SQLite and PostgreSQL."""

    __tablename__ = "sign_in_counters"
    scope: Mapped[str] = mapped_column(String(8))
    account: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(100))
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[int] = mapped_column(BigInteger, index=True)
    # Pairs only: until when this address may skip the account's slow-down (it signed in to the account).
    trusted_until: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (PrimaryKeyConstraint("scope", "account", "source"),)


class ApiSession(Base):
    __tablename__ = "api_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """One security-relevant event (who, what, when, where, object, outcome, why): leaf `leaf_index` of the log."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    case_number: Mapped[str] = mapped_column(String(100), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # Search keys, not part of the hashed entry: the purpose category the entry's details name ("" if none).
    purpose: Mapped[str] = mapped_column(String(32), default="", server_default="")
    __table_args__ = (Index("ix_audit_entries_case_number", "case_number", "leaf_index"),
                      Index("ix_audit_entries_actor", "actor", "leaf_index"),
                      Index("ix_audit_entries_purpose", "purpose", "leaf_index"),
                      Index("ix_audit_entries_outcome", "outcome", "leaf_index"))


class AuditSubject(Base):
    """A camera an audit entry is about (and its business at the time): the index the auditor's camera and
    business search and the owner's access log read, so neither scans the log. An entry may have several
    (a plate search that returned reads from several cameras)."""

    __tablename__ = "audit_subjects"
    id: Mapped[int] = mapped_column(primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    __table_args__ = (Index("ix_audit_subjects_camera", "camera_id", "leaf_index"),
                      Index("ix_audit_subjects_business", "business_id", "leaf_index"))


class AuditNode(Base):
    """A perfect subtree of the audit log's Merkle tree: 2^level leaves from index·2^level (level 0: leaf hashes)."""

    __tablename__ = "audit_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed checkpoint (C2SP signed note) of the log at `size` entries."""

    __tablename__ = "audit_checkpoints"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClaimCode(Base):
    __tablename__ = "claim_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    used_by_device: Mapped[str | None] = mapped_column(String(32))


class ApplianceState(str, enum.Enum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Appliance(Base):
    __tablename__ = "appliances"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), unique=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[ApplianceState] = mapped_column(Enum(ApplianceState, native_enum=False, length=16),
                                                  default=ApplianceState.ACTIVE)
    cert_serial: Mapped[str] = mapped_column(String(64))
    certificate_pem: Mapped[str] = mapped_column(Text)
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    event_stream: Mapped[str | None] = mapped_column(String(36))
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hotlist_version_acked: Mapped[int] = mapped_column(Integer, default=-1)
    # The newest audit checkpoint (signed note) the box says it has witnessed, verified by the hub on arrival:
    # the owner's access log proves each entry's inclusion in the log of this size.
    witnessed_note: Mapped[str | None] = mapped_column(Text)
    witnessed_size: Mapped[int | None] = mapped_column(BigInteger)
    witnessed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cameras: Mapped[list["Camera"]] = relationship(back_populates="appliance")


class RevokedCertificate(Base):
    __tablename__ = "revoked_certificates"
    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraStatusValue(str, enum.Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    RECORDING = "recording"


class PlateSharing(str, enum.Enum):
    NONE = "none"
    HITS_ONLY = "hits_only"
    ALL = "all"


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(primary_key=True)
    appliance_id: Mapped[int] = mapped_column(ForeignKey("appliances.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    latitude: Mapped[float | None] = mapped_column(Float, index=True)
    longitude: Mapped[float | None] = mapped_column(Float, index=True)
    view_direction_deg: Mapped[float | None] = mapped_column(Float)
    status: Mapped[CameraStatusValue] = mapped_column(Enum(CameraStatusValue, native_enum=False, length=16),
                                                      default=CameraStatusValue.OFFLINE)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The owner has paused sharing on the box (`canvass-edge pause`), as the box last said; it still records.
    sharing_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Since when the hub has known the camera as offline (its own report, or its box gone); None while it is up.
    offline_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # No longer read: the owner's consent policy says what is shared of plate reads (hub.access.grants.plate_sharing).
    plate_sharing: Mapped[PlateSharing] = mapped_column(Enum(PlateSharing, native_enum=False, length=16),
                                                        default=PlateSharing.NONE)
    appliance: Mapped[Appliance] = relationship(back_populates="cameras")
    __table_args__ = (UniqueConstraint("appliance_id", "name"),)


class ConsentVersion(Base):
    """One version of a camera's consent policy (wire.consent.Policy as JSON); the newest is in force.

    `signed` is what the box judges: the owner's passkey signature over the wire.consent.PolicyDocument
    (wire.owner.OwnerSigned as JSON). The hub stores and forwards it; it cannot make one."""

    __tablename__ = "consent_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    policy: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed: Mapped[str | None] = mapped_column(Text)  # None: a version from before owners signed (never sent)
    __table_args__ = (UniqueConstraint("camera_id", "version"),)


class OwnerPasskey(Base):
    """An owner's passkey as the hub registered it (py_webauthn): the public half only, to check a signature
    before forwarding it. The boxes hold their own copies, paired at the box (wire.owner, edge.consent.owners)."""

    __tablename__ = "owner_passkeys"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[str] = mapped_column(Text)  # SubjectPublicKeyInfo (DER) of the P-256 key, base64url
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplianceOwnerKey(Base):
    """A box said it holds this passkey (its answer to the pairing offer): what the owner console shows."""

    __tablename__ = "appliance_owner_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    appliance_id: Mapped[int] = mapped_column(ForeignKey("appliances.id"), index=True)
    passkey_id: Mapped[int] = mapped_column(ForeignKey("owner_passkeys.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(40))
    paired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("appliance_id", "passkey_id"),)


class Incident(Base):
    """An incident from CAD / 911 (or entered by an analyst): where and when something happened.

    `external_id` is the CAD's own id: an intake with the same id updates the incident, never duplicates it."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # "cad", "eido" or "analyst"
    type: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer)  # 1 (highest) … 5
    status: Mapped[str] = mapped_column(String(16), default="open")  # "open" or "closed"
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (Index("ix_incidents_listing", "status", "priority", "reported_at"),)


class Case(Base):
    """A case: the footage requests and clips gathered under one case number, kept until `retain_until`."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(100), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # What the public and camera owners see of the case (never the reason text, which may name people).
    public_reference: Mapped[str] = mapped_column(String(32), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retain_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CoverageSpan(Base):
    """A span of one camera's timeline as its box reported it: recorded, or a gap and why.

    Contiguous recorded reports are merged into one row, so a camera recording without a break for a month
    is one row, not one per segment."""

    __tablename__ = "coverage_spans"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (Index("ix_coverage_camera_end", "camera_id", "end", "start"),)


class RequestStatus(str, enum.Enum):
    PENDING = "pending"      # waiting for the owner
    APPROVED = "approved"    # by the owner or by the owner's policy; the box cuts and uploads
    DENIED = "denied"
    EXPIRED = "expired"      # nobody decided in time
    DELIVERED = "delivered"  # the clip is at the hub and verified (the case's retention takes over)
    FAILED = "failed"        # the box could not produce the clip (e.g. nothing recorded in the window)
    CANCELLED = "cancelled"


class FootageRequest(Base):
    """A request for one camera's recorded footage: for a stream of a camera whose owner must approve
    (`mode` playback/live), or for a clip (`mode` clip) under a case, cut on the box and uploaded."""

    __tablename__ = "footage_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    window_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_to: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    analyst: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    case_number: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(32), default="other", server_default="other")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Clip requests (mode "clip"): the case and incident they belong to, what the owner approved (a trimmed
    # window, or the whole one), why, until when nobody's decision is awaited, and the box's progress.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    approved_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    decided_how: Mapped[str] = mapped_column(String(16), default="", server_default="")  # "owner" or "policy"
    approval_index: Mapped[int | None] = mapped_column(BigInteger)  # the owner's approval in the audit log
    owner_approval: Mapped[str | None] = mapped_column(Text)  # … signed by the owner's passkey (OwnerSigned JSON)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    clip_stage: Mapped[str] = mapped_column(String(16), default="", server_default="")
    clip_detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The clip's upload credential, only as its SHA-256 (the box got the token in the clip order).
    upload_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # When the owners were reminded that the request still waits (once per request).
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_footage_requests_status", "status", "expires_at"),)


class Clip(Base):
    """A clip at the hub: the box's signed manifest, where the bytes are stored and what verifying found."""

    __tablename__ = "clips"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("footage_requests.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(32))
    storage_key: Mapped[str] = mapped_column(String(300))
    manifest: Mapped[str] = mapped_column(Text)  # the signed manifest exactly as the box wrote it (JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    actual_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actual_to: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    verified: Mapped[bool] = mapped_column(Boolean)
    verification: Mapped[str] = mapped_column(Text, default="")
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The SHA-256 of the (single-use) upload token that brought the clip: the request forgets it on delivery,
    # so a box that presents it again is told "already delivered" (409) rather than "unknown token".
    upload_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)


class Notice(Base):
    """Something a user of the hub should see (an owner: a footage request waits for you)."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("footage_requests.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Event(Base):
    """An appliance event as stored, once: (appliance, stream, seq) and its id are unique."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    appliance_id: Mapped[int] = mapped_column(ForeignKey("appliances.id"))
    stream: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[dict] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("appliance_id", "stream", "seq"),)


class PlateReadRow(Base):
    """A plate read its camera's owner shared (the hub keeps no other)."""

    __tablename__ = "plate_reads"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    plate: Mapped[str] = mapped_column(String(10), index=True)
    # The plate as the box matches it, look-alikes folded (wire.plates.canonical): what plate searches compare.
    plate_canonical: Mapped[str] = mapped_column(String(10), default="", server_default="", index=True)
    confidence: Mapped[float] = mapped_column(Float)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    hotlist: Mapped[str | None] = mapped_column(String(100))


class PlateThumbnail(Base):
    """The JPEG the box sent with a shared read (at most wire.messages.MAX_THUMBNAIL_BYTES)."""

    __tablename__ = "plate_thumbnails"
    read_id: Mapped[int] = mapped_column(ForeignKey("plate_reads.id"), primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)


class Alert(Base):
    """Something for the RTCC to see: a hot-list hit (kind "hotlist_hit", with its read and what the list says)
    or an appliance's alarm. A hit is acknowledged or dismissed by an analyst, on the record."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"), index=True)
    appliance_id: Mapped[int] = mapped_column(ForeignKey("appliances.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    read_id: Mapped[int | None] = mapped_column(ForeignKey("plate_reads.id"), index=True)
    list_name: Mapped[str | None] = mapped_column(String(100))
    entry_plate: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(500))
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dismissed_by: Mapped[str | None] = mapped_column(String(100))
    dismissed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    __table_args__ = (Index("ix_alerts_kind_at", "kind", "at"),)


class HotListItem(Base):
    __tablename__ = "hotlist_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    list_name: Mapped[str] = mapped_column(String(100))
    plate: Mapped[str] = mapped_column(String(10))
    # The issuing state or region as the list gives it ("" if not): shown to analysts; the box matches text only.
    region: Mapped[str] = mapped_column(String(16), default="", server_default="")
    reason: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("list_name", "plate"),)


class Counter(Base):
    """Small named counters (the hot-list version)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class StreamSession(Base):
    """A WebRTC session from an appliance through the hub to analysts' browsers, under one grant."""

    __tablename__ = "stream_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    grant_id: Mapped[str] = mapped_column(String(36), unique=True)
    analyst: Mapped[str] = mapped_column(String(100), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    case_number: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float | None] = mapped_column(Float)


class OwnerAlertSettings(Base):
    """What an owner wants to be told by e-mail (to `users.email`): a camera offline longer than
    `camera_offline_after_s` (None: never), each new footage request, and a reminder for one still waiting
    after `request_reminder_after_s` (None: none)."""

    __tablename__ = "owner_alert_settings"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    camera_offline_after_s: Mapped[int | None] = mapped_column(Integer)
    request_emails: Mapped[bool] = mapped_column(Boolean, default=True)
    request_reminder_after_s: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfflineAlertSent(Base):
    """An owner was told that a camera went offline at `offline_since` (one e-mail per owner per outage; the
    row goes, with a "back online" e-mail, when the camera returns)."""

    __tablename__ = "offline_alerts_sent"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), primary_key=True)
    offline_since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegistrationStatus(str, enum.Enum):
    UNCONFIRMED = "unconfirmed"  # the e-mail address is not proven yet: the cameras count for nothing
    CONFIRMED = "confirmed"
    STALE = "stale"  # not re-confirmed within the grace after its yearly reminder: kept, never offered


class Registration(Base):
    """A resident's or business's registration of cameras without an appliance (public, no account): who to
    ask, proven by e-mail (double opt-in), re-confirmed yearly. The private manage link's token is kept only as
    its keyed hash; `manage_salt` lets the hub make the same link again for each e-mail it sends."""

    __tablename__ = "registrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    address: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=RegistrationStatus.UNCONFIRMED.value, index=True)
    manage_salt: Mapped[str] = mapped_column(String(64))
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the owner last said the registration is right (confirmation, re-confirmation or a change).
    affirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Past this, a registration reminded and not re-confirmed is stale (None: no reminder outstanding).
    reconfirm_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    cameras: Mapped[list["RegisteredCamera"]] = relationship(back_populates="registration",
                                                             cascade="all, delete-orphan")


class RegisteredCamera(Base):
    """One registered camera: where it is and what it sees, never its address on the network."""

    __tablename__ = "registered_cameras"
    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    latitude: Mapped[float] = mapped_column(Float, index=True)
    longitude: Mapped[float] = mapped_column(Float, index=True)
    outdoor: Mapped[bool] = mapped_column(Boolean)
    view_direction_deg: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    retention_days: Mapped[int] = mapped_column(Integer)
    shares_past: Mapped[bool] = mapped_column(Boolean)
    registration: Mapped[Registration] = relationship(back_populates="cameras")


class OwnerRequest(Base):
    """A footage request to a registered camera's owner: the same ask as an appliance camera's (window,
    purpose, reason, case, analyst, audit), answered by the owner uploading what they choose through a
    single-use, expiring link whose token is kept only as its SHA-256. The camera reference is cleared when its
    registration is deleted; the request and what was uploaded stay with the case."""

    __tablename__ = "owner_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    registered_camera_id: Mapped[int | None] = mapped_column(
        ForeignKey("registered_cameras.id", ondelete="SET NULL"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    analyst: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(100), default="", server_default="")
    purpose: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    case_number: Mapped[str] = mapped_column(String(100))
    window_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_to: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # open (the link works), done (the owner finished), declined, expired
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    link_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    statement: Mapped[str] = mapped_column(Text, default="", server_default="")


class OwnerUpload(Base):
    """A file a registered camera's owner uploaded for a request: the original bytes in the clip store, their
    SHA-256 on arrival, and what probing it found."""

    __tablename__ = "owner_uploads"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("owner_requests.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    upload_id: Mapped[str] = mapped_column(String(32), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    container: Mapped[str] = mapped_column(String(100))
    video_codec: Mapped[str] = mapped_column(String(50))
    duration_s: Mapped[float | None] = mapped_column(Float)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
