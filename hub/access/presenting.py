"""Forwarding owner-signed policies and presenting signed grants to an appliance over the MQTT link, and auditing its answer."""

from __future__ import annotations

from hub import audit
from hub.access.errors import ApplianceUnreachable
from hub.services import HubServices
from wire import consent as c
from wire import messages as m
from wire import owner as wo


def envelope(signed: c.Signed) -> m.SignedDocument:
    return m.SignedDocument(document=signed.document, signature=signed.signature)


def push_policy(hub: HubServices, device_id: str, signed: wo.OwnerSigned, timeout_s: float = 10) -> m.Reply:
    """Forward an owner-signed policy to its box; the box's reply (PolicyTaken, or its reason for refusing)."""
    if hub.link is None:
        raise ApplianceUnreachable("the hub is not connected to the broker")
    reply = hub.link.request(device_id, m.PolicyUpdate(signed=signed), timeout_s)
    if reply is None:
        raise ApplianceUnreachable(f"{device_id} did not answer")
    return reply


def present_grant(hub: HubServices, device_id: str, signed: c.Signed, timeout_s: float = 10) -> tuple[bool, str]:
    """(accepted, reason) as the appliance decided; the decision is audited either way."""
    decision = present(hub, device_id, signed, m.GrantPresent(signed=envelope(signed)), timeout_s)
    return decision.accepted, decision.reason


def present(hub: HubServices, device_id: str, signed: c.Signed, command: m.GrantPresent | m.StreamStart,
            timeout_s: float = 10) -> m.GrantDecision | m.StreamOffer:
    """Send a grant-carrying command (`signed` inside it); the appliance's decision, audited either way.

    A failed or missing reply is a refusal with its reason; ApplianceUnreachable without a link."""
    grant = c.Grant.model_validate_json(signed.document)
    if hub.link is None:
        raise ApplianceUnreachable("the hub is not connected to the broker")
    expected = m.RESULT_OF[type(command)]
    reply = hub.link.request(device_id, command, timeout_s)
    try:
        decision = m.result_of(reply, expected) if reply is not None else \
            expected(accepted=False, reason="the appliance did not answer")
    except m.WireError as exc:
        decision = expected(accepted=False, reason=(reply.error if not reply.ok else str(exc))[:2000])
    with hub.db.session() as session:
        audit.append(session, actor=f"appliance:{device_id}", action="access.appliance_decision",
                     outcome=audit.Outcome.SUCCESS if decision.accepted else audit.Outcome.DENIED,
                     object=f"camera:{device_id}/{grant.camera}", reason=decision.reason,
                     case_number=grant.case_number, grant_id=str(grant.grant_id), mode=grant.mode)
    return decision
