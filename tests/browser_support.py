"""Debian's chromium as the tests and benches drive it through Playwright."""

from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, no sandbox (root in CI), no calls home; loopback ICE candidates allowed and not hidden behind mDNS,
# so the browser and the hub meet on 127.0.0.1 only; muted video may start without a click.
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--autoplay-policy=no-user-gesture-required"]
# An RTCC screen's size.
VIEWPORT = {"width": 1366, "height": 768}
