"""Incidents from CAD / 911 and from analysts: intake, update, listing (the service; `hub.api.incidents` is the
router, `hub.eido` maps NENA EIDO documents onto `IncidentFields`).

The CAD's own incident id (`external_id`) is the key: an intake with an id the hub knows updates that incident,
never a second one, even when two intakes of a new id race. A dispatch account (a CAD integration) changes and
reads only the incidents it filed; analysts and admins all of them. Every intake and every update is audited
(`incident.intake`, `incident.update`: who, from where, which incident, which fields changed; never the
description, which may name people). Times in the future beyond `MAX_SKEW` are refused: a CAD clock that is
off must not move an incident into tomorrow's canvass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.api.boundary import Moment
from hub.tables import Incident, Role, User

MAX_SKEW = dt.timedelta(minutes=2)
MAX_DESCRIPTION = 2000
Status = Literal["open", "closed"]
Source = Literal["cad", "eido", "analyst"]
#: The CAD's id: visible ASCII, no spaces (a URN such as an EIDO incident tracking identifier fits).
ExternalId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[!-~]+$")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Priority = Annotated[int, Field(ge=1, le=5, description="1 is the most urgent.")]
TypeText = Annotated[str, Field(min_length=1, max_length=100)]
Address = Annotated[str, Field(max_length=500)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]


class IncidentError(Exception):
    """Base class: an intake, update or read the incident service will not do; `status` is the HTTP answer."""

    status = 422


class IncidentInvalid(IncidentError):
    """The incident's fields are out of range (e.g. reported in the future); the message never quotes them."""


class IncidentNotFound(IncidentError):
    """No such incident, or none this user may see."""

    status = 404


class IncidentForbidden(IncidentError):
    """The incident belongs to another dispatch account."""

    status = 403


class IncidentFields(BaseModel):
    """An incident as CAD (or an analyst) files it; the same `external_id` again updates it."""

    model_config = ConfigDict(extra="forbid")
    external_id: ExternalId = Field(description="The CAD's own incident id.")
    type: TypeText
    priority: Priority = 3
    latitude: Latitude
    longitude: Longitude
    address: Address = ""
    reported_at: Moment = Field(description="When the incident was reported (not in the future).")
    description: Description = ""
    status: Status = "open"


class IncidentPatch(BaseModel):
    """What an update may change (close an incident with `{"status": "closed"}`)."""

    model_config = ConfigDict(extra="forbid")
    type: TypeText | None = None
    priority: Priority | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    address: Address | None = None
    reported_at: Moment | None = None
    description: Description | None = None
    status: Status | None = None


class IncidentOut(BaseModel):
    id: int
    external_id: str
    source: Source
    type: str
    priority: int
    status: Status
    latitude: float
    longitude: float
    address: str
    description: str
    reported_at: dt.datetime
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    canvass: str = Field(description="Where this incident's canvass is (GET).")


def incident_out(row: Incident) -> IncidentOut:
    return IncidentOut(id=row.id, external_id=row.external_id, source=row.source, type=row.type,
                       priority=row.priority, status=row.status, latitude=row.latitude, longitude=row.longitude,
                       address=row.address, description=row.description, reported_at=row.reported_at,
                       created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at,
                       canvass=f"/api/incidents/{row.id}/canvass")


@dataclass(frozen=True)
class Intake:
    incident: Incident
    created: bool
    changed: list[str]


def check_reported_at(reported_at: dt.datetime, *, now: dt.datetime) -> None:
    if reported_at > now + MAX_SKEW:
        raise IncidentInvalid(f"reported_at is in the future (more than {int(MAX_SKEW.total_seconds())} s ahead "
                              "of the hub's clock)")


def _may_change(incident: Incident, user: User) -> bool:
    return user.role in (Role.ADMIN, Role.ANALYST) or incident.created_by == user.username


def intake(session: Session, *, fields: IncidentFields, source: Source, user: User, client: str,
           now: dt.datetime) -> Intake:
    """File `fields` as a new incident, or update the incident with its external id; audited either way."""
    check_reported_at(fields.reported_at, now=now)
    existing = session.scalar(select(Incident).where(Incident.external_id == fields.external_id))
    if existing is None:
        try:
            with session.begin_nested():
                row = Incident(**fields.model_dump(), source=source, created_by=user.username, created_at=now,
                               updated_at=now)
                session.add(row)
                session.flush()
        except IntegrityError:  # the same id filed at the same moment by another request: update that one
            existing = session.scalar(select(Incident).where(Incident.external_id == fields.external_id))
        else:
            _audit(session, row, user=user, client=client, action="incident.intake",
                   changed=sorted(fields.model_fields_set | {"external_id"}), source=source)
            return Intake(row, True, [])
    changes = fields.model_dump(exclude={"external_id"})
    return _change(session, existing, changes, user=user, client=client, now=now, source=source)


def update(session: Session, *, incident_id: int, patch: IncidentPatch, user: User, client: str,
           now: dt.datetime) -> Intake:
    """Change the fields `patch` sets of an incident the user may change; audited."""
    row = visible_incident(session, incident_id=incident_id, user=user)
    changes = patch.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise IncidentInvalid("a field of the update is null; leave out what does not change")
    if "reported_at" in changes:
        check_reported_at(changes["reported_at"], now=now)
    return _change(session, row, changes, user=user, client=client, now=now, source=row.source)


def _change(session: Session, row: Incident, changes: dict, *, user: User, client: str, now: dt.datetime,
            source: str) -> Intake:
    if not _may_change(row, user):
        raise IncidentForbidden("this incident was filed by another dispatch account")
    changed = sorted(field for field, value in changes.items() if getattr(row, field) != value)
    for field in changed:
        setattr(row, field, changes[field])
    if changed:
        row.updated_at = now
    session.flush()
    _audit(session, row, user=user, client=client, action="incident.update", changed=changed, source=source)
    return Intake(row, False, changed)


def _audit(session: Session, row: Incident, *, user: User, client: str, action: str, changed: list[str],
           source: str) -> None:
    audit.append(session, actor=user.username, action=action, outcome=audit.Outcome.SUCCESS,
                 object=f"incident:{row.id}", source=client, external_id=row.external_id, via=source,
                 type=row.type, priority=row.priority, status=row.status, changed=changed)


def visible_incident(session: Session, *, incident_id: int, user: User) -> Incident:
    """The incident, if `user` may see it (a dispatch account: only what it filed); else IncidentNotFound."""
    row = session.get(Incident, incident_id)
    if row is None or (user.role == Role.DISPATCH and row.created_by != user.username):
        raise IncidentNotFound("no such incident")
    return row


def list_incidents(session: Session, *, user: User, status: Literal["open", "closed", "all"],
                   limit: int) -> list[Incident]:
    """Open incidents first, then by priority (1 first), then the newest report first."""
    query = select(Incident).order_by(case((Incident.status == "open", 0), else_=1), Incident.priority,
                                      Incident.reported_at.desc(), Incident.id.desc()).limit(limit)
    if status != "all":
        query = query.where(Incident.status == status)
    if user.role == Role.DISPATCH:
        query = query.where(Incident.created_by == user.username)
    return list(session.scalars(query))
