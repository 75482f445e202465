"""Prepare the GPU campaign's data on a CPU machine (one folder that travels with the repository).

    python benchmarks/gpu/prepare.py [--data DIR] [--clip NAME] [--frames 300] [--max-mb 40]

Writes into DIR (default benchmarks/gpu/data, git-ignored, what the device run carries): ``frames/frame.%04d.jpg`` (the clip's first N frames, numbered from 0), ``track.h2h.npz``
(those frames tracked by the engine), the morphable model the track names as a compressed
``<name>.h2hmm.npz`` (found through ``H2H_MODEL_PATH=DIR``) and ``manifest.json``. Everything on the
device side reads without PyAV, OpenImageIO or dlib. Fails when the folder exceeds ``--max-mb``.
See docs/gpu.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from h2h_engine.cli import main as h2h_main  # noqa: E402
from h2h_engine.errors import InputError  # noqa: E402
from h2h_engine.io import open_frames, write_image  # noqa: E402
from h2h_engine.morphable import load_model_for  # noqa: E402
from h2h_engine.io.timecode import parse_rate, rate_text  # noqa: E402
from h2h_engine.nodes.track import summarize  # noqa: E402
from h2h_engine.track import Track  # noqa: E402

SCHEMA = "H2HGpuData.1"
MANIFEST = "manifest.json"
FRAMES = "frames/frame.%04d.jpg"
TRACK = "track.h2h.npz"
DEFAULT_CLIP = "tanshuai0219__EDTalk__test_data_pose_source2.mp4"  # 60 s, one frontal speaker, 256 px


def shared_videos() -> Path:
    """The shared clips folder (``$H2H_SHARED/videos``, default ``../shared/videos`` beside the repository)."""
    return Path(os.environ.get("H2H_SHARED", REPO.parent / "shared")) / "videos"


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def prepare(out: Path, clip: Path, n_frames: int, max_mb: float) -> dict[str, Any]:
    """Write the data folder ``out`` (replacing an earlier one) from the first ``n_frames`` of ``clip``;
    returns the manifest."""
    if n_frames < 12:
        raise InputError(f"--frames must be >= 12 (training holds out a third); got {n_frames}")
    if out.exists():
        if not (out / MANIFEST).is_file():
            raise InputError(f"{out} exists and is not a prepared GPU data folder; choose another")
        shutil.rmtree(out)
    t0 = time.perf_counter()
    source = open_frames(clip, (0, n_frames - 1))
    written = 0
    for f, rgb in source:
        write_image(out / (FRAMES % f), rgb)
        written += 1
    if written < n_frames:
        raise InputError(f"{clip} has only {written} frames; asked for {n_frames}")
    t_frames = time.perf_counter() - t0
    # JPEG sequences carry no rate: the clip's goes with them
    status = h2h_main(["--progress", "none", "track", str(out / FRAMES), "--fps", rate_text(parse_rate(source.fps)),
                       "-o", str(out / TRACK)])
    if status != 0:
        raise InputError(f"tracking {out / FRAMES} failed (h2h track exit status {status})")
    t_track = time.perf_counter() - t0 - t_frames
    track = Track.load(out / TRACK)
    model = load_model_for(track)
    model_file = f"{model.name}.h2hmm.npz"
    model.save(out / model_file, compress=True)
    size = folder_bytes(out)  # all but the manifest (~1 kB)
    if size > max_mb * 1e6:
        raise InputError(f"{out} holds {size / 1e6:.1f} MB, over the {max_mb:g} MB that may travel; use fewer --frames")
    manifest = {
        "schema": SCHEMA, "clip": clip.name, "frames": FRAMES, "n_frames": written, "fps": source.fps,
        "size": [source.width, source.height], "track": TRACK, "model": model_file, "model_digest": model.digest,
        "track_summary": summarize(track), "bytes": size,
        "prepare_seconds": {"frames": round(t_frames, 2), "track": round(t_track, 2),
                            "total": round(time.perf_counter() - t0, 2)},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO / "benchmarks" / "gpu" / "data",
                   help="folder to write, replaced if it holds earlier prepared data (default: benchmarks/gpu/data)")
    p.add_argument("--clip", default=DEFAULT_CLIP, help=f"a clip in {shared_videos()} or a path (default: %(default)s)")
    p.add_argument("--frames", type=int, default=300, help="frames from the clip's start (default: %(default)s)")
    p.add_argument("--max-mb", type=float, default=40.0, help="size limit of the folder (default: %(default)s)")
    args = p.parse_args(argv)
    clip = Path(args.clip) if Path(args.clip).is_file() else shared_videos() / args.clip
    try:
        manifest = prepare(args.data, clip, args.frames, args.max_mb)
    except InputError as e:
        print(f"prepare: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: manifest[k] for k in ("clip", "n_frames", "size", "bytes", "prepare_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
