"""Owners' e-mail alerts: a camera offline longer than the threshold its owner set (and back online again), and a
footage request still waiting for a decision after the owner's reminder time.

What is due is decided by pure functions over plain rows (`offline_due`, `back_online`, `reminders_due`); the
`OwnerAlerts` thread reads the rows, sends through `hub.mail` and records what it sent, every
`owner_alert_check_s`, so an alert leaves at most that long after it falls due. One e-mail per owner per outage:
`offline_alerts_sent` remembers the outage (the camera's `offline_since`) each owner was told of, and its row
goes, with a "back online" e-mail, when the camera returns. A reminder goes once per request.

`start()` starts the thread; `passes` counts its passes; `stop()` wakes it and waits until it has exited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.db import Database
from hub.mail import Mail, Mailer
from hub.periodic import PeriodicPass
from hub.tables import (
    Appliance,
    ApplianceState,
    Business,
    Camera,
    FootageRequest,
    OfflineAlertSent,
    OwnerAlertSettings,
    RequestStatus,
    Role,
    User,
    utcnow,
)


@dataclass(frozen=True)
class Owner:
    user_id: int
    email: str
    business_id: int
    offline_after_s: int | None
    reminder_after_s: int | None


@dataclass(frozen=True)
class OfflineCamera:
    camera_id: int
    business_id: int
    name: str
    offline_since: dt.datetime


def offline_due(owners: list[Owner], offline: list[OfflineCamera], told: dict[tuple[int, int], dt.datetime],
                now: dt.datetime) -> list[tuple[Owner, OfflineCamera]]:
    """(owner, camera) pairs to tell now: offline past the owner's threshold, this outage not yet told."""
    due = []
    for owner in owners:
        if owner.offline_after_s is None:
            continue
        for camera in offline:
            if camera.business_id != owner.business_id:
                continue
            if now - camera.offline_since < dt.timedelta(seconds=owner.offline_after_s):
                continue
            if told.get((owner.user_id, camera.camera_id)) != camera.offline_since:
                due.append((owner, camera))
    return due


