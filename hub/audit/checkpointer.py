"""Signs the audit log as it stands: on demand (a grant never waits for the timer) and every few seconds."""

from __future__ import annotations

import logging
import threading

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError

from hub.audit.log import issue_checkpoint, latest_checkpoint
from hub.db import Database
from hub.tables import AuditCheckpoint

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, db: Database, key: Ed25519PrivateKey, origin: str, interval_s: float):
        self.db, self.key, self.origin, self.interval_s = db, key, origin, interval_s
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def checkpoint(self) -> AuditCheckpoint:
        """Sign the audit log as it stands now (nothing new if the newest checkpoint covers it).

        The timer and a grant request may sign the same size at once; the second insert then meets the first's
        row (size is the key), and that row, signed over the same tree, is the answer."""
        try:
            with self.db.session() as session:
                return issue_checkpoint(session, self.key, self.origin)
        except IntegrityError:
            with self.db.session() as session:
                return latest_checkpoint(session)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            try:
                self.checkpoint()
            except Exception:
                log.exception("audit checkpoint not issued")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
