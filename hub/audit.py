"""The one way anything in the hub writes to the audit log.

Here entries are rows in `audit_entries`; the consent/audit issue turns the
log into an RFC 6962 Merkle tree with signed checkpoints behind this same
interface, so callers never change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.models import AuditEntry


class Outcome:
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


def append(session: Session, *, actor: str, action: str, outcome: str, object: str = "", source: str = "",
           reason: str = "", case_number: str = "", **details: Any) -> AuditEntry:
    """Add one entry to the audit log in `session`'s transaction (committed with what it records)."""
    entry = AuditEntry(actor=actor, action=action, object=object, outcome=outcome, source=source,
                       reason=reason, case_number=case_number, details=details)
    session.add(entry)
    session.flush()
    return entry
