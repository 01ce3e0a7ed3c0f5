"""The hub's long-lived parts, built once from settings: database, CA, keys, broker files, MQTT link."""

from __future__ import annotations

import logging
import threading

from hub import broker
from sqlalchemy.exc import IntegrityError

from hub.audit.log import issue_checkpoint, latest_checkpoint
from hub.db import Database
from hub.enrolment import broker_access
from hub.keys import load_or_create_signing_key, public_pem
from hub.settings import HubSettings
from provisioning.ca import CertificateAuthority

log = logging.getLogger(__name__)


class Hub:
    def __init__(self, settings: HubSettings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.db_url)
        self.db.migrate()
        self.ca = CertificateAuthority.load_or_create(settings.ca_path)
        self.signing_key = load_or_create_signing_key(settings.keys_dir)
        self.grant_public_key_pem = public_pem(self.signing_key)
        self.audit_key = load_or_create_signing_key(settings.keys_dir, "audit-signing.key")
        self._checkpointer: threading.Thread | None = None
        self._stopping = threading.Event()
        self.broker_files = broker.BrokerFiles(settings.broker_dir)
        self.link = None  # hub.link.HubLink once started
        self.streams = None  # hub.streams.StreamService once started (with the link)

    def write_broker_config(self, hosts: list[str] | None = None) -> broker.BrokerFiles:
        with self.db.session() as session:
            active, revoked = broker_access(session)
        hosts = hosts or sorted({self.settings.broker_host, "localhost", "127.0.0.1"})
        broker.write_all(self.broker_files, self.ca, self.settings.broker_host, self.settings.broker_port,
                         hosts, active, revoked, user=self.settings.broker_user)
        return self.broker_files

    def refresh_broker_access(self) -> None:
        """Rewrite the ACL and CRL from the database and have the broker re-read them."""
        if not self.broker_files.config.exists():
            return
        with self.db.session() as session:
            active, revoked = broker_access(session)
        broker.write_access(self.broker_files, self.ca, active, revoked)
        broker.reload(self.settings.broker_pid_file or self.broker_files.pid_file)

    def start_streams(self) -> None:
        from hub.streams import StreamService
        from wire.rtc import IceSettings

        if self.streams is None:
            s = self.settings
            self.streams = StreamService(self, IceSettings(tuple(s.ice_host_addresses), tuple(s.turn_urls),
                                                           s.turn_username, s.turn_password))

    def checkpoint(self):
        """Sign the audit log as it stands now (a grant never waits for the timer).

        The checkpointer thread and a grant request may sign the same size at once; the second insert then
        meets the first's row (size is the key), and that row, signed over the same tree, is the answer."""
        try:
            with self.db.session() as session:
                return issue_checkpoint(session, self.audit_key, self.settings.audit_origin)
        except IntegrityError:
            with self.db.session() as session:
                return latest_checkpoint(session)

    def start_checkpointer(self) -> None:
        def run() -> None:
            while not self._stopping.wait(self.settings.checkpoint_interval_s):
                try:
                    self.checkpoint()
                except Exception:
                    log.exception("audit checkpoint not issued")

        self._checkpointer = threading.Thread(target=run, name="audit-checkpointer", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        self._stopping.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=10)
        if self.streams is not None:
            self.streams.close()
            self.streams = None
        if self.link is not None:
            self.link.stop()
        self.db.dispose()
