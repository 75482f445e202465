"""Measure where dlib's HOG detector puts its box relative to the 68 points it leads to.

Prints the median box-centre offset and box side in units of the RMS radius of the expression-stable
points (``h2h_engine.landmarks.shape.BOX_OFFSET`` / ``BOX_SIDE``). Run: ``python scripts/calibrate_landmark_box.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from h2h_engine.io import open_frames
from h2h_engine.landmarks.detect import FaceDetector
from h2h_engine.landmarks.shape import ShapePredictor, points_frame

CLIPS = ["WDA_AlexandriaOcasioCortez", "WDA_KatieHill", "RD_Radio2", "GRID_bbaf2n", "driving_d10", "driving_d18",
         "MEAD_W015", "Pose_Source_00473", "Input_00098", "vox_driving1", "MimicTalk__data_raw_examples_German",
         "metrical-tracker__input_wojtek"]


def main(videos: Path) -> None:
    det, pred = FaceDetector("hog"), ShapePredictor()
    rows = []
    for name in CLIPS:
        path = next(videos.glob(f"*{name}*"))
        for i, (_, rgb) in enumerate(open_frames(path, (0, 199))):
            if i % 2:
                continue
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            for d in det.detect(gray, (0,)):
                lm = pred._predict(gray, d.box)  # one pass from the detector's own box
                centre, radius = points_frame(lm)
                bc = 0.5 * (d.box[:2] + d.box[2:])
                rows.append([*(bc - centre) / radius, d.side / radius])
    rows = np.array(rows)
    med = np.median(rows, axis=0)
    print(f"{len(rows)} detections: BOX_OFFSET = [{med[0]:.3f}, {med[1]:.3f}], BOX_SIDE = {med[2]:.3f}; "
          f"spread (IQR) {np.subtract(*np.percentile(rows, [75, 25], axis=0))}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "videos")
