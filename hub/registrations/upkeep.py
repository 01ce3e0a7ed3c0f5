"""The registrations' upkeep, run by the hub while it runs: expire owners' upload links as their time passes
(their unfinished uploads go), remind registrants yearly, mark stale the registrations not re-confirmed in
time, delete those never confirmed, sweep abandoned uploads, and delete owners' files whose case's retention
ended."""

from __future__ import annotations

import functools
import logging

from hub.periodic import Every
from hub.registrations.intake import OwnerIntake, expire_links
from hub.registrations.requests import OwnerRequests
from hub.registrations.retention import owner_files_pass
from hub.registrations.service import Registrations

log = logging.getLogger(__name__)


def upkeep_pass(registrations: Registrations, requests: OwnerRequests, intake: OwnerIntake,
                abandoned_s: float) -> None:
    """One pass of everything above (blocks: database, disk, store)."""
    expire_links(requests, intake)
    registrations.remind_due()
    registrations.mark_stale()
    registrations.purge_unconfirmed()
    intake.staging.sweep(abandoned_s)
    owner_files_pass(intake.db, intake.store)


def registrations_upkeep(registrations: Registrations, requests: OwnerRequests, intake: OwnerIntake,
                         every_s: float, abandoned_s: float) -> Every:
    """`upkeep_pass` every `every_s` seconds on a thread of its own (`start()`, `stop()`)."""
    return Every("registration upkeep", every_s,
                 functools.partial(upkeep_pass, registrations, requests, intake, abandoned_s))
