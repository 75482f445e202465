"""The GPU campaign (issue 13): build, check and time every CUDA path on one prepared real clip.

    python benchmarks/gpu/campaign.py [--data DIR] [-o OUT] [--work DIR] [--dry-run] [--train-seconds S]

Sections, each reported under its name in one JSON summary (stdout and ``OUT/summary.json``, rewritten
after every section so a run cut short keeps what it measured):

- ``build``: ``_native`` built by setup.py with CUDA for the GPU found (``CUDAARCHS`` = its compute
  capability), or CPU-only when no nvcc is found or the CUDA build fails (so the rest still runs);
- ``raster``: the CUDA rasterizer against the CPU one on the prepared frames' NMFC (pixels agreeing,
  coverage), and both timed batched at 256 and 1024 px;
- ``train``: the ``paper`` preset for a wall-clock budget (bf16 autocast on CUDA): steps/s, frames/s,
  peak memory, and the held-out APD / MAPD / mouth APD against the mean-frame baseline;
- ``inference``: G fp16 at the model size, batch 1 and batched, the engine's sequential synthesis, and
  the TorchScript export's pixels against eager G;
- ``tests``: ``pytest -m cuda``.

``--dry-run`` runs the same sections on the CPU with tiny budgets (``tiny`` preset, a few seconds of
training); the CUDA build and every CUDA-only figure are reported as ``{"skipped": reason}``. The data
folder is written by benchmarks/gpu/prepare.py; the training run and the TorchScript file go to ``--work``
(not to OUT: a paper checkpoint is ~1 GB). See docs/gpu.md for what each figure means.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import glob
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from h2h_engine.io import atomic_path  # noqa: E402 - the engine's modules import no _native at import time

SCHEMA = "H2HGpuCampaign.1"
DEFAULT_DATA = REPO / "benchmarks" / "gpu" / "data"  # git-ignored; what the device run carries
RASTER_GOAL_MS = 0.2      # issue 13: CUDA rasterizer, per 256 px frame
INFERENCE_GOAL_FPS = 100  # issue 13: paper G fp16 at 256 px on one H100-class GPU


@dataclass(frozen=True)
class Budget:
    """How much each section does: the GPU campaign, or the CPU dry run that proves the script."""

    preset: str                                 # training preset
    train_seconds: float                        # wall-clock training budget
    raster_frames: dict[int, int]               # raster size (px) -> frames per batched call
    raster_repeats: int                         # timed calls per size and device
    infer_batches: tuple[int, ...]              # G batch sizes timed
    infer_repeats: int                          # timed calls per batch size
    test_timeout: int = 300                     # seconds for pytest -m cuda
    overrides: dict[str, Any] = field(default_factory=lambda: {
        "log_every": 1, "checkpoint_every": 10 ** 9, "sample_every": 10 ** 9})  # one checkpoint, at the end


FULL = Budget("paper", 200.0, {256: 300, 1024: 64}, 20, (1, 8, 32), 20)
DRY = Budget("tiny", 3.0, {256: 8, 1024: 2}, 2, (1, 4), 2)


@dataclass(frozen=True)
class Data:
    """The prepared folder (benchmarks/gpu/prepare.py): frames pattern, track file and manifest."""

    root: Path
    frames: Path
    track: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, root: Path) -> "Data":
        manifest = json.loads((root / "manifest.json").read_text())
        if manifest.get("schema") != "H2HGpuData.1":
            raise ValueError(f"{root}/manifest.json has schema {manifest.get('schema')!r}, not H2HGpuData.1")
        return cls(root, root / manifest["frames"], root / manifest["track"], manifest)


def say(text: str) -> None:
    print(f"[campaign {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def skipped(reason: str) -> dict[str, str]:
    return {"skipped": reason}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], repeats: int, device: torch.device, warmup: int = 2) -> float:
    """Mean seconds per call of ``fn`` after ``warmup`` calls (device synchronised around the loop)."""
    for _ in range(warmup):
        fn()
    sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - t) / repeats


def pixels_agree(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """How far two float images in [0, 1] are apart: max abs difference and the fraction of equal 8-bit values."""
    q = lambda x: (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
    return {"max_abs": float(np.abs(a.astype(np.float64) - b).max()), "uint8_equal": float((q(a) == q(b)).mean())}


# -- build ------------------------------------------------------------------------------------------------
def find_nvcc() -> Path | None:
    """nvcc inside a toolkit folder (``bin/nvcc`` beside ``include/``, as setup.py expects of CUDA_HOME): from
    $CUDA_HOME, /usr/local/cuda*, PATH, or the nvidia-cuda-nvcc pip package."""
    cands = [Path(os.environ["CUDA_HOME"]) / "bin" / "nvcc"] if os.environ.get("CUDA_HOME") else []
    cands += [Path("/usr/local/cuda/bin/nvcc")]
    cands += [Path(p) for p in sorted(glob.glob("/usr/local/cuda-*/bin/nvcc"), reverse=True)]
    cands += [Path(shutil.which("nvcc") or "/nonexistent").resolve()]
    cands += [Path(p) / "nvidia" / "cuda_nvcc" / "bin" / "nvcc" for p in sys.path if p]
    return next((c for c in cands if c.is_file() and (c.parent.parent / "include").is_dir()), None)


def _setup_build(cuda: bool, nvcc: Path | None, arch: str, build_dir: Path) -> tuple[bool, float, str]:
    """``python setup.py build_ext --inplace`` (see setup.py); (ok, seconds, output tail)."""
    env = {**os.environ, "H2H_WITH_CUDA": "1" if cuda else "0", "H2H_BUILD_DIR": str(build_dir)}
    if cuda and nvcc is not None:
        env.update(CUDA_HOME=str(nvcc.parent.parent), CUDAARCHS=arch)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=REPO, env=env,
                       capture_output=True, text=True)
    return p.returncode == 0, time.perf_counter() - t, (p.stdout + p.stderr)[-3000:]


def section_build(budget: Budget, dry_run: bool) -> dict[str, Any]:
    """Build ``_native`` with CUDA for this GPU (CPU-only when that is impossible), then report what loaded."""
    if dry_run:
        return skipped("dry run: uses the _native already built on this machine")
    if not torch.cuda.is_available():
        return skipped("no CUDA GPU visible to torch")
    major, minor = torch.cuda.get_device_capability()
    arch = f"{major}{minor}"
    nvcc = find_nvcc()
    out: dict[str, Any] = {"arch": arch, "nvcc": str(nvcc) if nvcc else None, "torch_cuda": torch.version.cuda}
    ok = False
    if nvcc is not None:
        ok, out["cuda_build_s"], tail = _setup_build(True, nvcc, arch, REPO / "build" / f"cmake-sm{arch}")
        if not ok:
            out["cuda_build_error"] = tail
    else:
        out["cuda_build_error"] = "no nvcc found ($CUDA_HOME, PATH, /usr/local/cuda*, nvidia-cuda-nvcc)"
    if not ok:
        say("CUDA build impossible; building _native CPU-only so the other sections run")
        ok, out["cpu_build_s"], tail = _setup_build(False, None, arch, REPO / "build" / "cmake-cpu")
        if not ok:
            out["cpu_build_error"] = tail
    probe = subprocess.run([sys.executable, "-c", "import h2h_engine._native as n; print(n.has_cuda)"],
                           cwd=REPO, capture_output=True, text=True)
    out["has_cuda"] = probe.stdout.strip() == "True"
    out["import_error"] = probe.stderr[-1000:] if probe.returncode else None
    return out


# -- raster -----------------------------------------------------------------------------------------------
def section_raster(data: Data, budget: Budget) -> dict[str, Any]:
    """NMFC of the prepared frames: CUDA vs CPU pixels and coverage, and both timed batched per size."""
    from h2h_engine import _native
    from h2h_engine.morphable import load_model_for
    from h2h_engine.render.conditioning import resolve_box
    from h2h_engine.render.nmfc import project_track, render_mesh
    from h2h_engine.render.raster import render
    from h2h_engine.track import Track

    track = Track.load(data.track)
    model = load_model_for(track)
    mesh = render_mesh(model)
    cuda = _native.has_cuda and torch.cuda.is_available()
    cpu_dev, gpu_dev = torch.device("cpu"), torch.device("cuda") if cuda else None
    out: dict[str, Any] = {"triangles": int(len(mesh.triangles)), "goal_ms_per_frame_256": RASTER_GOAL_MS}
    for size, n in budget.raster_frames.items():
        n = min(n, len(track))
        part = track.slice(int(track.frames[0]), int(track.frames[n - 1]))
        box = resolve_box(model, part, (size, size), "auto")
        proj = project_track(model, part, box, (size, size), mesh.vertices)  # (n, K, 3)
        args = (proj, mesh.triangles, mesh.colours, (size, size))
        img_c, tri_c = render(*args)
        fig: dict[str, Any] = {"frames": n, "coverage_cpu": float((tri_c >= 0).mean()),
                               "cpu_ms_per_frame": 1e3 * timed(lambda: render(*args), min(3, budget.raster_repeats),
                                                               cpu_dev, warmup=1) / n}
        if gpu_dev is None:
            fig["cuda"] = skipped("no CUDA build of _native or no GPU")
        else:
            gpu_args = (torch.from_numpy(proj).to(gpu_dev), torch.from_numpy(mesh.triangles).to(gpu_dev),
                        torch.from_numpy(mesh.colours).to(gpu_dev), (size, size))
            img_g, tri_g = (t.cpu().numpy() for t in render(*gpu_args, device="cuda"))
            same = tri_c == tri_g
            covered = same & (tri_c >= 0)
            ms = 1e3 * timed(lambda: render(*gpu_args, device="cuda"), budget.raster_repeats, gpu_dev) / n
            fig["cuda"] = {"coverage": float((tri_g >= 0).mean()), "tri_id_agree": float(same.mean()),
                           "nmfc_max_abs_where_agree": float(np.abs(img_g[covered] - img_c[covered]).max())
                           if covered.any() else 0.0,
                           "nmfc": pixels_agree(img_g, img_c), "ms_per_frame": ms,
                           "speedup_vs_cpu": fig["cpu_ms_per_frame"] / ms}
            if size == 256:
                fig["cuda"]["meets_goal"] = ms < RASTER_GOAL_MS
        out[f"{size}px"] = fig
    return out


# -- train ------------------------------------------------------------------------------------------------
@dataclass
class TrainState:
    """What the train section leaves for the inference section."""

    cfg: Any = None
    run_dir: Path | None = None
    checkpoint: Path | None = None


def steady_rate(log: list[dict[str, Any]]) -> float:
    """Steps/s between the record after the first tenth of the run (warm-up: cuDNN autotuning, allocator)
    and the last record; the whole run's rate when it is too short for that."""
    if not log:
        return float("nan")
    w = max(2, len(log) // 10)
    if len(log) > w + 1 and log[-1]["time_s"] > log[w]["time_s"]:
        return (log[-1]["step"] - log[w]["step"]) / (log[-1]["time_s"] - log[w]["time_s"])
    return log[-1]["step"] / max(log[-1]["time_s"], 1e-9)


def section_train(data: Data, budget: Budget, work: Path, out_dir: Path, device: torch.device,
                  state: TrainState) -> dict[str, Any]:
    """Train the preset for ``budget.train_seconds``, then evaluate it on the held-out third."""
    from h2h_engine.synthesis.vgg import find_vgg_weights
    from h2h_engine.training.config import load_config
    from h2h_engine.training.data import prepare_data
    from h2h_engine.training.evaluate import METRICS, evaluate_run
    from h2h_engine.training.train import steps_per_epoch, train

    overrides = {**budget.overrides, "device": device.type}
    vgg = "imagenet" if find_vgg_weights(None) is not None else "random-init (no VGG19 weights on this machine)"
    if vgg != "imagenet":
        overrides["random_vgg"] = True  # the paper's compute; its perceptual term is not the paper's
    cfg = load_config(budget.preset, overrides=overrides)
    run_dir = work / f"run-{budget.preset}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    state.cfg, state.run_dir = cfg, run_dir
    t = time.perf_counter()
    shot = prepare_data(data.frames, data.track, cfg, run_dir / "cache")  # train() reuses this cache
    prep_s = time.perf_counter() - t
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t = time.perf_counter()
    state.checkpoint = train(data.frames, data.track, run_dir, cfg, show_progress=False,
                             time_budget=budget.train_seconds)
    wall = time.perf_counter() - t
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line]
    rate = steady_rate(log)
    fig: dict[str, Any] = {
        "preset": budget.preset, "size": cfg.model.size, "amp": "bf16" if device.type == "cuda" and cfg.amp else "off",
        "vgg": vgg, "budget_s": budget.train_seconds, "train_wall_s": wall, "data_prep_s": prep_s,
        "steps": log[-1]["step"] if log else 0, "epochs": log[-1]["epoch"] if log else 0.0,
        "steps_per_epoch": steps_per_epoch(cfg, shot.n_train, 1), "steps_per_s": rate,
        "frames_per_s": rate * cfg.frames_per_step * cfg.batch,
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else None,
        "peak_host_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
        "final_losses": {k: log[-1][k] for k in ("loss_g", "loss_d", "g_l1")} if log else {},
    }
    t = time.perf_counter()
    summary = evaluate_run(run_dir, device=device.type, heat_maps=0)
    fig["eval_s"] = time.perf_counter() - t
    fig["held_out"] = {"frames": summary["n_test"], **{m: summary[m] for m in METRICS}}
    shutil.copyfile(run_dir / "log.jsonl", out_dir / f"train-{budget.preset}.log.jsonl")
    return fig


