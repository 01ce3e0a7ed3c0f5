"""The MQTT topic tree.

Every appliance owns one subtree, ``canvass/v1/dev/<device-id>/``; the broker's
ACL (written by `hub.broker`) lets a device write only ``events``, ``reply``
and ``state`` there and read only ``acks`` and ``cmd``, and nothing outside it.

    events  appliance → hub   EventEnvelope (QoS 1), acknowledged by the hub on ``acks``
    acks    hub → appliance   EventAck: every event up to a sequence number is stored
    cmd     hub → appliance   Command with a request id
    reply   appliance → hub   Reply to a command's request id
    state   appliance → hub   DeviceState, retained; the last will says "offline"
"""

from __future__ import annotations

import re
from enum import StrEnum

ROOT = "canvass/v1/dev"
DEVICE_ID_PATTERN = r"dev-[a-z0-9]{12}"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


class Leaf(StrEnum):
    EVENTS = "events"
    ACKS = "acks"
    CMD = "cmd"
    REPLY = "reply"
    STATE = "state"


#: What an appliance may publish to, and subscribe to, within its own subtree.
DEVICE_PUBLISHES = (Leaf.EVENTS, Leaf.REPLY, Leaf.STATE)
DEVICE_SUBSCRIBES = (Leaf.ACKS, Leaf.CMD)

#: The hub's subscriptions: what every appliance publishes.
HUB_SUBSCRIPTIONS = tuple(f"{ROOT}/+/{leaf}" for leaf in DEVICE_PUBLISHES)


class TopicError(ValueError):
    pass


def is_device_id(value: str) -> bool:
    return bool(_DEVICE_ID.fullmatch(value))


def device_topic(device_id: str, leaf: Leaf) -> str:
    if not is_device_id(device_id):
        raise TopicError(f"not a device id: {device_id!r}")
    return f"{ROOT}/{device_id}/{leaf}"


def parse(topic: str) -> tuple[str, Leaf]:
    """(device id, leaf) of a device topic; TopicError for anything else."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        raise TopicError(f"not a device topic: {topic!r}")
    parts = topic[len(prefix):].split("/")
    if len(parts) != 2 or not is_device_id(parts[0]):
        raise TopicError(f"not a device topic: {topic!r}")
    try:
        return parts[0], Leaf(parts[1])
    except ValueError:
        raise TopicError(f"unknown leaf in topic {topic!r}") from None
