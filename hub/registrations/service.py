"""Registrations: made from the public form, confirmed by proof of the e-mail address (double opt-in), seen,
changed, re-confirmed and deleted through the private manage link, reminded yearly and marked stale when not
re-confirmed in time. Every method blocks (database, mail queue): the API calls them from worker threads.

The audit log gets the fact and time of each step under `registration:<id>` and nothing personal (no name,
address, e-mail or network address), so deleting a registration leaves nothing of the person in the log and
the log still verifies.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import audit
from hub.db import Database
from hub.mail import Mailer
from hub.registrations import mails, tokens
from hub.registrations.errors import LinkNotValid
from hub.registrations.forms import RegisteredCameraOut, RegistrationIn, RegistrationOut
from hub.settings import HubSettings
from hub.tables import OwnerRequest, RegisteredCamera, Registration, RegistrationStatus, utcnow

log = logging.getLogger(__name__)

ACTOR = "registrant"  # who acts through a manage link, as the audit log names them (nobody in particular)
#: A registration nobody confirmed is deleted after this long: the address may not be the registrant's.
UNCONFIRMED_KEPT = dt.timedelta(days=7)


def offered(status: str, reconfirm_by: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a registration's cameras are offered in canvasses: confirmed, and not past a re-confirmation
    deadline."""
    return status == RegistrationStatus.CONFIRMED.value and (reconfirm_by is None or reconfirm_by > now)


