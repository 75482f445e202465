"""Self-reenactment data: the target video's face crops and their rendered conditioning, cached in the run dir.

The shot's first ``train_fraction`` (2/3) of frames train G; the rest is held out for evaluation (the
paper's protocol). Conditioning (NMFC, eye image, face mask, mouth box, facial flow) comes from the render
API for the track; the video frames are cropped with the same crop box and resized to the model's size.
Everything is stored once as ``.npy`` files under ``RUN_DIR/cache/`` (memory-mapped when read).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from h2h_engine.errors import InputError
from h2h_engine.io import FramePattern, atomic_path, is_pattern, open_frames
from h2h_engine.morphable import load_model_for
from h2h_engine.render.conditioning import render_conditioning
from h2h_engine.render.crop import crop_box_for_track, crop_frames
from h2h_engine.synthesis.inference import conditioning_stack, temporal_stack
from h2h_engine.track import Track

from .config import TrainConfig

CACHE_VERSION = 1
RENDER_CHUNK = 128  # frames rendered per call (bounds memory on long shots)


@dataclass
class ShotData:
    """One shot's training/evaluation arrays (T frames at the model size S).

    Attributes:
        frames: (T,) frame numbers.
        images: (T, S, S, 3) uint8 target crops.
        cond: (T, 6, S, S) float16 per-frame conditioning (NMFC, eyes) in [0, 1].
        mask: (T, S, S) bool rendered face.
        mouth_box: (T, 4) int32 x0, y0, x1, y1 in crop pixels.
        flow: (T, 2, S, S) float16 facial flow, pixels; flow[t] maps frame t to t+1.
        crop_box: (4,) float32 source-pixel crop box.
        n_train: frames [0, n_train) train; [n_train, T) are held out.
    """

    frames: np.ndarray
    images: np.ndarray
    cond: np.ndarray
    mask: np.ndarray
    mouth_box: np.ndarray
    flow: np.ndarray
    crop_box: np.ndarray
    n_train: int

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, starts: np.ndarray, length: int, n_cond_frames: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Tensors for the windows ``starts[b] .. starts[b] + length - 1`` (shot indices):
        ``cond_in`` (B, L, 6n, S, S) G's conditioning input, ``cond`` (B, L, 6, S, S) the frame's own,
        ``real`` (B, L, 3, S, S) in [-1, 1], ``flow`` (B, L, 2, S, S), ``mouth`` (B, L, 2) centres (x, y)."""
        idx = (starts[:, None] + np.arange(length)[None]).reshape(-1)  # (B*L,)
        lo = max(0, int(idx.min()) - (n_cond_frames - 1))
        hi = int(idx.max())
        cond = torch.from_numpy(np.asarray(self.cond[lo:hi + 1], dtype=np.float32))
        cond_in = temporal_stack(cond, torch.from_numpy(idx), n_cond_frames, offset=lo)
        b = len(starts)
        real = torch.from_numpy(np.asarray(self.images[idx])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        box = self.mouth_box[idx].astype(np.float32)
        out = {"cond_in": cond_in, "cond": cond[torch.from_numpy(idx - lo)], "real": real,
               "flow": torch.from_numpy(np.asarray(self.flow[idx], dtype=np.float32)),
               "mouth": torch.from_numpy(np.stack([(box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2], 1))}
        return {k: v.reshape(b, length, *v.shape[1:]).to(device) for k, v in out.items()}


def _fingerprint(video: Path, track_path: Path, cfg: TrainConfig, model_digest: str) -> str:
    seq = FramePattern.parse(video) if is_pattern(str(video)) else None
    files = [seq.path(f) for f in seq.existing_frames()] if seq else [video]  # a movie or a sequence's files
    stats = [(p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    h = hashlib.sha1()
    h.update(Path(track_path).read_bytes())
    h.update(json.dumps([CACHE_VERSION, str(video.resolve()), stats, cfg.model.size,
                         cfg.data.crop_margin, cfg.data.crop_smooth, cfg.data.max_frames, model_digest]).encode())
    return h.hexdigest()[:16]


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def prepare_data(video: str | Path, track_path: str | Path, cfg: TrainConfig, cache_root: str | Path,
                 progress: Callable[[int, int, str], None] | None = None) -> ShotData:
    """Build (or reuse) the cached arrays of a shot; returns them memory-mapped."""
    video, track_path = Path(video), Path(track_path)
    if not video.exists() and "%" not in str(video) and "#" not in str(video):
        raise InputError(f"target video {video} does not exist")
    track = Track.load(track_path)
    if cfg.data.max_frames:
        track = track.slice(int(track.frames[0]), int(track.frames[min(cfg.data.max_frames, len(track)) - 1]))
    if len(track) < 6:
        raise InputError(f"track {track_path} has {len(track)} frames; training needs at least 6")
    model = load_model_for(track, what=f"track {track_path}")
    key = _fingerprint(video, track_path, cfg, model.digest)
    folder = Path(cache_root) / f"data-{key}"
    if not (folder / "meta.json").is_file():
        _build_cache(video, track, model, cfg, folder, progress)
    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in
              ("frames", "images", "cond", "mask", "mouth_box", "flow", "crop_box")}
    n_train = int(round(len(arrays["frames"]) * cfg.data.train_fraction))
    return ShotData(**arrays, n_train=n_train)


def _build_cache(video: Path, track: Track, model, cfg: TrainConfig, folder: Path,
                 progress: Callable[[int, int, str], None] | None) -> None:
    s, t = cfg.model.size, len(track)
    folder.mkdir(parents=True, exist_ok=True)
    box = crop_box_for_track(track, model, margin=cfg.data.crop_margin, smooth=cfg.data.crop_smooth)
    tmp = {n: folder / f".{n}.partial.npy" for n in ("images", "cond", "mask", "flow")}
    images = np.lib.format.open_memmap(tmp["images"], "w+", np.uint8, (t, s, s, 3))
    cond = np.lib.format.open_memmap(tmp["cond"], "w+", np.float16, (t, 6, s, s))
    mask = np.lib.format.open_memmap(tmp["mask"], "w+", np.bool_, (t, s, s))
    flow = np.lib.format.open_memmap(tmp["flow"], "w+", np.float16, (t, 2, s, s))
    mouth = np.zeros((t, 4), np.int32)
    row = {int(f): i for i, f in enumerate(track.frames)}
    first, last = int(track.frames[0]), int(track.frames[-1])
    seen = 0
    for f, rgb in open_frames(video, (first, last)):
        if f in row:
            images[row[f]] = crop_frames(rgb[None], box, (s, s))[0]
            seen += 1
            if progress:
                progress(seen, 2 * t, "crop frames")
    if seen != t:
        raise InputError(f"{video} has {seen} of the track's {t} frames ({first}-{last}): wrong video for this track?")
    for a in range(0, t, RENDER_CHUNK):
        b = min(a + RENDER_CHUNK, t)  # render one frame more so flow[b-1] is real
        part = track.slice(int(track.frames[a]), int(track.frames[min(b, t - 1)]))
        c = render_conditioning(model, part, (s, s), crop=box, what=("nmfc", "eyes", "mask", "flow"))
        n = b - a
        cond[a:b] = conditioning_stack(c.nmfc[:n], c.eyes[:n])
        mask[a:b] = c.mask[:n]
        mouth[a:b] = c.mouth_box[:n]
        flow[a:b] = c.flow[:n].transpose(0, 3, 1, 2)
        if progress:
            progress(t + b, 2 * t, "render conditioning")
    for arr in (images, cond, mask, flow):
        arr.flush()
    del images, cond, mask, flow
    for n, p in tmp.items():
        os.replace(p, folder / f"{n}.npy")
    _save_npy(folder / "frames.npy", np.asarray(track.frames, np.int64))
    _save_npy(folder / "mouth_box.npy", mouth)
    _save_npy(folder / "crop_box.npy", np.asarray(box, np.float32))
    with atomic_path(folder / "meta.json") as p:
        p.write_text(json.dumps({"version": CACHE_VERSION, "frames": t, "size": s, "model": model.digest}))