# -- inference --------------------------------------------------------------------------------------------
def section_inference(data: Data, budget: Budget, work: Path, device: torch.device,
                      state: TrainState) -> dict[str, Any]:
    """G fp16 (CUDA) / fp32 (CPU): batch 1 and batched, the engine's Synthesizer, and the TorchScript export."""
    from h2h_engine.synthesis.checkpoint import load_generator
    from h2h_engine.synthesis.generator import Generator, count_parameters
    from h2h_engine.synthesis.inference import Synthesizer, export_torchscript, temporal_stack
    from h2h_engine.training.config import load_config
    from h2h_engine.training.data import prepare_data

    cfg = state.cfg or load_config(budget.preset, overrides={**budget.overrides, "device": device.type})
    trained = state.checkpoint is not None and state.checkpoint.is_file()
    gen = load_generator(state.checkpoint)[0] if trained else Generator(cfg.model).eval()
    m = gen.cfg
    shot = prepare_data(data.frames, data.track, cfg, (state.run_dir or work / "run-inference") / "cache")
    cond = np.asarray(shot.cond, np.float32)  # (T, 6, S, S)
    t_all = len(cond)
    out: dict[str, Any] = {"weights": "trained" if trained else "random-init", "size": m.size,
                           "parameters_g": count_parameters(gen), "goal_fps_batch1": INFERENCE_GOAL_FPS}

    # TorchScript first: export_torchscript moves its generator to the CPU (a copy keeps ``gen`` as it is).
    ts_path = work / "generator.ts"
    export_torchscript(copy.deepcopy(gen), ts_path)
    ts = torch.jit.load(str(ts_path), map_location="cpu")
    idx = torch.arange(2, 4)  # two real frames, with their real predecessors as G's previous outputs
    x = temporal_stack(torch.from_numpy(cond), idx, m.n_cond_frames)
    real = torch.from_numpy(np.array(shot.images[:6])).permute(0, 3, 1, 2).float() / 127.5 - 1
    prev = torch.cat([real[idx - k] for k in range(m.n_prev_frames, 0, -1)], dim=1)
    with torch.inference_mode():
        eager_cpu, ts_cpu = gen(x, prev), ts(x, prev)
    unit = lambda y: ((y.float().clamp(-1, 1) + 1) / 2).cpu().numpy()  # noqa: E731
    out["torchscript"] = {"cpu_fp32": pixels_agree(unit(ts_cpu), unit(eager_cpu))}
    out["torchscript"]["same_pixels_cpu_fp32"] = out["torchscript"]["cpu_fp32"]["uint8_equal"] == 1.0

    synth = Synthesizer(copy.deepcopy(gen), device=device.type)
    g, dt, fmt = synth.g, synth.dtype, synth.fmt
    out["dtype"] = str(dt).replace("torch.", "")
    if device.type == "cuda":
        ts_gpu = torch.jit.load(str(ts_path), map_location=device).to(dt)
        xg, pg = (v.to(device, dt).contiguous(memory_format=fmt) for v in (x, prev))
        with torch.inference_mode():
            out["torchscript"]["cuda_fp16"] = pixels_agree(unit(ts_gpu(xg, pg)), unit(g(xg, pg)))
    else:
        out["torchscript"]["cuda_fp16"] = skipped("no CUDA GPU")

    ct = torch.from_numpy(cond).to(device, dt)
    batched: dict[str, Any] = {}
    for b in budget.infer_batches:
        xi = temporal_stack(ct, torch.arange(b, device=device) % t_all, m.n_cond_frames)
        xi = xi.contiguous(memory_format=fmt)
        pi = torch.zeros(b, m.prev_channels, m.size, m.size, device=device, dtype=dt).contiguous(memory_format=fmt)
        with torch.inference_mode():
            s = timed(lambda: g(xi, pi), budget.infer_repeats, device)
        batched[str(b)] = {"ms_per_call": 1e3 * s, "frames_per_s": b / s}
    out["g_forward"] = batched
    out["meets_goal_batch1"] = batched["1"]["frames_per_s"] >= INFERENCE_GOAL_FPS if "1" in batched else None
    list(synth.run(cond, 0, 0, min(15, t_all - 1)))  # warm-up
    sync(device)
    t = time.perf_counter()
    n = sum(1 for _ in synth.run(cond, 0, 0, t_all - 1))
    sync(device)
    out["synthesizer"] = {"frames": n, "frames_per_s": n / (time.perf_counter() - t),
                          "encoder_batch": synth.schedule.encoder_batch or (8 if device.type == "cuda" else 1)}
    return out


