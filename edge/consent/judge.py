"""What the box decides about a grant, as plain functions over plain data (no I/O, no clock).

A grant is accepted only if every check passes, in this order: this device;
a camera of this box; validity time; never seen before; not paused here; a
policy exists and allows sharing, this mode, now, and is the version the grant
was issued under; the grant's audit entry is in the hub's signed audit log
(inclusion proof against a checkpoint signed by the hub's audit key) and names
this grant, its mode, camera and footage window (what an auditor reads is what
the box will show); where the policy needs the owner's approval (recorded
footage of a `request_only` or `emergency_live` camera), that approval is
signed by an owner key the box holds, covers this grant exactly, and is on the
same log. Each function returns the reason for
refusing, or None.
"""

from __future__ import annotations

import base64
import datetime as dt

from wire import audit as wa
from wire import checkpoint as cp
from wire import consent as c
from wire import merkle
from wire import owner as wo


def policy_problem(grant: c.Grant, policy: c.Policy, now: dt.datetime) -> str | None:
    """What the owner's (sharing) policy says against this grant now: its mode, live on request_only, live for
    a purpose that is no emergency on emergency_live, schedule."""
    if grant.mode not in policy.modes:
        return f"mode {grant.mode} is not allowed for this camera"
    if policy.sharing == "request_only" and grant.mode == "live":
        return "this camera shares recorded footage on request only, never live"
    if problem := policy.purpose_problem(grant.mode, grant.purpose):
        return problem
    if not policy.in_schedule(now):
        return "outside the camera's allowed schedule"
    return None


def grant_problem(grant: c.Grant, *, device_id: str, cameras: set[str], now: dt.datetime) -> str | None:
    """Whether the grant is for this box, one of its cameras, and valid now."""
    if grant.device_id != device_id:
        return f"wrong device: the grant is for {grant.device_id}"
    if grant.camera not in cameras:
        return f"wrong camera: this appliance has no camera {grant.camera!r}"
    if now < grant.not_before:
        return "grant not yet valid"
    if now >= grant.expires_at:
        return "grant expired"
    return None


def consent_problem(grant: c.Grant, document: c.PolicyDocument | None, now: dt.datetime) -> str | None:
    """Whether the camera's policy in force (`document`, None if the box has none) allows this grant now."""
    if document is None:
        return "no consent policy for this camera: sharing is off"
    policy = document.policy
    if policy.sharing == "off":
        return "sharing is off for this camera"
    if grant.policy_version != document.version:
        return f"grant was issued under policy version {grant.policy_version}, the camera's is {document.version}"
    problem = policy_problem(grant, policy, now)
    if problem:
        return problem
    if (grant.expires_at - grant.not_before).total_seconds() > policy.max_session_s + 60:
        return "grant lasts longer than the camera's maximum session"
    return None


def session_problem(grant: c.Grant, document: c.PolicyDocument | None, now: dt.datetime, *, paused: bool,
                    masks: list | None = None) -> str | None:
    """Why a running session under `grant` must end now, or None (see `ConsentGuard.session_problem`)."""
    if now >= grant.expires_at:
        return "grant expired"
    if paused:
        return "sharing paused on the appliance by its owner"
    if document is None or document.policy.sharing == "off":
        return "the owner stopped sharing this camera"
    problem = policy_problem(grant, document.policy, now)
    if problem is None and masks is not None and document.policy.privacy_masks != masks:
        return "the owner changed the privacy masks"
    return problem


def _proof(hashes: list[str]) -> list[bytes] | None:
    try:
        return [base64.b64decode(h, validate=True) for h in hashes]
    except ValueError:
        return None


def _included(text: str, index: int, proof: list[bytes], checkpoint: cp.Checkpoint) -> bool:
    return merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(text.encode()), proof, checkpoint.root)


def audit_entry_problem(grant: c.Grant, checkpoint: cp.Checkpoint) -> str | None:
    """Whether the grant's audit entry is in the log at `checkpoint` (already verified) and records this grant."""
    proof = _proof(grant.audit_proof)
    if proof is None:
        return "audit proof is not base64"
    if not _included(grant.audit_entry, grant.audit_index, proof, checkpoint):
        return "the grant's audit entry is not in the hub's signed audit log"
    try:
        entry = wa.AuditEntry.parse(grant.audit_entry)
        details = entry.details_as(wa.GrantDetails)
    except wa.AuditFormatError:
        return "the audit entry does not record this grant"
    if (entry.index != grant.audit_index or entry.action != "access.grant"
            or details.grant_id != str(grant.grant_id) or details.mode != grant.mode):
        return "the audit entry does not record this grant"
    if entry.object != f"camera:{grant.device_id}/{grant.camera}":
        return "the audit entry names another camera than the grant"
    if (details.window_from, details.window_to) != (grant.window_from, grant.window_to):
        return "the audit entry names other footage than the grant"
    if entry.case_number != grant.case_number or entry.reason != grant.reason:
        return "the audit entry's reason or case number differs from the grant's"
    return None


def approval_problem(grant: c.Grant, checkpoint: cp.Checkpoint) -> str | None:
    """request_only: the owner's approval must be on the signed log too, for this camera, case and footage."""
    if grant.approval_index is None or grant.approval_entry is None:
        return "this camera needs its owner's approval for each request, and the grant carries none"
    proof = _proof(grant.approval_proof)
    try:
        entry = wa.AuditEntry.parse(grant.approval_entry)
    except wa.AuditFormatError:
        entry = None
    if proof is None or entry is None:
        return "the owner's approval is malformed"
    if not _included(grant.approval_entry, grant.approval_index, proof, checkpoint):
        return "the owner's approval is not in the hub's signed audit log"
    try:
        details = entry.details_as(wa.ApprovalDetails)
    except wa.AuditFormatError:
        details = None
    if (details is None or entry.index != grant.approval_index or entry.action != "access.owner_decision"
            or entry.outcome != "success" or details.approved is not True or details.camera != grant.camera
            or details.device_id != grant.device_id or entry.case_number != grant.case_number
            or details.mode != grant.mode):
        return "the owner's approval does not cover this grant"
    if details.window_from is None or details.window_to is None:
        return "the owner's approval names no footage window"
    if (details.window_from, details.window_to) != (grant.window_from, grant.window_to):
        return "the grant asks for other footage than the owner approved"
    return None



def owner_approval_problem(grant: c.Grant, keys: dict[str, wo.OwnerKey]) -> str | None:
    """The owner's own approval: signed by one of `keys` (the owner keys the box holds) and naming exactly this
    grant's device, camera, mode, case and footage window. The hub's word that the owner approved is not it."""
    if grant.owner_approval is None:
        return "this camera needs its owner's approval for each request, and the grant carries none signed by " \
               "the owner"
    try:
        approval = wo.open_owner_signed(grant.owner_approval, keys, c.ApprovalDocument)
    except wo.OwnerSignatureError as exc:
        return f"the approval is not the owner's: {exc}"
    if ((approval.device_id, approval.camera, approval.mode, approval.case_number)
            != (grant.device_id, grant.camera, grant.mode, grant.case_number)):
        return "the owner's signed approval does not cover this grant"
    if (approval.window_from, approval.window_to) != (grant.window_from, grant.window_to):
        return "the grant asks for other footage than the owner approved"
    return None
