#!/usr/bin/env bash
# Installs (scripts/setup.sh) and runs the whole test suite on real clips from ../shared/videos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec python -m pytest -q "$@"
