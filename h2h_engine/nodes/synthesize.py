"""Synthesize node: a trained generator applied over a track's conditioning, optionally composited on a plate.

``h2h synthesize --checkpoint CKPT --track TRACK -o OUT [--frames A-B] [--plate PLATE] [--plate-track T]
[--composite] [--feather PX]``. Loads only the model config and G's weights from the checkpoint, renders the
track's conditioning with the crop settings the model was trained with (plus, for appearance models, the
plate context and the warped training frames of the run's bank), runs G block by block (any frame range
gives the same pixels as a whole-shot render) and writes the face crops, or, with a plate, the plate at its
own resolution with only the synthesized region replaced: the face matte for face-region models (dubbing),
the crop box otherwise. Where the composite's alpha is 0 the output is the plate, bit for bit; sequences
carry the alpha as their A channel (RGBA EXR/PNG) so a compositor can re-comp and grade.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import cv2
import numpy as np

from ..errors import FrameRangeError, InputError, ModelMismatchError
from ..io import open_frames
from ..io.colour import convert, network_space, resolve
from ..io.frames import FramePattern, is_pattern
from ..io.image import read_image
from ..io.writer import FrameWriter, is_movie
from ..morphable import load_model_for
from ..render.appearance import AppearanceSettings, PlateKeep, Retrieval, Warper, add_detail
from ..render.conditioning import render_conditioning
from ..render.crop import crop_box_for_track, crop_frames, paste_back
from ..synthesis.config import ModelConfig
from ..track import Track
from .knobs import AUDIO, COLOURSPACE, FORCE, audio_for_track, settings_stamp, track_time
from .spec import Knob, NodeSpec, Port


_EXR_CHANNELS = ("R", "G", "B", "mask.A")  # composited EXR: the comp + its matte as a layer
_RGBA = ("R", "G", "B", "A")
_PLATE_WINDOW = 128  # plate frames kept in memory behind the newest read (>= a block's warm-up + history)


class _Appearance:
    """The appearance inputs of a driven track for a model trained with them (see render/appearance.py):
    the run's bank of training crops, retrieval over the whole driven track (so chunks agree), the face
    matte (the driven face united with the plate's own, from ``plate_track``) and the warps; with ``detail``
    (and a bank at the plate's pixel density) the same warps from that bank too."""

    def __init__(self, checkpoint: str, record: dict[str, Any], model: Any, trk: Track, plate_track: str | None,
                 box: np.ndarray, bank_box: np.ndarray, size: int, backdrop: bool, detail: bool) -> None:
        from pathlib import Path  # noqa: PLC0415

        run = Path(checkpoint).resolve().parent
        images, bank_path = run / record["bank_images"], run / record["bank_track"]
        if not images.is_file() or not bank_path.is_file():
            raise InputError(f"checkpoint {checkpoint} needs its run's appearance bank ({record['bank_images']}, "
                             f"{record['bank_track']} beside it); copy the whole run folder")
        bank = Track.load(bank_path)
        self.model, self.trk, self.box, self.size = model, trk, box, size
        self.warper = Warper(model, bank, np.load(images, mmap_mode="r"), box, backdrop=backdrop, bank_box=bank_box)
        self.detail = None
        if detail and "bank_detail" in record:
            fine = run / record["bank_detail"]
            if not fine.is_file():
                raise InputError(f"checkpoint {checkpoint} needs its run's plate-resolution bank "
                                 f"({record['bank_detail']} beside it); copy the whole run folder, or pass --no-detail")
            self.detail = Warper(model, bank, np.load(fine, mmap_mode="r"), box, backdrop=backdrop, bank_box=bank_box,
                                 cubic=True)
        self.settings = AppearanceSettings.from_record(record)
        self.retrieval = self.settings.retrieve(trk, bank)
        self.own = Track.load(plate_track) if plate_track else None
        if self.own is not None:
            model.check_compatible(self.own.model_name, self.own.model_digest, f"plate track {plate_track}")

    def _own(self, part: Track) -> Track | None:
        """The plate track over ``part``'s frames (None without one)."""
        if self.own is None:
            return None
        rows = np.searchsorted(self.own.frames, part.frames)
        if not np.array_equal(self.own.frames[np.minimum(rows, len(self.own) - 1)], part.frames):
            raise InputError(f"the plate track lacks frames of {part.frames[0]}-{part.frames[-1]}")
        return self.own.slice(int(part.frames[0]), int(part.frames[-1]))

    def inputs(self, lo: int, hi: int, keep: bool = False) -> tuple[Any, ...]:
        """Matte (n, S, S), warp + coverage of track indices lo..hi, the detail warp + coverage (n, D, D) or None,
        None, and with ``keep`` (which needs the plate track) the :class:`PlateKeep` of those frames at the composite's
        size (D, else S), else None."""
        part = self.trk.slice(int(self.trk.frames[lo]), int(self.trk.frames[hi]))
        own = self._own(part)
        s = (self.size, self.size)
        matte = self.settings.matte(self.model, part, own, self.box, s)
        r = Retrieval(self.retrieval.index[lo:hi + 1], self.retrieval.weight[lo:hi + 1], self.retrieval.scale)
        warp, cover = self.warper.warp(part, r)
        fine, fine_cover = self.detail.warp(part, r) if self.detail is not None else (None, None)
        side = self.size if self.detail is None else self.detail.size[0]
        keeper = PlateKeep(self.model, part, own, self.box, side) if keep else None
        return matte, warp, cover, fine, fine_cover, keeper


def synthesize_frames(checkpoint: str, track: str, frames: tuple[int, int] | None = None,
                      plate: Callable[[int], np.ndarray] | None = None, feather: float = 12.0, mask: str = "auto",
                      device: str = "auto", skip: Callable[[list[int]], bool] = lambda numbers: False,
                      progress: Callable[[int, int, str], None] = lambda *a: None,
                      info: dict[str, Any] | None = None,
                      plate_space: str = "srgb",
                      plate_track: str | None = None,
                      engine: str = "auto", detail: bool = True,
                      keep_plate: bool = True) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Yield ``(frame number, image, alpha)`` for ``frames`` of ``track`` in order: G's face crop (display
    sRGB, alpha None), or with ``plate`` (frame number -> (H0, W0, 3) float32 in ``plate_space``, asked in
    ascending order) the crop converted to ``plate_space`` and composited on it, with the composite's
    (H0, W0) alpha; plate pixels where it is 0 are bit-exact.

    ``mask``: auto (the model's region: the face matte for face-region models, else the crop box), box, or
    face (the rendered face). Models with plate context need ``plate``. ``detail``: composite appearance
    models at the plate's pixel density (:func:`~h2h_engine.render.appearance.add_detail`, from the run's
    plate-resolution bank) instead of upsampling the model-size crop. ``keep_plate``: face-region models with
    ``plate_track`` keep the plate's own pixels, warped to the driven expression, where that expression barely
    moves the face (:class:`~h2h_engine.render.appearance.PlateKeep`). Blocks whose frame numbers ``skip``
    accepts are not synthesized (farm re-runs). ``info``, when given, receives the range, crop box, size, the
    side the crop was composited at (``detail_size``, None: the model's) and the engine that ran G
    (``engine``: auto | torch | onnx | bf16, see :mod:`h2h_engine.synthesis.engine`).
    This is the one per-frame synthesis + composite path: the node writes its frames to files, ``h2h filter``
    to a pipe.
    """
    from ..synthesis.checkpoint import checkpoint_file, load_generator  # noqa: PLC0415 - torch only when G runs
    from ..synthesis.inference import (Synthesizer, appearance_channels, composite_alpha,  # noqa: PLC0415
                                       conditioning_stack)

    checkpoint = str(checkpoint_file(checkpoint))
    gen, ck = load_generator(checkpoint)
    cfg = gen.cfg
    trk = Track.load(track)
    model = load_model_for(trk, what=f"track {track}")
    if trk.model_digest != ck["morphable_digest"]:
        raise ModelMismatchError(f"track {track} was fitted with model {trk.model_name} ({trk.model_digest}); "
                                 f"checkpoint {checkpoint} was trained with {ck.get('morphable_name')} "
                                 f"({ck['morphable_digest']})")
    if "context" in cfg.appearance_inputs and plate is None:
        raise InputError(f"checkpoint {checkpoint} regenerates the face inside the plate (face region): pass --plate")
    a, b = frames if frames is not None else (int(trk.frames[0]), int(trk.frames[-1]))
    rows = np.nonzero((trk.frames >= a) & (trk.frames <= b))[0]
    if len(rows) == 0:
        raise FrameRangeError(f"--frames {a}-{b} selects nothing; the track has {trk.frames[0]}-{trk.frames[-1]}")
    first, last = int(rows[0]), int(rows[-1])
    size = cfg.size
    box = crop_box_for_track(model, trk, margin=ck["crop_margin"], smooth=ck["crop_smooth"])
    if info is not None:
        info.update(frames=[int(trk.frames[first]), int(trk.frames[last])], size=size, fps=float(trk.fps),
                    crop_box=[float(v) for v in box])
    record = ck.get("appearance")
    look = (_Appearance(checkpoint, record, model, trk, plate_track, box, np.asarray(ck["crop_box"], np.float32),
                        size, backdrop=cfg.region == "crop", detail=detail and plate is not None) if record else None)
    keeping = keep_plate and look is not None and look.own is not None and cfg.region == "face" and plate is not None
    synth = Synthesizer(gen, device=device, source=f"checkpoint {checkpoint}", engine=engine)
    if info is not None:
        info["engine"] = synth.engine
        info["detail_size"] = look.detail.size[0] if look is not None and look.detail is not None else None
        info["keep_plate"] = keeping
    total, done = last - first + 1, 0
    for _, out_first, out_last in synth.schedule.blocks(first, last):
        numbers = [int(f) for f in trk.frames[out_first:out_last + 1]]
        if skip(numbers):
            done += len(numbers)
            progress(done, total, "synthesize")
            continue
        lo, hi = synth.schedule.needed(out_first, out_last, cfg.n_cond_frames)
        part = trk.slice(int(trk.frames[lo]), int(trk.frames[hi]))
        c = render_conditioning(model, part, (size, size), crop=box, what=("nmfc", "eyes", "mask"))
        matte = warp = cover = fine = fine_cover = keeper = None
        if look is not None:
            matte, warp, cover, fine, fine_cover, keeper = look.inputs(lo, hi, keeping)
        plates: dict[int, np.ndarray] = {}

        def cond_of(i0: int, i1: int) -> np.ndarray:
            """Network inputs of track indices i0..i1 (reads their plate frames when the model needs them)."""
            k0, k1 = i0 - lo, i1 - lo + 1
            if look is None:
                return conditioning_stack(c.nmfc[k0:k1], c.eyes[k0:k1])
            crops = np.zeros((k1 - k0, size, size, 3), np.uint8)
            if plate is not None:
                for f in trk.frames[i0:i1 + 1]:
                    plates.setdefault(int(f), plate(int(f)))
                srgb = [plates[int(f)] if plate_space == "srgb" else convert(plates[int(f)], plate_space, "srgb")
                        for f in trk.frames[i0:i1 + 1]]
                crops = crop_frames(np.stack([np.clip(np.rint(p * 255), 0, 255).astype(np.uint8) for p in srgb]),
                                    box, (size, size))
            return conditioning_stack(c.nmfc[k0:k1], c.eyes[k0:k1], *appearance_channels(
                cfg.appearance_inputs, crops, matte[k0:k1], warp[k0:k1], cover[k0:k1]))

        if cfg.n_prev_frames == 0:  # feed-forward: frame by frame, reading each plate frame when it is due
            made = (item for i in range(out_first, out_last + 1)
                    for item in synth.run(cond_of(i, i), i, i, i))
        else:
            made = synth.run(cond_of(lo, hi), lo, out_first, out_last)
        for i, rgb in made:
            number = int(trk.frames[i])
            image, alpha = rgb, None
            if plate is not None:
                k = i - lo
                if mask == "face":
                    weight, soft = c.mask[k].astype(np.float32), feather
                elif mask == "auto" and matte is not None and cfg.region == "face":
                    weight = composite_alpha(cfg, matte[k:k + 1], None if cover is None else cover[k:k + 1])[0]
                    soft = 0.0  # the matte has its own feathered edge
                else:
                    weight = np.ones((size, size), np.float32)
                    weight = composite_alpha(cfg, weight[None], None if cover is None else cover[k:k + 1])[0]
                    soft = feather
                if fine is not None:  # at the plate's pixel density: the model-size crop + the detail it lost
                    rgb = add_detail(rgb, warp[k], cover[k], fine[k], fine_cover[k], everywhere=cfg.region == "crop")
                    weight = cv2.resize(np.asarray(weight, np.float32), rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
                patch = rgb if plate_space == "srgb" else convert(rgb, "srgb", plate_space)
                under = plates.pop(number) if number in plates else plate(number)
                if under.shape[1::-1] != tuple(trk.image_size):
                    raise InputError(f"plate frame {number} is {under.shape[1]}x{under.shape[0]}; track {track} was "
                                     f"made on {trk.image_size[0]}x{trk.image_size[1]} frames: use that plate")
                if keeper is not None:  # the plate's own pixels where the driven expression barely moves the face
                    kept, held = keeper(k, crop_frames(under[None], box, patch.shape[1::-1])[0])
                    patch = patch + held[..., None] * (kept - patch)
                image, alpha = paste_back(under, patch, weight, box, soft)
            yield number, image, alpha
            done += 1
            progress(done, total, "synthesize")


def plate_reader(path: str, frames: tuple[int, int], colourspace: str = "auto", first_frame: int = 0
                 ) -> tuple[Callable[[int], np.ndarray], str]:
    """``(plate, space)``: plate(frame number) -> (H0, W0, 3) float32 as stored (float EXR at full
    precision, its display window; integer files and movies scaled to [0, 1]) for ascending frame numbers
    (a movie's numbered from ``first_frame``), and its colour space (a name of the OCIO config)."""
    source = open_frames(path, frames, colourspace, first_frame=first_frame)  # checks path, range and sizes
    if source.is_sequence:
        pattern = FramePattern.parse(path)
        first = read_image(pattern.path(source.frame_numbers()[0]))
        space = resolve(colourspace, first.dtype.kind == "f")
        it = ((f, read_image(pattern.path(f), window="display")) for f in source.frame_numbers())
    else:  # movies decode to display sRGB (FrameSource converts other encodings)
        space, it = network_space(), iter(source)
    recent: dict[int, np.ndarray] = {}  # the last frames read: recurrent blocks re-read their warm-up frames
    last_read = [-(2 ** 62)]

    def plate(number: int) -> np.ndarray:
        while number > last_read[0]:
            item = next(it, None)
            if item is None:
                raise InputError(f"plate {path} ends before frame {number}")
            last_read[0] = item[0]
            recent[item[0]] = item[1]
            for old in [f for f in recent if f < item[0] - _PLATE_WINDOW]:
                del recent[old]
        if number not in recent:
            raise InputError(f"plate {path} has no frame {number}")
        px = recent[number]
        px = px[:, :, :3] if px.shape[2] >= 3 else np.repeat(px[:, :, :1], 3, axis=2)
        return px.astype(np.float32) / np.float32(np.iinfo(px.dtype).max) if px.dtype.kind == "u" else \
            px.astype(np.float32)

    return plate, space


def _first_needed(checkpoint: str, trk: Track, a: int, b: int) -> int:
    """The first frame number whose conditioning (and plate) synthesizing ``a..b`` reads (block warm-up)."""
    from ..synthesis.checkpoint import read_checkpoint  # noqa: PLC0415
    from ..synthesis.inference import Schedule  # noqa: PLC0415

    cfg = ModelConfig.from_dict(read_checkpoint(checkpoint)["model_config"])
    schedule = Schedule.for_model(cfg)
    rows = np.nonzero((trk.frames >= a) & (trk.frames <= b))[0]
    if len(rows) == 0:
        return a
    return int(trk.frames[schedule.needed(int(rows[0]), int(rows[-1]), cfg.n_cond_frames)[0]])


def run(checkpoint: str, track: str, output: str, plate: str | None = None, frames: tuple[int, int] | None = None,
        composite: bool = True, feather: float = 12.0, mask: str = "auto", device: str = "auto",
        force: bool = False, colourspace: str = "auto", audio: str = "source", plate_track: str | None = None,
        progress: Callable[[int, int, str], None] = lambda *a: None, engine: str = "auto",
        detail: bool = True, keep_plate: bool = True) -> dict[str, Any]:
    """Synthesize ``frames`` of ``track`` (all by default) into ``output`` (sequence pattern or movie)."""
    from ..synthesis.checkpoint import checkpoint_file  # noqa: PLC0415 - torch only when G runs
    checkpoint = str(checkpoint_file(checkpoint))
    trk = Track.load(track)
    a, b = frames if frames is not None else (int(trk.frames[0]), int(trk.frames[-1]))
    start = _first_needed(checkpoint, trk, a, b)
    plate_fn, plate_space = (plate_reader(plate, (start, b), colourspace, int(trk.meta.get("first_frame", 0)))
                             if plate and composite else (None, network_space()))
    exr = output.lower().endswith(".exr")
    # EXR results are in the plate's colour space (scene_linear unless the plate says otherwise); others the
    # networks' display space
    want = resolve(colourspace, True) if exr else network_space()
    rate, timecode = track_time(trk)
    # an EXR plate composited into an EXR sequence keeps the plate's header and untouched channels
    keep = plate if plate_fn is not None and exr and is_pattern(plate) and plate.lower().endswith(".exr") else None
    sound = audio_for_track(audio, trk, a) if is_movie(output) else None
    info: dict[str, Any] = {}
    stamp = settings_stamp("synthesize", {"composite": composite, "feather": feather, "mask": mask,
                                          "device": device, "colourspace": colourspace, "engine": engine,
                                          "detail": detail, "keep_plate": keep_plate},
                           [checkpoint, track, plate, plate_track])
    movie = is_movie(output)
    # the composite's matte goes out with it: a `mask` layer in EXR (RGB stays the whole comp), the alpha of
    # a PNG/TIFF (unassociated: RGB is the comp, not premultiplied by it); movies have no matte
    channels = None if plate_fn is None or movie else (_EXR_CHANNELS if exr else _RGBA)
    with FrameWriter(output, fps=rate, timecode=timecode, overwrite=force, passthrough=keep, audio=sound,
                     stamp=stamp, channels=channels) as writer:
        if channels == _RGBA:
            writer.attributes = {"oiio:UnassociatedAlpha": 1}
        for number, image, alpha in synthesize_frames(checkpoint, track, frames, plate_fn, feather, mask, device,
                                                      lambda n: not force and all(writer.exists(f) for f in n),
                                                      progress, info, plate_space, plate_track, engine, detail,
                                                      keep_plate):
            image = image if plate_space == want else convert(image, plate_space, want)
            if alpha is not None and not movie:  # the composite's matte goes out with it (RGBA)
                image = np.concatenate([image, alpha[..., None].astype(image.dtype)], axis=2)
            writer.write(number, image)
    return {"output": str(output), "frames": info["frames"], "size": info["size"],
            "composited": plate_fn is not None, "crop_box": info["crop_box"], "engine": info.get("engine"),
            "detail_size": info.get("detail_size"), "keep_plate": info.get("keep_plate"),
            "audio": None if sound is None else [sound.path, sound.start_seconds]}


SPEC = NodeSpec(
    name="synthesize",
    help="Render frames of a track with a trained Head2Head generator (face crops, or composited on a plate).",
    inputs=(Port("checkpoint", "checkpoint", "trained run's checkpoint.pt (or its run folder)", flag="--checkpoint"),
            Port("track", "track", "track to render (the target's own, or retargeted)", flag="--track"),
            Port("plate", "frames", "target plate to composite onto (movie or sequence)", flag="--plate",
                 optional=True),
            Port("plate_track", "track", "the plate's own track (face mode: the matte also covers the plate's own "
                 "face and jaw; default: the driven face alone)", flag="--plate-track", optional=True)),
    outputs=(Port("output", "frames", "output sequence (out.####.exr/png) or movie (.mp4/.mov/.mkv)"),),
    knobs=(Knob("frames", "frames", None, "frame range A-B to synthesize (default: the whole track)"),
           Knob("composite", "bool", True, "paste the synthesized crop back onto --plate"),
           Knob("feather", "float", 12.0, "width of the composite mask's soft edge, plate pixels", minimum=0.0,
                maximum=500.0),
           Knob("mask", "choice", "auto", "composite region: auto (the model's: the face matte for face-region "
                "models, else the crop box), box, or face (the rendered face, feathered)",
                choices=("auto", "box", "face")),
           Knob("device", "choice", "auto", "where G runs (fp16 on CUDA)", choices=("auto", "cpu", "cuda")),
           Knob("engine", "choice", "auto", "what runs G: torch (eager float32, the reference), onnx (ONNX Runtime, "
                "float32, CPU), bf16 (torch bf16 autocast, CPU, faster and less exact), auto (onnx on the CPU when "
                "onnxruntime is installed, else torch)", choices=("auto", "torch", "onnx", "bf16")),
           Knob("detail", "bool", True, "composite at the plate's own pixel density: the crop plus the detail of the "
                "run's plate-resolution bank (appearance models trained with one; off: the model-size crop, "
                "upsampled)"),
           Knob("keep_plate", "bool", True, "face mode with --plate-track: keep the plate's own face pixels, carried "
                "to the driven expression, where that expression barely moves the face (forehead, nose, cheeks: the "
                "plate's own texture, grain and light); off: the whole matte is synthesized"),
           FORCE,
           COLOURSPACE, AUDIO),
    run=run,
)
