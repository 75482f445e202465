"""Contact sheet of a reenactment job: driven frames (source | target plate | result) and held-out
self-reenactment frames (real | result | error heat map), one PNG.

    python scripts/contact_sheet.py --source SRC.mp4 --plate TARGET.mp4 --result OUT.mp4 \
        --run RUN_DIR [--frames 0,100,200] -o sheet.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from h2h_engine.io import open_frames, read_image, write_image

TILE = 256


def _tile(rgb: np.ndarray, label: str) -> np.ndarray:
    """(TILE, TILE, 3) uint8 with a caption."""
    out = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (TILE, TILE), interpolation=cv2.INTER_AREA)
    cv2.rectangle(out, (0, 0), (TILE, 18), (0, 0, 0), -1)
    cv2.putText(out, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _frames(path: str, wanted: list[int]) -> dict[int, np.ndarray]:
    return {f: rgb for f, rgb in open_frames(path, (min(wanted), max(wanted))) if f in wanted}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--plate", required=True)
    ap.add_argument("--result", required=True)
    ap.add_argument("--run", required=True, help="training run dir (its eval/heat-*.png are added)")
    ap.add_argument("--frames", default="0,120,240,360", help="result frames to show")
    ap.add_argument("--source-offset", type=int, default=0, help="source frame of result frame 0")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    wanted = [int(v) for v in args.frames.split(",")]
    src = _frames(args.source, [f + args.source_offset for f in wanted])
    plate, result = _frames(args.plate, wanted), _frames(args.result, wanted)
    rows = [np.concatenate([_tile(src[f + args.source_offset], f"source {f + args.source_offset}"),
                            _tile(plate[f], f"target plate {f}"), _tile(result[f], f"result {f}")], 1)
            for f in wanted]
    for heat in sorted(Path(args.run, "eval").glob("heat-*.png"))[:4]:
        strip = read_image(heat)[..., :3]
        n = strip.shape[1] // 3
        f = int(heat.stem.split("-")[1])
        rows.append(np.concatenate([_tile(strip[:, :n], f"held-out real {f}"), _tile(strip[:, n:2 * n], "result"),
                                    _tile(strip[:, 2 * n:], "error (L2, 0-100)")], 1))
    write_image(args.output, np.concatenate(rows, 0))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
