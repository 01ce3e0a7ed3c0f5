"""What the hub does with each message from an appliance (transport-free, so it is tested directly).

Events are stored exactly once and in order per appliance: event `seq` of the
appliance's outbox stream is applied only right after `seq - 1`; a repeat is
acknowledged again and dropped; one that arrives after a gap is not stored,
and the cumulative acknowledgement tells the appliance where to resend from.
Coverage reports become coverage spans (`hub.coverage`), not rows of the events table.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.access.grants import plate_sharing
from hub.coverage import ReportedSpan, record_coverage
from hub.tables import (Alert, Appliance, ApplianceState, AuditCheckpoint, Camera, CameraStatusValue, Event,
                        PlateReadRow, PlateSharing, PlateThumbnail, StreamSession, utcnow)
from wire import checkpoint
from wire import messages as m
from wire.plates import canonical

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ack:
    """Where the appliance's event stream stands once an event was taken; `applied`: this event was stored now
    (not a repeat, nor one after a gap)."""

    device_id: str
    stream: UUID
    upto: int
    applied: bool = False


def active_appliance(session: Session, device_id: str) -> Appliance | None:
    appliance = session.scalar(select(Appliance).where(Appliance.device_id == device_id))
    if appliance is None or appliance.state != ApplianceState.ACTIVE:
        log.warning("message from unknown or revoked appliance %s dropped", device_id)
        return None
    return appliance


def camera(session: Session, appliance: Appliance, name: str) -> Camera:
    row = session.scalar(select(Camera).where(Camera.appliance_id == appliance.id, Camera.name == name))
    if row is None:
        row = Camera(appliance_id=appliance.id, name=name, status=CameraStatusValue.OFFLINE)
        session.add(row)
        session.flush()
    return row


def ingest_event(session: Session, device_id: str, envelope: m.EventEnvelope, *,
                 coverage_days: int = 30) -> Ack | None:
    """Apply one event (once, in order); `coverage_days` is how much coverage is worth keeping (the
    footage max age)."""
    appliance = active_appliance(session, device_id)
    if appliance is None:
        return None
    stream = str(envelope.stream)
    if appliance.event_stream != stream:
        if envelope.seq != 1:
            # A stream the hub has not started (its first event was lost): have it resend from 1.
            return Ack(device_id, envelope.stream, 0)
        log.info("appliance %s starts event stream %s", device_id, stream)
        appliance.event_stream, appliance.last_event_seq = stream, 0
    expected = appliance.last_event_seq + 1
    applied = envelope.seq == expected
    if applied:
        _apply(session, appliance, envelope, coverage_days)
        appliance.last_event_seq = envelope.seq
    elif envelope.seq > expected:
        log.debug("appliance %s: event %d after a gap (expected %d); asking to resend", device_id, envelope.seq,
                  expected)
    now = utcnow()
    appliance.last_seen = now
    return Ack(device_id, envelope.stream, appliance.last_event_seq, applied)


def _apply(session: Session, appliance: Appliance, envelope: m.EventEnvelope, coverage_days: int) -> None:
    body = envelope.body
    if isinstance(body, m.Coverage):  # kept as spans only (hub.coverage says why)
        span = ReportedSpan(camera(session, appliance, body.camera).id, body.start, body.end, body.recorded,
                            body.reason)
        record_coverage(session, span=span, keep_since=utcnow() - dt.timedelta(days=coverage_days))
        return
    stored = body.model_dump(mode="json")
    event_id = str(envelope.id)
    if isinstance(body, m.CameraStatus):
        cam = camera(session, appliance, body.camera)
        set_status(cam, CameraStatusValue(body.status), envelope.at)
        cam.sharing_paused = body.paused  # a box that predates the field never says paused
        cam.last_seen = envelope.at
    elif isinstance(body, m.Health):
        appliance.online = True
    elif isinstance(body, m.PlateRead):
        stored = _plate_read(session, appliance, body, event_id)
    elif isinstance(body, m.StreamEnded):
        _stream_ended(session, appliance, body)
    elif isinstance(body, m.Witnessed):
        _witnessed(session, appliance, body.note)
    elif isinstance(body, m.Alarm):
        session.add(Alert(camera_id=None, appliance_id=appliance.id, kind="alarm", priority="normal",
                          message=f"{body.code}: {body.message}", at=envelope.at, event_id=event_id))
    session.add(Event(appliance_id=appliance.id, stream=str(envelope.stream), seq=envelope.seq, event_id=event_id,
                      kind=body.kind, at=envelope.at, body=stored))


def _plate_read(session: Session, appliance: Appliance, body: m.PlateRead, event_id: str) -> dict:
    """Keep the read (and its thumbnail, and a hit's alert) if the owner's policy shares it; what the events
    table keeps of it (never the thumbnail: the read's row has it)."""
    cam = camera(session, appliance, body.camera)
    sharing = PlateSharing(plate_sharing(session, cam.id))  # the owner's policy, the one source of truth
    if not (sharing == PlateSharing.ALL or (sharing == PlateSharing.HITS_ONLY and body.hit is not None)):
        return {"kind": "plate_read", "camera": body.camera, "withheld": sharing.value}
    read = PlateReadRow(camera_id=cam.id, event_id=event_id, plate=body.plate, plate_canonical=canonical(body.plate),
                        confidence=body.confidence, first_seen=body.first_seen, last_seen=body.last_seen,
                        hotlist=body.hit.list_name if body.hit else None)
    session.add(read)
    session.flush()
    thumbnail = body.thumbnail()
    if thumbnail is not None:
        session.add(PlateThumbnail(read_id=read.id, jpeg=thumbnail))
    hit = body.hit
    if hit is not None:
        session.add(Alert(camera_id=cam.id, appliance_id=appliance.id, kind="hotlist_hit", priority="high",
                          message=f"{body.plate} on {hit.list_name}: {hit.reason}", at=body.last_seen,
                          event_id=event_id, read_id=read.id, list_name=hit.list_name, entry_plate=hit.entry_plate,
                          reason=hit.reason))
    stored = body.model_dump(mode="json", exclude={"thumbnail_jpeg"})
    return {**stored, "thumbnail_bytes": len(thumbnail)} if thumbnail is not None else stored


def set_status(cam: Camera, status: CameraStatusValue, at: dt.datetime) -> None:
    """The camera's status, and since when it has been offline (kept through repeated offline reports)."""
    if status == CameraStatusValue.OFFLINE:
        if cam.status != CameraStatusValue.OFFLINE or cam.offline_since is None:
            cam.offline_since = at
    else:
        cam.offline_since = None
    cam.status = status


def _witnessed(session: Session, appliance: Appliance, note: str) -> None:
    """Keep the box's witnessed checkpoint if it is one this hub signed and newer than the one kept."""
    try:
        size = checkpoint.parse_body(note.partition("\n\n")[0] + "\n").size
    except checkpoint.CheckpointError:
        size = None
    issued = session.get(AuditCheckpoint, size) if size is not None and size < 2**62 else None
    if issued is None or issued.note != note:
        log.warning("appliance %s says it witnessed a checkpoint this hub never issued", appliance.device_id)
        return
    if appliance.witnessed_size is None or issued.size > appliance.witnessed_size:
        appliance.witnessed_note, appliance.witnessed_size = note, issued.size
        appliance.witnessed_at = utcnow()


def ingest_state(session: Session, device_id: str, state: m.DeviceState) -> bool:
    """Record presence; True when the appliance just came online."""
    appliance = active_appliance(session, device_id)
    if appliance is None:
        return False
    was_online = appliance.online
    appliance.online = state.state == "online"
    appliance.last_seen = utcnow()
    if not appliance.online:
        for cam in appliance.cameras:
            set_status(cam, CameraStatusValue.OFFLINE, appliance.last_seen)
    return appliance.online and not was_online


def _stream_ended(session: Session, appliance: Appliance, body: m.StreamEnded) -> None:
    """Close the session's record and audit its end with its duration (the appliance's own times)."""
    row = session.get(StreamSession, str(body.session_id))
    duration = round((body.ended_at - body.started_at).total_seconds(), 2)
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason, row.duration_s = body.ended_at, body.reason, duration
    audit.append(session, actor=f"appliance:{appliance.device_id}", action="stream.end",
                 outcome=audit.Outcome.SUCCESS, object=f"camera:{row.camera_id}" if row else
                 f"camera:{appliance.device_id}/{body.camera}", reason=body.reason,
                 case_number=row.case_number if row else "", session_id=str(body.session_id),
                 grant_id=str(body.grant_id), mode=body.mode, analyst=row.analyst if row else None,
                 started_at=body.started_at.isoformat(), ended_at=body.ended_at.isoformat(), duration_s=duration,
                 packets_sent=body.packets_sent, bytes_sent=body.bytes_sent)
