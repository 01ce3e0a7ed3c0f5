"""Clips at the hub: the clip store, the resumable upload from the boxes, the case library, retention and the
court bundle."""
