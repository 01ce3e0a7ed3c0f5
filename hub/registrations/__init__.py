"""Cameras without an appliance: public registration (double opt-in, private manage link, yearly
re-confirmation), their place in the canvass, and footage requests their owners answer by uploading files
through a single-use, expiring link."""
