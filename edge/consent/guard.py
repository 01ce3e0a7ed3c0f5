"""The appliance's consent guard: the owner's policy, the owner's pause, and the judge of every grant.

The box is the final judge. It keeps the newest policy its owner signed for each
camera (versions only move forward; a policy that no owner key of this box
signed is refused, whoever forwards it), a local pause that the hub cannot
lift, and an access log the owner can read (every grant and policy presented,
accepted or refused, with the reason; every policy refused, every owner key
added or refused). Owner keys come only through a pairing
code shown on the box (`edge.consent.owners`). The decisions are `edge.consent.judge`'s; this
class reads what they need from the store and the witness and records what
they decided.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from edge.consent import judge
from edge.consent.owners import OwnerKeyStore
from edge.consent.store import ALL_CAMERAS, ApprovalAlreadyHonoured, ConsentStore
from edge.link.witness import LogForked, Witness
from wire import checkpoint as cp
from wire import consent as c
from wire import messages as m
from wire import owner as wo

__all__ = ["ALL_CAMERAS", "ConsentGuard", "Decision"]


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str
    grant: c.Grant | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ConsentGuard:
    def __init__(self, path: Path, *, device_id: str = "", cameras: list[str] = (), grant_key_pem: str = "",
                 audit_key_pem: str = "", audit_origin: str = "", witness: Witness | None = None):
        """Without keys (the owner's pause/resume command) the guard can pause and read, but judges nothing."""
        self.device_id, self.cameras, self.audit_origin = device_id, set(cameras), audit_origin
        self.grant_key = serialization.load_pem_public_key(grant_key_pem.encode()) if grant_key_pem else None
        self.audit_key = serialization.load_pem_public_key(audit_key_pem.encode()) if audit_key_pem else None
        self.witness: Witness | None = witness  # a grant's checkpoint must agree with the witnessed log
        self.store = ConsentStore(path)
        self.owners = OwnerKeyStore(path)
        self._cache_lock = threading.Lock()
        # camera → (signed text, the owner keys it was checked against, its document)
        self._verified: dict[str, tuple[str, frozenset[str], c.PolicyDocument | None]] = {}

    # -- the owner's keys, through a pairing code shown on the box -------------------

    def open_pairing(self) -> str:
        """A one-time code for adding an owner key (`canvass-edge owners pair`: only at the box)."""
        return self.owners.open_pairing(_now())

    def enrol_owner_key(self, offer: wo.KeyOffer) -> wo.OwnerKey:
        """Hold an owner key offered with an open pairing code's MAC; refusals go in the access log."""
        try:
            key = self.owners.enrol(offer, self.device_id, _now())
        except wo.OwnerSignatureError as exc:
            self.store.log(_now(), None, False, f"owner key refused: {exc}")
            raise
        self.store.log(_now(), None, True, f"owner key added: {key.label or key.credential_id[:16]} "
                                           f"(fingerprint {key.fingerprint()})")
        return key

    # -- the owner's policy, signed by the owner, forwarded by the hub -----------------

    def accept_policy(self, signed: wo.OwnerSigned) -> c.PolicyDocument:
        """Keep a policy its owner signed, newer than the one kept; anything else is refused (ConsentError) and
        the refusal is written in the access log."""
        try:
            document = self._owner_policy(signed)
            self.store.put_policy(document.camera, document.version, signed, _now())
        except (c.ConsentError, wo.OwnerSignatureError) as exc:
            self.store.log(_now(), None, False, f"policy refused: {exc}", camera=self._named_camera(signed))
            raise c.ConsentError(str(exc)) from None
        return document

    def _owner_policy(self, signed: wo.OwnerSigned) -> c.PolicyDocument:
        document = wo.open_owner_signed(signed, self.owners.keys(), c.PolicyDocument)
        if document.device_id != self.device_id:
            raise c.ConsentError(f"policy is for device {document.device_id}, not this one")
        if document.camera not in self.cameras:
            raise c.ConsentError(f"policy for unknown camera {document.camera!r}")
        return document

    def _named_camera(self, signed: wo.OwnerSigned) -> str | None:
        try:
            return c.PolicyDocument.model_validate_json(signed.document).camera
        except ValueError:
            return None

    def policy(self, camera: str) -> c.PolicyDocument | None:
        """The policy in force: the kept one, if an owner key the box holds now still verifies it (a removed
        key's policies stop counting: sharing is off until the owner signs again)."""
        text = self.store.signed_policy(camera)
        if text is None:
            return None
        keys = self.owners.keys()
        held = frozenset(keys)
        with self._cache_lock:
            cached = self._verified.get(camera)
        if cached is not None and cached[0] == text and cached[1] == held:
            return cached[2]  # the same signed text and keys as last time: verified already (asked 4×/s)
        try:
            document = wo.open_owner_signed(wo.OwnerSigned.model_validate_json(text), keys, c.PolicyDocument)
        except (wo.OwnerSignatureError, ValueError):
            document = None
        with self._cache_lock:
            self._verified[camera] = (text, held, document)
        return document

    # -- the owner's pause, on the box -----------------------------------------------

    def pause(self, camera: str = ALL_CAMERAS, note: str = "") -> None:
        self.store.pause(camera, note, _now())

    def resume(self, camera: str = ALL_CAMERAS) -> None:
        self.store.resume(camera)

    def paused(self, camera: str) -> bool:
        return self.store.paused(camera)

    def paused_cameras(self) -> set[str]:
        """Which of the box's cameras are paused now (read from the store, which the owner's command writes)."""
        pauses = self.store.pauses()
        return set(self.cameras) if ALL_CAMERAS in pauses else pauses & self.cameras

    # -- grants ----------------------------------------------------------------------

    def judge(self, signed: c.Signed, now: dt.datetime | None = None) -> Decision:
        """Accept or refuse a grant (with the reason); every decision goes in the access log."""
        now = now or _now()
        try:
            grant = c.open_signed(signed, self.grant_key, c.Grant)
        except c.ConsentError as exc:
            return self._log(Decision(False, f"forged grant: {exc}"), now)
        decision = Decision(False, self._refusal(grant, now) or "", grant)
        if decision.reason:
            return self._log(decision, now)
        approval = _approval_hash(grant)
        try:
            self.store.log(now, grant, True, "accepted", approval=approval)
        except ApprovalAlreadyHonoured as taken:
            return self._log(Decision(False, _honoured(str(taken)), grant), now)
        return Decision(True, "accepted", grant)

    def _refusal(self, grant: c.Grant, now: dt.datetime) -> str | None:
        problem = judge.grant_problem(grant, device_id=self.device_id, cameras=self.cameras, now=now)
        if problem:
            return problem
        if self.store.grant_used(str(grant.grant_id)):
            return "replayed grant: already used"
        approval = _approval_hash(grant)
        taken = self.store.approval_honoured(approval, grant.mode) if approval else None
        if taken is not None:
            return _honoured(taken)
        if self.paused(grant.camera):
            return "sharing paused on the appliance by its owner"
        document = self.policy(grant.camera)
        return judge.consent_problem(grant, document, now) or self._audit_problem(grant, document)

    def session_problem(self, grant: c.Grant, now: dt.datetime | None = None, *,
                        masks: list | None = None) -> str | None:
        """Why a running session under `grant` must end now, or None: asked again and again while it runs.

        The owner's pause, a policy that no longer shares this camera or this mode, the schedule, and the
        grant's expiry end a session; a new policy version that still allows it does not, unless its privacy
        masks differ from `masks`, the ones the session paints (a running session never shows what a new mask
        hides, nor keeps hiding what the owner has unmasked).
        """
        now = now or _now()
        return judge.session_problem(grant, self.policy(grant.camera), now, paused=self.paused(grant.camera),
                                     masks=masks)

    def _audit_problem(self, grant: c.Grant, document: c.PolicyDocument) -> str | None:
        try:
            checkpoint = cp.verify(grant.audit_checkpoint, self.audit_key, self.audit_origin, origin=self.audit_origin)
        except cp.CheckpointError as exc:
            return f"audit checkpoint rejected: {exc}"
        problem = self._witness_problem(grant) or judge.audit_entry_problem(grant, checkpoint)
        if problem is None and document.policy.needs_approval(grant.mode, grant.purpose):
            problem = (judge.owner_approval_problem(grant, self.owners.keys())
                       or judge.approval_problem(grant, checkpoint))
        return problem

    def _witness_problem(self, grant: c.Grant) -> str | None:
        if self.witness is None:
            return None
        try:
            self.witness.vouch(grant.audit_checkpoint)
        except LogForked as exc:
            return f"the grant's audit checkpoint contradicts the log this appliance has witnessed: {exc}"
        except Exception as exc:
            return f"cannot check the grant's audit checkpoint against the witnessed log: {exc}"
        return None

    def _log(self, decision: Decision, now: dt.datetime) -> Decision:
        self.store.log(now, decision.grant, decision.accepted, decision.reason)
        return decision

    def command_handlers(self) -> dict[type, Callable[[Any], m.ReplyResult]]:
        """Handlers for the hub's `consent.policy` and `access.grant` commands, by command class (edge.link)."""

        def policy(body: m.PolicyUpdate) -> m.PolicyTaken:
            document = self.accept_policy(body.signed)
            return m.PolicyTaken(camera=document.camera, version=document.version)

        def owner_key(body: m.OwnerKeyOffer) -> m.OwnerKeyTaken:
            try:
                key = self.enrol_owner_key(body.offer)
            except wo.OwnerSignatureError as exc:
                return m.OwnerKeyTaken(accepted=False, reason=str(exc)[:500])
            return m.OwnerKeyTaken(accepted=True, reason="held", fingerprint=key.fingerprint())

        def grant(body: m.GrantPresent) -> m.GrantDecision:
            decision = self.judge(c.Signed(document=body.signed.document, signature=body.signed.signature))
            return m.GrantDecision(accepted=decision.accepted, reason=decision.reason[:2000])

        return {m.PolicyUpdate: policy, m.OwnerKeyOffer: owner_key, m.GrantPresent: grant}

    def access_log(self) -> list[dict]:
        """What the owner reads: every grant presented to this box and what became of it."""
        return self.store.access_log()

    def close(self) -> None:
        self.owners.close()
        self.store.close()


def _approval_hash(grant: c.Grant) -> str | None:
    """The owner's approval the grant carries, as the box remembers it (SHA-256 of the signed document)."""
    if grant.owner_approval is None:
        return None
    return hashlib.sha256(grant.owner_approval.document.encode()).hexdigest()


def _honoured(grant_id: str) -> str:
    return (f"the owner's approval was already honoured for grant {grant_id}: one approval backs one grant; "
            "the owner must approve again")
