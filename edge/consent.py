"""The appliance's consent guard: the owner's policy, the owner's pause, and the judge of every grant.

The box is the final judge. It keeps the newest policy the hub signed for each
camera (versions only move forward), a local pause that the hub cannot lift,
and an access log the owner can read (every grant presented, accepted or
refused, with the reason). A grant is accepted only if every check passes, in
this order: hub signature; this device; a camera of this box; validity time;
never seen before; not paused here; a policy exists and allows sharing, this
mode, now, and is the version the grant was issued under; the grant's audit
entry is in the hub's signed audit log (inclusion proof against a checkpoint
signed by the hub's audit key) and names this grant.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from wire import checkpoint as cp
from wire import consent as c
from wire import merkle

ALL_CAMERAS = "*"


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str
    grant: c.Grant | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _policy_problem(grant: c.Grant, policy: c.Policy, now: dt.datetime) -> str | None:
    """What the owner's (sharing) policy says against this grant now: its mode, live on request_only, schedule."""
    if grant.mode not in policy.modes:
        return f"mode {grant.mode} is not allowed for this camera"
    if policy.sharing == "request_only" and grant.mode == "live":
        return "this camera shares recorded footage on request only, never live"
    if not policy.in_schedule(now):
        return "outside the camera's allowed schedule"
    return None


