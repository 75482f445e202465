#!/usr/bin/env bash
# Installs (scripts/setup.sh) and runs the whole test suite on real clips from ../shared/videos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The QC report's browser test needs a real headless Chromium (Debian `chromium`); it is skipped without one.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
    >/dev/null) || echo "test: could not install chromium; the QC page's browser test will be skipped" >&2
fi
. .venv/bin/activate
exec python -m pytest -q "$@"
