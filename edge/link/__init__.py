"""The hub link: what the box says to the hub and hears from it.

`mqtt` is the MQTT client (`EdgeLink`: commands in, events out); `outbox`
keeps the events durably until the hub acknowledges them; `witness` checks
the hub's audit log only ever grows; `hotlist` keeps the hot list the hub
last pushed.
"""