class ConsentGuard:
    def __init__(self, path: Path, *, device_id: str = "", cameras: list[str] = (), grant_key_pem: str = "",
                 audit_key_pem: str = "", audit_origin: str = "", witness=None):
        """Without keys (the owner's pause/resume command) the guard can pause and read, but judges nothing."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.device_id, self.cameras, self.audit_origin = device_id, set(cameras), audit_origin
        self.grant_key = serialization.load_pem_public_key(grant_key_pem.encode()) if grant_key_pem else None
        self.audit_key = serialization.load_pem_public_key(audit_key_pem.encode()) if audit_key_pem else None
        self.witness = witness  # edge.witness.Witness: a grant's checkpoint must agree with the witnessed log
        self._lock = threading.Lock()
        self._verified: dict[str, tuple[str, c.PolicyDocument]] = {}  # camera → (signed text, its document)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS policies (camera TEXT PRIMARY KEY, version INTEGER NOT NULL,
                                                 signed TEXT NOT NULL, received_at TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS pauses (camera TEXT PRIMARY KEY, since TEXT NOT NULL, note TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS access_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, grant_id TEXT,
                camera TEXT, mode TEXT, analyst TEXT, reason TEXT, case_number TEXT, accepted INTEGER NOT NULL,
                decision TEXT NOT NULL);
            CREATE UNIQUE INDEX IF NOT EXISTS access_log_grant ON access_log (grant_id) WHERE accepted = 1;
        """)

    # -- the owner's policy, from the hub --------------------------------------------

    def accept_policy(self, signed: c.Signed) -> c.PolicyDocument:
        document = c.open_signed(signed, self.grant_key, c.PolicyDocument)
        if document.device_id != self.device_id:
            raise c.ConsentError(f"policy is for device {document.device_id}, not this one")
        if document.camera not in self.cameras:
            raise c.ConsentError(f"policy for unknown camera {document.camera!r}")
        with self._lock:
            row = self._db.execute("SELECT version FROM policies WHERE camera = ?", (document.camera,)).fetchone()
            if row is not None and document.version <= row[0]:
                raise c.ConsentError(f"policy version {document.version} is not newer than {row[0]}")
            self._db.execute("INSERT OR REPLACE INTO policies VALUES (?, ?, ?, ?)",
                             (document.camera, document.version, signed.model_dump_json(), _now().isoformat()))
        return document

    def policy(self, camera: str) -> c.PolicyDocument | None:
        with self._lock:
            row = self._db.execute("SELECT signed FROM policies WHERE camera = ?", (camera,)).fetchone()
        if row is None:
            return None
        cached = self._verified.get(camera)
        if cached is not None and cached[0] == row[0]:
            return cached[1]  # the same signed text as last time: verified already (asked 4×/s per session)
        document = c.open_signed(c.Signed.model_validate_json(row[0]), self.grant_key, c.PolicyDocument)
        self._verified[camera] = (row[0], document)
        return document

    # -- the owner's pause, on the box -----------------------------------------------

    def pause(self, camera: str = ALL_CAMERAS, note: str = "") -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO pauses VALUES (?, ?, ?)", (camera, _now().isoformat(), note))

    def resume(self, camera: str = ALL_CAMERAS) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pauses WHERE camera = ?", (camera,))

    def paused(self, camera: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM pauses WHERE camera IN (?, ?)",
                                    (camera, ALL_CAMERAS)).fetchone() is not None

    # -- grants ----------------------------------------------------------------------

    def judge(self, signed: c.Signed, now: dt.datetime | None = None) -> Decision:
        """Accept or refuse a grant (with the reason); every decision goes in the access log."""
        now = now or _now()
        try:
            grant = c.open_signed(signed, self.grant_key, c.Grant)
        except c.ConsentError as exc:
            return self._log(Decision(False, f"forged grant: {exc}"), now)
        decision = Decision(False, self._refusal(grant, now) or "", grant)
        if not decision.reason:
            decision = Decision(True, "accepted", grant)
        return self._log(decision, now)

    def _refusal(self, grant: c.Grant, now: dt.datetime) -> str | None:
        if grant.device_id != self.device_id:
            return f"wrong device: the grant is for {grant.device_id}"
        if grant.camera not in self.cameras:
            return f"wrong camera: this appliance has no camera {grant.camera!r}"
        if now < grant.not_before:
            return "grant not yet valid"
        if now >= grant.expires_at:
            return "grant expired"
        with self._lock:
            seen = self._db.execute("SELECT 1 FROM access_log WHERE grant_id = ? AND accepted = 1",
                                    (str(grant.grant_id),)).fetchone()
        if seen:
            return "replayed grant: already used"
        if self.paused(grant.camera):
            return "sharing paused on the appliance by its owner"
        document = self.policy(grant.camera)
        if document is None:
            return "no consent policy for this camera: sharing is off"
        policy = document.policy
        if policy.sharing == "off":
            return "sharing is off for this camera"
        if grant.policy_version != document.version:
            return f"grant was issued under policy version {grant.policy_version}, the camera's is {document.version}"
        problem = _policy_problem(grant, policy, now)
        if problem:
            return problem
        if (grant.expires_at - grant.not_before).total_seconds() > policy.max_session_s + 60:
            return "grant lasts longer than the camera's maximum session"
        return self._audit_problem(grant)

    def session_problem(self, grant: c.Grant, now: dt.datetime | None = None, *,
                        masks: list | None = None) -> str | None:
        """Why a running session under `grant` must end now, or None: asked again and again while it runs.

        The owner's pause, a policy that no longer shares this camera or this mode, the schedule, and the
        grant's expiry end a session; a new policy version that still allows it does not, unless its privacy
        masks differ from `masks`, the ones the session paints (a running session never shows what a new mask
        hides, nor keeps hiding what the owner has unmasked).
        """
        now = now or _now()
        if now >= grant.expires_at:
            return "grant expired"
        if self.paused(grant.camera):
            return "sharing paused on the appliance by its owner"
        document = self.policy(grant.camera)
        if document is None or document.policy.sharing == "off":
            return "the owner stopped sharing this camera"
        problem = _policy_problem(grant, document.policy, now)
        if problem is None and masks is not None and document.policy.privacy_masks != masks:
            return "the owner changed the privacy masks"
        return problem

    def _audit_problem(self, grant: c.Grant) -> str | None:
        try:
            checkpoint = cp.verify(grant.audit_checkpoint, self.audit_key, self.audit_origin, origin=self.audit_origin)
        except cp.CheckpointError as exc:
            return f"audit checkpoint rejected: {exc}"
        try:
            proof = [base64.b64decode(h, validate=True) for h in grant.audit_proof]
        except ValueError:
            return "audit proof is not base64"
        if self.witness is not None:
            from edge.witness import LogForked

            try:
                self.witness.vouch(grant.audit_checkpoint)
            except LogForked as exc:
                return f"the grant's audit checkpoint contradicts the log this appliance has witnessed: {exc}"
            except Exception as exc:
                return f"cannot check the grant's audit checkpoint against the witnessed log: {exc}"
        leaf = merkle.leaf_hash(grant.audit_entry.encode())
        if not merkle.verify_inclusion(grant.audit_index, checkpoint.size, leaf, proof, checkpoint.root):
            return "the grant's audit entry is not in the hub's signed audit log"
        try:
            entry = json.loads(grant.audit_entry)
        except ValueError:
            return "audit entry is not JSON"
        details = entry.get("details") or {}
        if entry.get("index") != grant.audit_index or details.get("grant_id") != str(grant.grant_id):
            return "the audit entry does not record this grant"
        if entry.get("case_number") != grant.case_number or entry.get("reason") != grant.reason:
            return "the audit entry's reason or case number differs from the grant's"
        if self._needs_approval(grant):
            return self._approval_problem(grant, checkpoint)
        return None

    def _needs_approval(self, grant: c.Grant) -> bool:
        document = self.policy(grant.camera)
        return document is not None and document.policy.sharing == "request_only"

    def _approval_problem(self, grant: c.Grant, checkpoint: cp.Checkpoint) -> str | None:
        """request_only: the owner's approval must be on the signed log too, for this camera, case and footage."""
        if grant.approval_index is None or grant.approval_entry is None:
            return "this camera needs its owner's approval for each request, and the grant carries none"
        try:
            proof = [base64.b64decode(h, validate=True) for h in grant.approval_proof]
            entry = json.loads(grant.approval_entry)
        except ValueError:
            return "the owner's approval is malformed"
        leaf = merkle.leaf_hash(grant.approval_entry.encode())
        if not merkle.verify_inclusion(grant.approval_index, checkpoint.size, leaf, proof, checkpoint.root):
            return "the owner's approval is not in the hub's signed audit log"
        details = entry.get("details") or {}
        if (entry.get("index") != grant.approval_index or entry.get("action") != "access.owner_decision"
                or entry.get("outcome") != "success" or details.get("approved") is not True
                or details.get("camera") != grant.camera or details.get("device_id") != grant.device_id
                or entry.get("case_number") != grant.case_number or details.get("mode") != grant.mode):
            return "the owner's approval does not cover this grant"
        try:
            window = (dt.datetime.fromisoformat(details["window_from"]), dt.datetime.fromisoformat(details["window_to"]))
        except (KeyError, TypeError, ValueError):
            return "the owner's approval names no footage window"
        if window != (grant.window_from, grant.window_to):
            return "the grant asks for other footage than the owner approved"
        return None

    def _log(self, decision: Decision, now: dt.datetime) -> Decision:
        g = decision.grant
        with self._lock:
            self._db.execute(
                "INSERT INTO access_log (at, grant_id, camera, mode, analyst, reason, case_number, accepted, decision)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now.isoformat(), str(g.grant_id) if g else None, g.camera if g else None, g.mode if g else None,
                 g.analyst if g else None, g.reason if g else None, g.case_number if g else None,
                 int(decision.accepted), decision.reason))
        return decision

    def command_handlers(self) -> dict:
        """Handlers for the hub's `consent.policy` and `access.grant` commands (edge.link)."""

        def policy(body) -> dict:
            document = self.accept_policy(c.Signed(document=body.signed.document, signature=body.signed.signature))
            return {"camera": document.camera, "version": document.version}

        def grant(body) -> dict:
            decision = self.judge(c.Signed(document=body.signed.document, signature=body.signed.signature))
            return {"accepted": decision.accepted, "reason": decision.reason}

        return {"consent.policy": policy, "access.grant": grant}

    def access_log(self) -> list[dict]:
        """What the owner reads: every grant presented to this box and what became of it."""
        with self._lock:
            cursor = self._db.execute("SELECT at, grant_id, camera, mode, analyst, reason, case_number, accepted, "
                                      "decision FROM access_log ORDER BY id")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()
