#!/usr/bin/env bash
# Installs (scripts/setup.sh), then runs the main job on shared clips: the news anchor of German_20s drives
# Ted Lieu's shot (EDTalk pose_source2), head reenactment, tiny preset for 40 epochs (about 3 minutes on 2 cores).
# Output: demo_out/reenact.mp4 (plus demo_out/reenact.h2h/: tracks, training run, cache).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
VIDEOS=${H2H_VIDEOS:-../shared/videos}
h2h reenact \
  --source "$VIDEOS/yerfor__MimicTalk__data_raw_examples_German_20s.mp4" --source-frames 0-149 \
  --target "$VIDEOS/tanshuai0219__EDTalk__test_data_pose_source2.mp4" --frames 0-149 \
  --mode head --preset tiny --epochs 40 -o demo_out/reenact.mp4 "$@"
h2h eval self-reenactment demo_out/reenact.h2h/run-tiny-* --json > demo_out/eval.json
echo "wrote demo_out/reenact.mp4 and demo_out/eval.json"
