#!/usr/bin/env bash
# Creates .venv with pinned dependencies and builds the engine (idempotent; a second run is quick).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffmpeg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) \
      || echo "setup: could not install ffmpeg; tests that need the ffmpeg CLI will be skipped" >&2
  else
    echo "setup: ffmpeg CLI not found (apt-get install ffmpeg); tests that need it will be skipped" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch is pinned to the CPU build (a CUDA build is several GB); on a GPU machine install a CUDA torch first.
python -m pip install -q -r requirements.txt
python -m pip install -q --no-build-isolation -e .
python -c "import h2h_engine._native as n; print('h2h_engine built; CUDA kernels:', n.has_cuda)"
# The engine takes the built-in ICT model only from $H2H_ICT_SOURCE (it never looks beside the checkout): import
# the shared archive into the model cache once, so the demo, benchmarks and scripts find it.
ICT=${H2H_ICT_SOURCE:-../shared/ict-facekit/FaceXModel.tar.xz}
if [ -e "$ICT" ]; then
  H2H_ICT_SOURCE="$ICT" python -c "from h2h_engine.morphable import load_model; print('ICT model:', load_model().name)"
fi
