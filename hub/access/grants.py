"""Signing what the appliance judges from the hub: access grants (a policy or an approval is the owner's to sign,
never the hub's; an owner's signed approval rides inside the grant).

`issue_grant` writes the audit entry first (naming the footage window it
grants, so an auditor can tell what could be shown), has the log signed at
once (a grant never waits for the checkpoint timer), and puts the entry, its
inclusion proof and that checkpoint inside the grant, so the appliance can
check for itself that the access it is asked to give is on the record. The checks of role,
consent and schedule that precede it are the access service's
(`hub.access.service`); the appliance repeats them against its own copy of
the policy regardless.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.audit.log import canonical, inclusion_proof
from hub.services import HubServices
from hub.tables import AuditEntry, ConsentVersion, utcnow
from wire import audit as wa
from wire import consent as c
from wire import owner as wo


def current_consent(session: Session, camera_id: int) -> ConsentVersion | None:
    """The consent version in force for a camera (the newest), or None: sharing is off."""
    return session.scalar(select(ConsentVersion).where(ConsentVersion.camera_id == camera_id)
                          .order_by(ConsentVersion.version.desc()).limit(1))


def plate_sharing(session: Session, camera_id: int) -> c.PlateSharing:
    """What the camera's owner lets the hub keep of its plate reads: their policy in force says; none without one."""
    return plate_sharing_of(session, [camera_id])[camera_id]


def plate_sharing_of(session: Session, camera_ids: list[int]) -> dict[int, c.PlateSharing]:
    """`plate_sharing` of many cameras in one query (a camera list would otherwise ask once per camera)."""
    newest: dict[int, ConsentVersion] = {}
    for row in session.scalars(select(ConsentVersion).where(ConsentVersion.camera_id.in_(camera_ids))
                               .order_by(ConsentVersion.version)):
        newest[row.camera_id] = row
    return {camera_id: c.Policy.model_validate(newest[camera_id].policy).plate_sharing if camera_id in newest
            else "none" for camera_id in camera_ids}


def issue_grant(hub: HubServices, *, device_id: str, camera: str, mode: c.AccessMode, analyst: str, reason: str,
                case_number: str, policy_version: int, lifetime_s: int, source: str = "",
                window: tuple[dt.datetime, dt.datetime] | None = None,
                not_before: dt.datetime | None = None, approval_index: int | None = None,
                owner_approval: str | None = None, purpose: str = "other", unit: str = "") -> c.Signed:
    """Audit, checkpoint, sign. `purpose` goes on the record and into the grant (the box checks it where the
    owner's policy depends on it); `unit` on the record only (the transparency report counts both)."""
    grant_id = uuid.uuid4()
    footage = wa.FootageWindow(window_from=window[0] if window else None, window_to=window[1] if window else None)
    with hub.db.session() as session:
        index = audit.append(session, actor=analyst, action="access.grant", outcome=audit.Outcome.SUCCESS,
                             object=f"camera:{device_id}/{camera}", source=source, reason=reason,
                             case_number=case_number, grant_id=str(grant_id), mode=mode, purpose=purpose,
                             unit=unit, **footage.details())
    checkpoint = hub.checkpoint()
    with hub.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.leaf_index == index))
        proof = inclusion_proof(session, index, checkpoint.size)
        entry_text = canonical(entry).decode()
        approval = {}
        if approval_index is not None:
            approved = session.scalar(select(AuditEntry).where(AuditEntry.leaf_index == approval_index))
            approval = dict(approval_index=approval_index, approval_entry=canonical(approved).decode(),
                            approval_proof=[base64.b64encode(h).decode()
                                            for h in inclusion_proof(session, approval_index, checkpoint.size)])
    start = not_before or utcnow()
    grant = c.Grant(grant_id=grant_id, device_id=device_id, camera=camera, mode=mode,
                    window_from=footage.window_from, window_to=footage.window_to,
                    analyst=analyst, purpose=purpose, reason=reason, case_number=case_number, not_before=start,
                    expires_at=start + dt.timedelta(seconds=lifetime_s), policy_version=policy_version,
                    audit_index=index, audit_entry=entry_text,
                    audit_proof=[base64.b64encode(h).decode() for h in proof], audit_checkpoint=checkpoint.note,
                    owner_approval=wo.OwnerSigned.model_validate_json(owner_approval) if owner_approval else None,
                    **approval)
    return c.sign(grant, hub.signing_key)
