"""The one way anything in the hub writes to the audit log.

Every entry becomes the next leaf of an RFC 6962 Merkle tree (`hub.audit.log`)
in the same transaction as what it records; signed checkpoints, proofs and the
verifiable export are built on that tree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.audit.log import append_entry


class Outcome:
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


def append(session: Session, *, actor: str, action: str, outcome: str, object: str = "", source: str = "",
           reason: str = "", case_number: str = "", **details: Any) -> int:
    """Add one entry to the audit log in `session`'s transaction (committed with what it records); its index."""
    return append_entry(session, dict(actor=actor, action=action, object=object, outcome=outcome, source=source,
                                      reason=reason, case_number=case_number, details=details))