# -- tests ------------------------------------------------------------------------------------------------
def section_tests(budget: Budget) -> dict[str, Any]:
    """``pytest -m cuda`` over the whole suite (on a machine without a GPU they all skip)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", "tests"]
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=budget.test_timeout)
    text = p.stdout + p.stderr
    counts = {k: 0 for k in ("passed", "failed", "skipped", "errors")}
    for num, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)\b", text.splitlines()[-1] if text else ""):
        counts["errors" if word.startswith("error") else word] += int(num)
    return {"command": " ".join(cmd[1:]), "returncode": p.returncode, **counts, "seconds": time.perf_counter() - t,
            "tail": text[-2000:] if p.returncode not in (0, 5) else ""}


# -- driver -----------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"python": platform.python_version(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
            "gpu": gpu, "cpu_cores": os.cpu_count(), "host": platform.node()}


def run(data_dir: Path, out_dir: Path, work: Path, dry_run: bool, train_seconds: float | None) -> dict[str, Any]:
    """Every section in order; one failing section is reported (``{"error": ...}``) and the rest still run."""
    budget = DRY if dry_run else FULL
    if train_seconds is not None:
        budget = dataclasses.replace(budget, train_seconds=train_seconds)
    data = Data.open(data_dir)
    os.environ["H2H_MODEL_PATH"] = os.pathsep.join(filter(None, [str(data.root), os.environ.get("H2H_MODEL_PATH")]))
    device = torch.device("cuda" if torch.cuda.is_available() and not dry_run else "cpu")
    if dry_run:
        torch.set_num_threads(1)  # a dry run proves the script; one thread keeps it quick on a shared CPU
    out_dir.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"schema": SCHEMA, "dry_run": dry_run, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "machine": machine(), "device": str(device),
                               "data": {k: data.manifest[k] for k in ("clip", "n_frames", "size", "bytes")}}
    state = TrainState()
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "build": lambda: section_build(budget, dry_run),
        "raster": lambda: section_raster(data, budget),
        "train": lambda: section_train(data, budget, work, out_dir, device, state),
        "inference": lambda: section_inference(data, budget, work, device, state),
        "tests": lambda: section_tests(budget),
    }
    for name, fn in sections.items():
        say(f"{name} ...")
        t = time.perf_counter()
        try:
            summary[name] = fn()
        except Exception as e:  # noqa: BLE001 - one broken section must not lose the others' figures
            summary[name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
        summary[name]["section_s"] = time.perf_counter() - t
        summary.pop("wall_s", None)
        summary["wall_s"] = time.perf_counter() - t0
        with atomic_path(out_dir / "summary.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2))
        say(f"{name} done in {summary[name]['section_s']:.1f} s")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="folder written by benchmarks/gpu/prepare.py (default: benchmarks/gpu/data)")
    p.add_argument("-o", "--output", type=Path, default=Path(os.environ.get("OUT") or REPO / "benchmarks/gpu/out"),
                   help="folder for summary.json and the training log (default: $OUT, else benchmarks/gpu/out)")
    p.add_argument("--work", type=Path, default=REPO / "build" / "gpu-campaign",
                   help="scratch folder: training run, TorchScript file (default: build/gpu-campaign)")
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny budgets, CUDA parts skipped")
    p.add_argument("--train-seconds", type=float, help="training budget (default: 200 s, dry run 4 s)")
    args = p.parse_args(argv)
    summary = run(args.data, args.output, args.work, args.dry_run, args.train_seconds)
    print(json.dumps(summary, indent=2))
    failed = [k for k, v in summary.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
