"""Presenting signed policies and grants to an appliance over the MQTT link, and auditing its answer."""

from __future__ import annotations

from hub import audit
from hub.core import Hub
from wire import consent as c
from wire import messages as m


class ApplianceUnreachable(RuntimeError):
    pass


def _envelope(signed: c.Signed) -> m.SignedDocument:
    return m.SignedDocument(document=signed.document, signature=signed.signature)


def push_policy(hub: Hub, device_id: str, signed: c.Signed, timeout_s: float = 10) -> m.Reply:
    if hub.link is None:
        raise ApplianceUnreachable("the hub is not connected to the broker")
    reply = hub.link.request(device_id, m.PolicyUpdate(signed=_envelope(signed)), timeout_s)
    if reply is None:
        raise ApplianceUnreachable(f"{device_id} did not answer")
    return reply


def present_grant(hub: Hub, device_id: str, signed: c.Signed, timeout_s: float = 10) -> tuple[bool, str]:
    """(accepted, reason) as the appliance decided; the decision is audited either way."""
    accepted, reason, _ = present(hub, device_id, signed, lambda envelope: m.GrantPresent(signed=envelope),
                                  timeout_s)
    return accepted, reason


def present(hub: Hub, device_id: str, signed: c.Signed, command, timeout_s: float = 10) -> tuple[bool, str, dict]:
    """Send `command(signed envelope)` (a grant-carrying command); (accepted, reason, reply result), audited."""
    grant = c.Grant.model_validate_json(signed.document)
    if hub.link is None:
        raise ApplianceUnreachable("the hub is not connected to the broker")
    reply = hub.link.request(device_id, command(_envelope(signed)), timeout_s)
    result: dict = {}
    if reply is None or not reply.ok:
        accepted, reason = False, (reply.error if reply else "the appliance did not answer")
    else:
        result = reply.result
        accepted, reason = bool(result.get("accepted")), str(result.get("reason", ""))
    with hub.db.session() as session:
        audit.append(session, actor=f"appliance:{device_id}", action="access.appliance_decision",
                     outcome=audit.Outcome.SUCCESS if accepted else audit.Outcome.DENIED,
                     object=f"camera:{device_id}/{grant.camera}", reason=reason, case_number=grant.case_number,
                     grant_id=str(grant.grant_id), mode=grant.mode)
    return accepted, reason, result
