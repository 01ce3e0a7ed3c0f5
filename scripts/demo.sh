#!/usr/bin/env bash
# Sets up the machine and runs the demo: four simulated cameras on 127.0.0.1
# and one appliance recording them. Ctrl-C stops both (segments are closed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m sim.demo "$@"
