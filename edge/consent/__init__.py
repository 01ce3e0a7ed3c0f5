"""The appliance's consent: the owner's policies and pause, and the judge of every grant.

`judge` holds the decisions as plain functions over plain data (no I/O);
`store` keeps policies, pauses and the access log in SQLite; `guard` puts the
two together with the witness of the hub's audit log.
"""