def back_online(told: dict[tuple[int, int], dt.datetime], offline_since: dict[int, dt.datetime | None]
                ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Of the outages told, (those whose camera is back up: tell and forget, those superseded by a newer
    outage: forget)."""
    returned, superseded = [], []
    for (user_id, camera_id), since in told.items():
        now_since = offline_since.get(camera_id)
        if now_since is None:
            returned.append((user_id, camera_id))
        elif now_since != since:
            superseded.append((user_id, camera_id))
    return returned, superseded


def reminders_due(owners: list[Owner], pending: list[tuple[int, int, dt.datetime]], now: dt.datetime
                  ) -> dict[int, list[Owner]]:
    """request id → the owners to remind, for (request id, business id, created at) still pending and not
    yet reminded, waiting longer than each owner's reminder time."""
    due: dict[int, list[Owner]] = {}
    for request_id, business_id, created in pending:
        for owner in owners:
            if (owner.business_id == business_id and owner.reminder_after_s is not None
                    and now - created >= dt.timedelta(seconds=owner.reminder_after_s)):
                due.setdefault(request_id, []).append(owner)
    return due


def _owners(session: Session) -> list[Owner]:
    rows = session.execute(
        select(User.id, User.email, User.business_id, OwnerAlertSettings.camera_offline_after_s,
               OwnerAlertSettings.request_reminder_after_s)
        .join(OwnerAlertSettings, OwnerAlertSettings.user_id == User.id)
        .where(User.role == Role.OWNER, User.disabled.is_(False), User.email != "", User.business_id.is_not(None)))
    return [Owner(*row) for row in rows]


def _offline_cameras(session: Session, businesses: set[int]) -> list[OfflineCamera]:
    rows = session.execute(
        select(Camera.id, Appliance.business_id, Camera.name, Camera.offline_since).join(Appliance)
        .where(Camera.offline_since.is_not(None), Appliance.state == ApplianceState.ACTIVE,
               Appliance.business_id.in_(businesses)))
    return [OfflineCamera(*row) for row in rows]


class OwnerAlerts(PeriodicPass):
    name = "owner alert pass"

    def __init__(self, db: Database, mailer: Mailer, *, interval_s: float, public_url: str,
                 clock: Callable[[], dt.datetime] = utcnow):
        super().__init__(interval_s)
        self.db, self.mailer, self.public_url, self.clock = db, mailer, public_url, clock

    def run_once(self) -> None:
        """One pass; the e-mails go once what they record is committed (a failed pass sends nothing)."""
        mails: list[Mail] = []
        with self.db.session() as session:
            owners = _owners(session)
            if owners:
                mails += self._offline(session, owners)
                mails += self._reminders(session, owners)
        for mail in mails:
            self.mailer.send(mail)

    def _offline(self, session: Session, owners: list[Owner]) -> list[Mail]:
        mails = []
        now = self.clock()
        offline = _offline_cameras(session, {o.business_id for o in owners})
        told = {(r.user_id, r.camera_id): r.offline_since for r in session.scalars(select(OfflineAlertSent))}
        since_now = dict(session.execute(select(Camera.id, Camera.offline_since)
                                         .where(Camera.id.in_({c for _, c in told}))).all()) if told else {}
        returned, superseded = back_online(told, since_now)
        emails = {o.user_id: o.email for o in owners}
        for user_id, camera_id in returned + superseded:
            session.execute(delete(OfflineAlertSent).where(OfflineAlertSent.user_id == user_id,
                                                           OfflineAlertSent.camera_id == camera_id))
        for user_id, camera_id in returned:
            if user_id in emails:
                name = session.get(Camera, camera_id).name
                mails.append(Mail((emails[user_id],), f"Camera {name} is back online",
                                  f"Your camera {name} is reporting again (as of {now:%Y-%m-%d %H:%M} UTC).\n"))
        for owner, camera in offline_due(owners, offline, {k: v for k, v in told.items()
                                                           if k not in superseded}, now):
            session.merge(OfflineAlertSent(user_id=owner.user_id, camera_id=camera.camera_id,
                                           offline_since=camera.offline_since, sent_at=now))
            mails.append(self._offline_mail(session, owner, camera, now))
        return mails

    def _offline_mail(self, session: Session, owner: Owner, camera: OfflineCamera, now: dt.datetime) -> Mail:
        business = session.get(Business, camera.business_id).name
        minutes = int((now - camera.offline_since).total_seconds() // 60)
        return Mail((owner.email,), f"Camera {camera.name} has been offline for {minutes} min",
                    f"Your camera {camera.name} ({business}) has been offline since "
                    f"{camera.offline_since:%Y-%m-%d %H:%M:%S} UTC: it is not recording. Check its power and "
                    f"network cable, and the appliance.\n\nYou will get one more e-mail when it is back. Change "
                    f"these alerts at {self.public_url}/owner/activity\n")

    def _reminders(self, session: Session, owners: list[Owner]) -> list[Mail]:
        now, mails = self.clock(), []
        pending = session.execute(
            select(FootageRequest.id, Appliance.business_id, FootageRequest.created_at)
            .join(Camera, Camera.id == FootageRequest.camera_id).join(Appliance)
            .where(FootageRequest.status == RequestStatus.PENDING.value, FootageRequest.reminded_at.is_(None),
                   Appliance.business_id.in_({o.business_id for o in owners}))).all()
        for request_id, due in reminders_due(owners, [tuple(p) for p in pending], now).items():
            request = session.get(FootageRequest, request_id)
            request.reminded_at = now
            to = tuple(sorted({owner.email for owner in due}))
            deadline = f" by {request.expires_at:%Y-%m-%d %H:%M} UTC" if request.expires_at else ""
            mails.append(Mail(to, f"Footage request {request_id} still waits for your decision",
                                  f"Footage request {request_id} has waited since {request.created_at:%Y-%m-%d %H:%M} "
                                  f"UTC. Please approve, trim or deny it{deadline} at {self.public_url}/owner; "
                                  "undecided, it expires and nothing is shared.\n"))
        return mails
