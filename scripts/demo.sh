#!/usr/bin/env bash
# Installs (scripts/setup.sh), then runs the main job on shared clips: dubbing (face mode). The news anchor of
# German_20s (500 frames) drives the mouth, expression, blinks and gaze of Ted Lieu's shot (EDTalk
# pose_source2, 1,050 target frames: the first 700 train the `preview` network for two epochs, the second
# with the learning rate decaying to 0; the last 350 are held out for its evaluation); his head pose and the
# plate around the face are kept.
# Output: demo_out/reenact.mp4 (with the source's audio), demo_out/eval.json (held-out metrics against the
# no-network baselines), demo_out/contact_sheet.png; intermediate results in demo_out/reenact.h2h/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
VIDEOS=${H2H_VIDEOS:-../shared/videos}
SRC="$VIDEOS/yerfor__MimicTalk__data_raw_examples_German_20s.mp4"
TGT="$VIDEOS/tanshuai0219__EDTalk__test_data_pose_source2.mp4"
mkdir -p demo_out
h2h --json reenact --source "$SRC" --source-frames 0-499 --target "$TGT" --frames 0-1049 \
  --mode face --preset preview --epochs 2 --force -o demo_out/reenact.mp4 "$@" > demo_out/reenact.json
# the training run is the train stage's cache folder (demo_out/reenact.h2h/cache/train-<key>/output)
RUN=$(python -c "import json, pathlib; print(pathlib.Path(json.load(open('demo_out/reenact.json'))['checkpoint']).parent)")
h2h eval self-reenactment "$RUN" --json > demo_out/eval.json
python scripts/contact_sheet.py --source "$SRC" --plate "$TGT" --result demo_out/reenact.mp4 --run "$RUN" \
  --frames 40,160,280,400 -o demo_out/contact_sheet.png
echo "wrote demo_out/reenact.mp4, demo_out/eval.json and demo_out/contact_sheet.png"
