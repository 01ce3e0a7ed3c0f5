"""The hub's long-lived services, built once from settings and shared by the API, the CLI and the MQTT link:
database, CA, signing keys, audit checkpointer, broker files, clip store and clip intake; the MQTT link and the stream service are built
and attached by the app's start-up (`hub.app`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub import broker
from hub.audit.checkpointer import Checkpointer
from hub.ca import CertificateAuthority
from hub.clips.intake import ClipIntake
from hub.clips.staging import Staging
from hub.clips.stores import clip_store_from
from hub.db import Database
from hub.enrolment import broker_access
from hub.keys import load_or_create_signing_key, public_pem
from hub.mail import Mailer
from hub.maintenance import Maintenance
from hub.owner_alerts import OwnerAlerts
from hub.settings import HubSettings
from hub.tables import AuditCheckpoint

if TYPE_CHECKING:  # built and attached by hub.app's start-up; they import this module
    from hub.link import HubLink
    from hub.streams import StreamService

log = logging.getLogger(__name__)


class HubServices:
    def __init__(self, settings: HubSettings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.db_url)
        self.db.migrate()
        self.ca = CertificateAuthority.load_or_create(settings.ca_path)
        self.signing_key = load_or_create_signing_key(settings.keys_dir)
        self.grant_public_key_pem = public_pem(self.signing_key)
        self.audit_key = load_or_create_signing_key(settings.keys_dir, "audit-signing.key")
        self.checkpointer = Checkpointer(self.db, self.audit_key, settings.audit_origin,
                                         settings.checkpoint_interval_s)
        self.broker_files = broker.BrokerFiles(settings.broker_dir)
        self.mailer = Mailer(settings)
        self.clip_store = clip_store_from(settings)
        staging = Staging(settings.uploads_dir)
        self.clip_intake = ClipIntake(self.db, self.clip_store, staging, self.ca.pem, settings.clip_max_bytes)
        self.maintenance = Maintenance(self.db, self.clip_store, staging, interval_s=settings.maintenance_interval_s,
                                       abandoned_s=settings.clip_upload_abandoned_s,
                                       coverage_days=settings.footage_max_age_days)
        self.owner_alerts = OwnerAlerts(self.db, self.mailer, interval_s=settings.owner_alert_check_s,
                                        public_url=settings.public_url.rstrip("/"))
        self.link: HubLink | None = None
        self.streams: StreamService | None = None

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

    def checkpoint(self) -> AuditCheckpoint:
        """Sign the audit log as it stands now (`Checkpointer.checkpoint`)."""
        return self.checkpointer.checkpoint()

    def close(self) -> None:
        """Stop what runs (stream service, link, owner alerts, maintenance, checkpointer) in reverse order of start, then the
        database."""
        if self.streams is not None:
            self.streams.close()
            self.streams = None
        if self.link is not None:
            self.link.stop()
        self.owner_alerts.stop()
        self.maintenance.stop()
        self.checkpointer.stop()
        self.mailer.close()
        self.db.dispose()
