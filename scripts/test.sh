#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs the whole test suite on two workers (pytest-xdist; the tests of
# one file stay on one worker, so a file's shared hub or browser is never split).
# pytest exits non-zero when a test fails and also when no test ran (5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
