"""Self-reenactment data: the target video's face crops and their rendered conditioning, cached in the run dir.

The shot's first ``train_fraction`` (2/3) of frames train G; the rest is held out for evaluation (the
paper's protocol). Conditioning (NMFC, eye image, face mask, mouth box, facial flow) comes from the render
API for the track; the video frames are cropped with the same crop box and resized to the model's size.
Everything is stored once as ``.npy`` files under ``RUN_DIR/cache/`` (memory-mapped when read).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from h2h_engine.errors import InputError
from h2h_engine.io import atomic_path, open_frames
from h2h_engine.morphable import load_model_for
from h2h_engine.render.appearance import Retrieval, Warper
from h2h_engine.nodes.cache import content_key
from h2h_engine.render.conditioning import Conditioning, render_rows
from h2h_engine.render.crop import crop_box_for_track, crop_frames
from h2h_engine.render.flow import optical_flow
from h2h_engine.synthesis.inference import appearance_channels, conditioning_stack, temporal_stack
from h2h_engine.track import Track

from .config import TrainConfig

CACHE_VERSION = 3
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
        matte: (T, S, S) float16 face matte (model region ``face``), or None.
        warp: (T, S, S, 3) uint8 retrieved training frames warped to each frame, or None; cover (T, S, S)
            float16 their coverage. Training frames retrieve only frames at least ``retrieval_exclude`` away.
        retrieval_scale: the retrieval bandwidth (inference reuses it).
        appearance: the model's appearance inputs (stacked after NMFC + eyes by ``frame_inputs``).
    """

    frames: np.ndarray
    images: np.ndarray
    cond: np.ndarray
    mask: np.ndarray
    mouth_box: np.ndarray
    flow: np.ndarray
    crop_box: np.ndarray
    n_train: int
    matte: np.ndarray | None = None
    warp: np.ndarray | None = None
    cover: np.ndarray | None = None
    retrieval_scale: float = 0.0
    appearance: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, starts: np.ndarray, length: int, n_cond_frames: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Tensors for the windows ``starts[b] .. starts[b] + length - 1`` (shot indices):
        ``cond_in`` (B, L, 6n, S, S) G's conditioning input, ``cond`` (B, L, 6, S, S) the frame's own,
        ``real`` (B, L, 3, S, S) in [-1, 1], ``flow`` (B, L, 2, S, S), ``mouth`` (B, L, 2) centres (x, y),
        ``matte`` (B, L, 1, S, S) (ones without a face matte)."""
        idx = (starts[:, None] + np.arange(length)[None]).reshape(-1)  # (B*L,)
        lo = max(0, int(idx.min()) - (n_cond_frames - 1))
        hi = int(idx.max())
        full = torch.from_numpy(self.frame_inputs(lo, hi + 1))
        cond = full[:, :6]
        cond_in = temporal_stack(full, torch.from_numpy(idx), n_cond_frames, offset=lo)
        b = len(starts)
        real = torch.from_numpy(np.asarray(self.images[idx])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        box = self.mouth_box[idx].astype(np.float32)
        out = {"cond_in": cond_in, "cond": cond[torch.from_numpy(idx - lo)], "real": real,
               "flow": torch.from_numpy(np.asarray(self.flow[idx], dtype=np.float32)),
               "mouth": torch.from_numpy(np.stack([(box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2], 1)),
               "matte": torch.from_numpy(np.asarray(self.matte[idx], np.float32)[:, None]) if self.matte is not None
               else torch.ones(len(idx), 1, *self.images.shape[1:3])}
        return {k: v.reshape(b, length, *v.shape[1:]).to(device) for k, v in out.items()}


    def frame_inputs(self, a: int, b: int) -> np.ndarray:
        """(b - a, C, S, S) float32 network inputs of shot indices a..b-1 per frame (NMFC, eyes, appearance)."""
        cond = np.asarray(self.cond[a:b], np.float32)
        if not self.appearance:
            return cond
        extra = appearance_channels(self.appearance, self.images[a:b],
                                    None if self.matte is None else np.asarray(self.matte[a:b], np.float32),
                                    None if self.warp is None else self.warp[a:b],
                                    None if self.cover is None else np.asarray(self.cover[a:b], np.float32))
        return np.concatenate([cond, np.concatenate(extra, -1).transpose(0, 3, 1, 2)], 1)


def _cache_key(video: Path, track_path: Path, cfg: TrainConfig, model_digest: str) -> str:
    """The conditioning cache's :func:`~h2h_engine.nodes.cache.content_key`: the video and the track by
    content, and the settings the cached arrays depend on."""
    d = cfg.data
    settings = {"version": CACHE_VERSION, "size": cfg.model.size, "crop_margin": d.crop_margin,
                "crop_smooth": d.crop_smooth, "max_frames": d.max_frames, "model": model_digest, "flow": d.flow,
                "appearance": _appearance_key(cfg)}
    return content_key("train-data", settings, {"video": video, "track": track_path}, length=16)


def _appearance_key(cfg: TrainConfig) -> list:
    """What the cached matte and warps depend on (empty: the model uses neither)."""
    m, d = cfg.model, cfg.data
    if not m.appearance_inputs and m.region == "crop":
        return []
    return [m.region, list(m.appearance_inputs), d.train_fraction, d.retrieval_k, d.retrieval_slots,
            d.retrieval_sigma, d.retrieval_exclude, d.matte_dilate, d.matte_feather, d.retrieval_pose]


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def prepare_data(video: str | Path, track_path: str | Path, cfg: TrainConfig, cache_root: str | Path,
                 progress: Callable[[int, int, str], None] | None = None, track: Track | None = None) -> ShotData:
    """Build (or reuse) the cached arrays of a shot; returns them memory-mapped. ``track``: the file's Track
    when the caller has loaded it already."""
    video, track_path = Path(video), Path(track_path)
    if not video.exists() and "%" not in str(video) and "#" not in str(video):
        raise InputError(f"target video {video} does not exist")
    track = Track.load(track_path) if track is None else track
    if cfg.data.max_frames:
        track = track.slice(int(track.frames[0]), int(track.frames[min(cfg.data.max_frames, len(track)) - 1]))
    if len(track) < 6:
        raise InputError(f"track {track_path} has {len(track)} frames; training needs at least 6")
    model = load_model_for(track, what=f"track {track_path}")
    key = _cache_key(video, track_path, cfg, model.digest)
    folder = Path(cache_root) / f"data-{key}"
    if not (folder / "meta.json").is_file():
        _build_cache(video, track, model, cfg, folder, progress)
    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in
              ("frames", "images", "cond", "mask", "mouth_box", "flow", "crop_box")}
    extra = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in ("matte", "warp", "cover")
             if (folder / f"{n}.npy").is_file()}
    meta = json.loads((folder / "meta.json").read_text())
    return ShotData(**arrays, **extra, n_train=n_train_of(len(arrays["frames"]), cfg),
                    retrieval_scale=float(meta.get("retrieval_scale", 0.0)), appearance=cfg.model.appearance_inputs)


def n_train_of(n_frames: int, cfg: TrainConfig) -> int:
    """Training frames of a shot of ``n_frames``: its leading ``train_fraction``."""
    return int(round(n_frames * cfg.data.train_fraction))


def crop_shot(video: Path, track: Track, box: np.ndarray, out: np.ndarray,
              progress: Callable[[int], None] | None = None) -> None:
    """Crop every frame of ``track`` from ``video`` into ``out`` ((T, S, S, 3) uint8, e.g. a memmap), in track
    order; ``progress(frames done)``."""
    t, s = len(track), out.shape[1]
    row = {int(f): i for i, f in enumerate(track.frames)}
    first, last = int(track.frames[0]), int(track.frames[-1])
    seen = 0
    for f, rgb in open_frames(video, (first, last), first_frame=int(track.meta.get("first_frame", 0))):
        if f in row:
            out[row[f]] = crop_frames(rgb[None], box, (s, s))[0]
            seen += 1
            if progress:
                progress(seen)
    if seen != t:
        raise InputError(f"{video} has {seen} of the track's {t} frames ({first}-{last}): wrong video for this track?")


def _build_cache(video: Path, track: Track, model, cfg: TrainConfig, folder: Path,
                 progress: Callable[[int, int, str], None] | None) -> None:
    s, t = cfg.model.size, len(track)
    folder.mkdir(parents=True, exist_ok=True)
    box = crop_box_for_track(model, track, margin=cfg.data.crop_margin, smooth=cfg.data.crop_smooth)
    tmp = {n: folder / f".{n}.partial.npy" for n in ("images", "cond", "mask", "flow")}
    images = np.lib.format.open_memmap(tmp["images"], "w+", np.uint8, (t, s, s, 3))
    cond = np.lib.format.open_memmap(tmp["cond"], "w+", np.float16, (t, 6, s, s))
    mask = np.lib.format.open_memmap(tmp["mask"], "w+", np.bool_, (t, s, s))
    flow = np.lib.format.open_memmap(tmp["flow"], "w+", np.float16, (t, 2, s, s))
    mouth = np.zeros((t, 4), np.int32)
    crop_shot(video, track, box, images, None if progress is None else lambda n: progress(n, 2 * t, "crop frames"))
    c: Conditioning | None = None  # the previous chunk, its arrays reused (each is copied into the memmaps)
    for a in range(0, t, RENDER_CHUNK):
        b = min(a + RENDER_CHUNK, t)
        c = render_rows(model, track, a, b, (s, s), crop=box,
                        what=("nmfc", "eyes", "mask") + (("flow",) if cfg.data.flow == "model" else ()), out=c)
        cond[a:b] = conditioning_stack(c.nmfc, c.eyes)
        mask[a:b] = c.mask
        mouth[a:b] = c.mouth_box
        # DIS: the real crop frames' optical flow, one frame past the chunk so flow[b-1] is real
        f = c.flow if cfg.data.flow == "model" else optical_flow(images[a:min(b + 1, t)])[:b - a]
        flow[a:b] = f.transpose(0, 3, 1, 2)
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
    scale = _build_appearance(track, model, cfg, box, folder, progress) if _appearance_key(cfg) else 0.0
    with atomic_path(folder / "meta.json") as p:
        p.write_text(json.dumps({"version": CACHE_VERSION, "frames": t, "size": s, "model": model.digest,
                                 "retrieval_scale": scale}))


def _build_appearance(track: Track, model, cfg: TrainConfig, box: np.ndarray, folder: Path,
                      progress: Callable[[int, int, str], None] | None) -> float:
    """Face matte and appearance warps of every frame; returns the retrieval bandwidth. Held-out frames
    retrieve from all training frames, as any driven frame does at inference."""
    look, s, t = cfg.data.appearance(), cfg.model.size, len(track)
    n_train = n_train_of(t, cfg)
    images = np.load(folder / "images.npy", mmap_mode="r")
    _save_npy(folder / "matte.npy", look.matte(model, track, None, box, (s, s)).astype(np.float16))
    bank = track.slice(int(track.frames[0]), int(track.frames[n_train - 1]))
    train_r = look.retrieve(bank, bank, exclude=True)
    held = track.slice(int(track.frames[n_train]), int(track.frames[-1])) if n_train < t else None
    held_r = cfg.data.appearance(train_r.scale).retrieve(held, bank) if held is not None else None
    index = np.concatenate([train_r.index] + ([held_r.index] if held_r else []))
    weight = np.concatenate([train_r.weight] + ([held_r.weight] if held_r else []))
    warper = Warper(model, bank, images[:n_train], box, backdrop=cfg.model.region == "crop")
    tmp = {n: folder / f".{n}.partial.npy" for n in ("warp", "cover")}
    warp = np.lib.format.open_memmap(tmp["warp"], "w+", np.uint8, (t, s, s, 3))
    cover = np.lib.format.open_memmap(tmp["cover"], "w+", np.float16, (t, s, s))
    for a in range(0, t, RENDER_CHUNK):
        b = min(a + RENDER_CHUNK, t)
        part = track.slice(int(track.frames[a]), int(track.frames[b - 1]))
        warp[a:b], c = warper.warp(part, Retrieval(index[a:b], weight[a:b], train_r.scale))
        cover[a:b] = c
        if progress:
            progress(b, t, "appearance warps")
    for arr in (warp, cover):
        arr.flush()
    del warp, cover
    for n, p in tmp.items():
        os.replace(p, folder / f"{n}.npy")
    return train_r.scale