class Registrations:
    def __init__(self, db: Database, settings: HubSettings, mailer: Mailer,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.db, self.settings, self.mailer, self.clock = db, settings, mailer, clock

    def manage_token(self, registration: Registration) -> str:
        return tokens.manage_token(self.settings.secret_key, registration.manage_salt)

    # -- the public form ---------------------------------------------------------------------

    def register(self, form: RegistrationIn) -> None:
        """Keep the registration unconfirmed and send the confirmation e-mail with its private link."""
        salt = tokens.new_salt()
        token = tokens.manage_token(self.settings.secret_key, salt)
        with self.db.session() as session:
            registration = Registration(contact_name=form.contact_name, email=form.email, phone=form.phone,
                                        address=form.address, manage_salt=salt,
                                        manage_token_hash=tokens.digest(token), created_at=self.clock(),
                                        status=RegistrationStatus.UNCONFIRMED.value)
            registration.cameras = [RegisteredCamera(**camera.model_dump()) for camera in form.cameras]
            session.add(registration)
            session.flush()
            self._audit(session, registration, "registration.created", cameras=len(form.cameras))
        self.mailer.send(mails.confirm_mail(self.settings, form.email, token))

    # -- the private manage link -------------------------------------------------------------

    def _find(self, session: Session, token: str) -> Registration:
        registration = session.scalar(select(Registration).where(
            Registration.manage_token_hash == tokens.digest(token))) if tokens.well_formed(token) else None
        if registration is None:
            raise LinkNotValid("this registration link is not valid: the registration was deleted, or the link "
                               "is not complete (copy the whole link from the e-mail)")
        return registration

    def view(self, token: str) -> RegistrationOut:
        with self.db.session() as session:
            return self._out(self._find(session, token))

    def confirm(self, token: str) -> RegistrationOut:
        """The owner confirms (the first time: the double opt-in) or re-confirms; their cameras count from now."""
        with self.db.session() as session:
            registration = self._find(session, token)
            now = self.clock()
            first = registration.confirmed_at is None
            registration.status = RegistrationStatus.CONFIRMED.value
            registration.confirmed_at = registration.confirmed_at or now
            registration.affirmed_at, registration.reminded_at, registration.reconfirm_by = now, None, None
            self._audit(session, registration, "registration.confirmed" if first else "registration.reconfirmed")
            return self._out(registration)

    def change(self, token: str, form: RegistrationIn) -> RegistrationOut:
        """Replace the registration's details and cameras. A new e-mail address must be proven again: the
        registration is unconfirmed until the new address confirms, and the old link stops working."""
        new_address = None
        with self.db.session() as session:
            registration = self._find(session, token)
            if form.email != registration.email:
                registration.manage_salt = tokens.new_salt()
                new_address = self.manage_token(registration)
                registration.manage_token_hash = tokens.digest(new_address)
                registration.status, registration.confirmed_at = RegistrationStatus.UNCONFIRMED.value, None
            registration.contact_name, registration.email = form.contact_name, form.email
            registration.phone, registration.address = form.phone, form.address
            self._replace_cameras(session, registration, form)
            if registration.status == RegistrationStatus.CONFIRMED.value:
                registration.affirmed_at, registration.reminded_at, registration.reconfirm_by = \
                    self.clock(), None, None
            self._audit(session, registration, "registration.changed", cameras=len(form.cameras),
                        email_changed=new_address is not None)
            out = self._out(registration)
        if new_address is not None:
            self.mailer.send(mails.confirm_mail(self.settings, form.email, new_address))
        return out

    @staticmethod
    def _replace_cameras(session: Session, registration: Registration, form: RegistrationIn) -> None:
        """Cameras kept in order are updated in place (their requests keep pointing at them); extra ones are
        removed, new ones added."""
        old = sorted(registration.cameras, key=lambda camera: camera.id)
        for camera, given in zip(old, form.cameras):
            for key, value in given.model_dump().items():
                setattr(camera, key, value)
        for camera in old[len(form.cameras):]:
            _forget_camera(session, camera.id)
            registration.cameras.remove(camera)
        for given in form.cameras[len(old):]:
            registration.cameras.append(RegisteredCamera(**given.model_dump()))

    def delete(self, token: str) -> None:
        """Remove the registration and its cameras (the personal data); requests and uploads already made stay
        with their cases, no longer linked to anyone. The audit log keeps the fact and its time."""
        with self.db.session() as session:
            registration = self._find(session, token)
            for camera in registration.cameras:
                _forget_camera(session, camera.id)
            self._audit(session, registration, "registration.deleted")
            session.delete(registration)

    # -- yearly re-confirmation ---------------------------------------------------------------

    def remind_due(self) -> int:
        """Send the yearly reminder to each confirmed registration not affirmed for `registration_reconfirm_days`
        and not reminded yet; it has `registration_grace_days` to re-confirm."""
        now = self.clock()
        due_before = now - dt.timedelta(days=self.settings.registration_reconfirm_days)
        by = now + dt.timedelta(days=self.settings.registration_grace_days)
        mails_out = []
        with self.db.session() as session:
            due = session.scalars(select(Registration).where(
                Registration.status == RegistrationStatus.CONFIRMED.value, Registration.reminded_at.is_(None),
                Registration.affirmed_at <= due_before).limit(500)).all()
            for registration in due:
                registration.reminded_at, registration.reconfirm_by = now, by
                self._audit(session, registration, "registration.reminded", reconfirm_by=by.isoformat())
                mails_out.append(mails.reminder_mail(self.settings, registration.email,
                                                     self.manage_token(registration), by))
        for mail in mails_out:
            self.mailer.send(mail)
        return len(mails_out)

    def mark_stale(self) -> int:
        """Mark stale every registration past its re-confirmation deadline (it was already not offered)."""
        now = self.clock()
        with self.db.session() as session:
            stale = session.scalars(select(Registration).where(
                Registration.status == RegistrationStatus.CONFIRMED.value, Registration.reconfirm_by <= now)).all()
            for registration in stale:
                registration.status = RegistrationStatus.STALE.value
                self._audit(session, registration, "registration.stale")
            return len(stale)

    def purge_unconfirmed(self) -> int:
        """Delete the registrations never confirmed within `UNCONFIRMED_KEPT` (audited as the fact only)."""
        with self.db.session() as session:
            due = session.scalars(select(Registration).where(
                Registration.status == RegistrationStatus.UNCONFIRMED.value, Registration.confirmed_at.is_(None),
                Registration.created_at <= self.clock() - UNCONFIRMED_KEPT).limit(500)).all()
            for registration in due:
                self._audit(session, registration, "registration.unconfirmed_deleted")
                session.delete(registration)
            return len(due)

    # -- helpers ------------------------------------------------------------------------------

    def _out(self, registration: Registration) -> RegistrationOut:
        cameras = [RegisteredCameraOut(id=camera.id, latitude=camera.latitude, longitude=camera.longitude,
                                       outdoor=camera.outdoor, view_direction_deg=camera.view_direction_deg,
                                       description=camera.description, retention_days=camera.retention_days,
                                       shares_past=camera.shares_past)
                   for camera in sorted(registration.cameras, key=lambda camera: camera.id)]
        return RegistrationOut(contact_name=registration.contact_name, email=registration.email,
                               phone=registration.phone, address=registration.address, cameras=cameras,
                               status=registration.status, confirmed_at=registration.confirmed_at,
                               reconfirm_by=registration.reconfirm_by,
                               offered=offered(registration.status, registration.reconfirm_by, self.clock()))

    @staticmethod
    def _audit(session: Session, registration: Registration, action: str, **details) -> None:
        audit.append(session, actor=ACTOR, action=action, outcome=audit.Outcome.SUCCESS,
                     object=f"registration:{registration.id}", **details)


def _forget_camera(session: Session, camera_id: int) -> None:
    """Requests to a camera that goes away stay with their cases, no longer linked to it."""
    session.execute(update(OwnerRequest).where(OwnerRequest.registered_camera_id == camera_id)
                    .values(registered_camera_id=None))
