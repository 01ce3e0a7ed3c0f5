"""Footage requests: an analyst asks cameras of a canvass for a window of recorded video under a case; each
owner approves (the whole window or a trimmed one) or denies, or the owner's policy approves; the box holds the
window from the start, cuts the clip when approved and uploads it to the case library.

`checks` holds the pure rules, `service` the workflow, `telling` who is told what (the box, the hub's notices,
e-mail), `expiry` the pass that expires undecided requests."""
