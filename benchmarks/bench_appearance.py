"""Benchmark of the appearance path of the CPU presets (render/appearance.py) and of their whole inference.

On a real shot (the Track node on 120 frames of a shared clip; the first 80 are the training bank, the last 40
are driven), in one run on this machine:
- the appearance warp (the retrieved training frames, 10 slots, carried onto each driven frame through the
  3DMM and blended): the native kernel (csrc/common/warp_blend.h) against its numpy/OpenCV reference, frame
  by frame and slot by slot (``Warper.warp(impl="ref")``), as a ratio; bilinear at 256 px (the networks'
  input) and bicubic at 512 px (the plate-resolution detail pass);
- the face matte and the per-frame conditioning (NMFC + eyes + mask) they come with;
- whole face-mode inference of the ``instant`` and ``preview`` presets through the Synthesize node's
  per-frame path (conditioning, appearance, the network, the composite onto the 256 px-crop plate at the
  clip's own resolution, with the plate-resolution detail pass and the plate kept where the face does not move,
  the defaults), frames/s and peak memory (a fresh process each), against the same with ``--no-keep-plate``,
  and that against the same without the detail pass either (``--no-detail``). The driven track is the shot's
  own, so the kept region is as large as it gets. ``preview`` is timed untrained
  (``--stop-after 1``): its cost does not depend on its weights.

    python benchmarks/bench_appearance.py [--threads 2] [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, print_rows  # noqa: E402

CLIP = REPO.parent / "shared" / "videos" / "tanshuai0219__EDTalk__test_data_pose_source2.mp4"
FRAMES, BANK = 120, 80


def _h2h(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "h2h_engine.cli", "--progress", "none", *args], check=True,
                   stdout=subprocess.DEVNULL)


def _best(fn: Any, repeats: int) -> float:
    """Best wall-clock seconds of ``fn()`` over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _kernels(track_path: str, threads: int, repeats: int) -> dict[str, float]:
    import torch  # noqa: PLC0415

    from h2h_engine.io import open_frames  # noqa: PLC0415
    from h2h_engine.morphable import load_model_for  # noqa: PLC0415
    from h2h_engine.render.appearance import Warper, face_matte, retrieve  # noqa: PLC0415
    from h2h_engine.render.conditioning import render_conditioning  # noqa: PLC0415
    from h2h_engine.render.crop import crop_box_for_track, crop_frames  # noqa: PLC0415
    from h2h_engine.track import Track  # noqa: PLC0415

    torch.set_num_threads(threads)
    trk = Track.load(track_path)
    model = load_model_for(trk)
    box = crop_box_for_track(model, trk)
    frames = np.stack([rgb for _, rgb in open_frames(str(CLIP), (0, BANK - 1))])
    images = crop_frames(frames, box, (256, 256))
    bank, driven = trk.slice(0, BANK - 1), trk.slice(BANK, FRAMES - 1)
    warper = Warper(model, bank, images, box)
    r = retrieve(driven.expression, bank.expression)  # default k, slots and smoothing (the presets')
    warper.warp(driven.slice(BANK, BANK + 3), r)  # warm-up: bank depth rasters of the first frames
    fine = Warper(model, bank, crop_frames(frames, box, (512, 512)), box, cubic=True)
    fine.warp(driven.slice(BANK, BANK + 3), r)
    n = len(driven)
    return {"warp_native": n / _best(lambda: warper.warp(driven, r), repeats),
            "warp_ref": n / _best(lambda: warper.warp(driven, r, impl="ref"), 1),
            "detail_native": n / _best(lambda: fine.warp(driven, r), repeats),
            "detail_ref": n / _best(lambda: fine.warp(driven, r, impl="ref"), 1),
            "matte": n / _best(lambda: face_matte(model, driven, driven, box, (256, 256)), repeats),
            "conditioning": n / _best(lambda: render_conditioning(model, driven, (256, 256), crop=box,
                                                                  what=("nmfc", "eyes", "mask")), repeats),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _inference(run: str, track_path: str, threads: int, repeats: int, detail: bool, keep: bool
               ) -> dict[str, float]:
    """frames/s of the Synthesize node's frame path over the driven frames (``detail``: with the
    plate-resolution pass; ``keep``: keeping the plate where the face does not move), and this process's peak
    RSS (MB)."""
    import torch  # noqa: PLC0415

    from h2h_engine.nodes.synthesize import plate_reader, synthesize_frames  # noqa: PLC0415

    torch.set_num_threads(threads)

    def once() -> None:
        plate, space = plate_reader(str(CLIP), (BANK, FRAMES - 1))
        for _ in synthesize_frames(f"{run}/checkpoint.pt", track_path, (BANK, FRAMES - 1), plate, device="cpu",
                                   plate_space=space, plate_track=track_path, detail=detail, keep_plate=keep):
            pass

    seconds = _best(once, repeats)
    return {"fps": (FRAMES - BANK) / seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _in_process(fn: Any, *args: Any) -> dict[str, float]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def rows(quick: bool = False, threads: int = 2, repeats: int = 3) -> list[Row]:
    """The warp against its reference, matte and conditioning rates; unless ``quick``, the instant and preview
    presets' whole face-mode inference (each trained first, not timed)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        track = f"{tmp}/t.h2h.npz"
        _h2h("track", str(CLIP), "--frames", f"0-{FRAMES - 1}", "-o", track)
        k = _in_process(_kernels, track, threads, 1 if quick else repeats)
        out.append(Row("appearance", "warp of the retrieved frames (10 slots), bilinear, 256 px", k["warp_native"],
                       peer="numpy + OpenCV, frame by frame", peer_value=k["warp_ref"], peak_mib=k["peak_mb"],
                       memory="RSS (fresh process, all the kernels)"))
        out.append(Row("appearance", "detail warp (10 slots), bicubic, 512 px", k["detail_native"],
                       peer="numpy + OpenCV, frame by frame", peer_value=k["detail_ref"]))
        out.append(Row("appearance", "face matte (driven + plate face), 256 px", k["matte"]))
        out.append(Row("appearance", "conditioning (NMFC + eyes + mask), 256 px, one call", k["conditioning"]))
        for preset in () if quick else ("instant", "preview"):
            run = f"{tmp}/run-{preset}"
            _h2h("train", "--preset", preset, "--target", str(CLIP), "--track", track, "-o", run, "--no-progress",
                 "--set", f"data.train_fraction={BANK / FRAMES}", *(["--stop-after", "1"] if preset == "preview"
                                                                  else []))
            r = _in_process(_inference, run, track, threads, repeats, True, True)
            fine = _in_process(_inference, run, track, threads, repeats, True, False)
            plain = _in_process(_inference, run, track, threads, repeats, False, False)
            out.append(Row("synthesize", f"face-mode inference, {preset} preset, composited on the plate "
                           "(detail pass, plate kept)", r["fps"], peer="the same, --no-keep-plate",
                           peer_value=fine["fps"], peak_mib=r["peak_mb"], memory="RSS (fresh process)"))
            out.append(Row("synthesize", f"face-mode inference, {preset} preset, --no-keep-plate", fine["fps"],
                           peer="the same, --no-detail", peer_value=plain["fps"], peak_mib=fine["peak_mb"],
                           memory="RSS (fresh process)"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch and OpenMP)")
    ap.add_argument("--repeats", type=int, default=3, help="timing runs per case (best kept)")
    ap.add_argument("--quick", action="store_true", help="the kernels only (no preset is trained)")
    args = ap.parse_args()
    print_rows(rows(args.quick, args.threads, args.repeats))


if __name__ == "__main__":
    main()
