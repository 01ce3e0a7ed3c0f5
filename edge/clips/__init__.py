"""Clips cut on the box: cutting, signing, upload."""
