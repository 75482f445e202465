#!/usr/bin/env bash
# The GPU campaign of issue 13 in one command (docs/gpu.md):
#   bash benchmarks/gpu/run.sh --prepare [prepare.py options]   CPU machine: write benchmarks/gpu/data (~28 MB)
#   bash benchmarks/gpu/run.sh [campaign.py options]            GPU machine: build, check, time; JSON summary
#   bash benchmarks/gpu/run.sh --dry-run [campaign.py options]  the same on the CPU with tiny budgets
# Options: --data DIR (both), -o OUT / --work DIR / --train-seconds S (campaign). $PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
script=benchmarks/gpu/campaign.py
if [[ "${1:-}" == "--prepare" ]]; then
  script=benchmarks/gpu/prepare.py
  shift
fi
exec "${PYTHON:-python3}" "$script" "$@"
