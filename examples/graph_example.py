"""Chain nodes in Python with the on-disk cache: track two shots, drive one with the other, render NMFC.

    python examples/graph_example.py [SOURCE_CLIP TARGET_CLIP]

Defaults to two shared clips (../shared/videos). The second run of the same graph comes from the cache;
changing one knob re-runs only that node and the ones after it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from h2h_engine.nodes.graph import Graph

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "videos"
CLIP = "ali-vilab__dreamtalk__data_style_clip_video_%s_001.mp4"


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else VIDEOS / (CLIP % "M030_front_happy_level3")
    target = sys.argv[2] if len(sys.argv) > 2 else VIDEOS / (CLIP % "W009_front_neutral_level1")
    g = Graph(".h2h_cache")
    src = g.add("track", input=source, frames="0-24")
    tgt = g.add("track", input=target, frames="0-24")
    drv = g.add("retarget", source=src, target=tgt, mode="head")
    nmfc = g.add("render_nmfc", track=drv, size="256x256")

    for what in ("first run", "same graph again", "render size changed"):
        if what == "render size changed":
            nmfc.set(size="128x128")
        t = time.perf_counter()
        g.run(nmfc)
        ran = ", ".join(n.spec.name for n in g.ran) or "nothing (all cached)"
        print(f"{what:>20}: ran {ran} in {time.perf_counter() - t:.1f} s")
    print(f"NMFC frames: {nmfc.path()}")


if __name__ == "__main__":
    main()
