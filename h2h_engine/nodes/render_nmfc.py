"""``h2h render-nmfc``: a track's conditioning images (NMFC, eye image, face mask, facial flow) as files.

Outputs (OUT is a sequence pattern or a movie):
- ``out.####.exr``: one multi-channel EXR per frame holding every product: ``nmfc.R nmfc.G nmfc.B``,
  ``eyes.R eyes.G eyes.B``, ``mask.A`` and the flow as Nuke's motion tools read it, ``forward.u forward.v``
  (pixels from this frame to the next, u to the right and v up: Nuke's y axis; half by default,
  ``--bit-depth float``), with the crop box and the frame's mouth box in the header (``h2h:crop_box``,
  ``h2h:mouth_box``, JSON strings), the frame rate and the track's timecode (``framesPerSecond``,
  ``smpte:TimeCode``);
- ``out.####.png``: one file per product, the product name inserted before the frame number
  (``out.nmfc.####.png``, ``out.eyes.####.png``, ``out.mask.####.png``; 8 or 16 bit); a single product keeps
  OUT as given;
- ``out.mp4`` (or .mov/.mkv): one movie per product the same way (``out.nmfc.mp4``...); flow needs EXR.
Beside them ``<out>.boxes.json`` (OUT without frame field and extension) records the crop box, output and
source sizes and the mouth box of every frame of the shot (also with ``--frames``, so farm chunks write the
same file), so results can be pasted back into the plate.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import ConfigError, InputError
from ..geometry import MOUTH
from ..io.atomic import atomic_path
from ..io.frames import FramePattern, is_pattern
from ..io.outputs import check_output, remove_own_temps
from ..io.schema import upgrade
from ..io.video import open_frames
from ..io.writer import FrameWriter
from ..morphable import load_model_for
from ..render.conditioning import PRODUCTS, Conditioning, last_rendered_row, render_rows, resolve_box
from ..render.crop import crop_box_for_track
from ..render.mask import mouth_boxes
from ..render.nmfc import DEFAULT_REGIONS, REGION_CHOICES, project_track
from ..track import Track
from .knobs import FORCE, settings_stamp, track_time
from .spec import Knob, NodeSpec, Port

BOXES_SCHEMA = "H2HBoxes.1"
# EXR channels of each product; flow is Nuke's forward motion layer (see _pixels for its sign)
_EXR_CHANNELS = {"nmfc": ("nmfc.R", "nmfc.G", "nmfc.B"), "eyes": ("eyes.R", "eyes.G", "eyes.B"), "mask": ("mask.A",),
                 "flow": ("forward.u", "forward.v")}
_PIXEL_BUDGET = 1 << 23  # output pixels rendered per chunk (64 frames at 256 px, 8 at 1024 px)


def product_path(output: str, product: str) -> str:
    """OUT with the product name inserted before the frame field (sequences) or the extension (movies)."""
    if is_pattern(output):
        prefix = FramePattern.parse(output).prefix
        return f"{prefix}{product}.{output[len(prefix):]}"
    p = Path(output)
    return str(p.with_name(f"{p.stem}.{product}{p.suffix}"))


def boxes_path(output: str) -> Path:
    """The JSON sidecar of an output: OUT without its frame field and extension, + ``.boxes.json``."""
    if is_pattern(output):
        prefix = FramePattern.parse(output).prefix
        stem = prefix.rstrip("._-")
        return Path(stem + ".boxes.json") if stem and not stem.endswith("/") else Path(prefix) / "boxes.json"
    return Path(output).with_suffix(".boxes.json")


def read_boxes(path: str | Path) -> dict[str, Any]:
    """A ``.boxes.json`` sidecar (schema ``H2HBoxes``; older versions upgraded, newer refused): ``crop_box``
    (4,) source pixels or None, ``mouth_boxes`` (T, 4) output pixels per ``frames`` entry, ``size``,
    ``source_size``, ``products``, ``outputs``, ``regions`` and the ``track`` it was rendered from."""
    what = f"boxes sidecar {path}"
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{what} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{what} is not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{what} is not a JSON object")
    return upgrade(doc, BOXES_SCHEMA, what)


def _claim_side_file(path: str, force: bool) -> None:
    """Check a file written beside OUT under OUT's lock (a product movie or sequence, the boxes sidecar) and
    remove its temporaries from a killed run."""
    check_output(path, (), force)
    remove_own_temps(path)


def _writers(output: str, products: list[str], bit_depth: str, fps: Fraction, force: bool, stamp: str | None = None,
             timecode: tuple[int, str] | None = None) -> list[tuple[FrameWriter, list[str]]]:
    """(writer, products it takes) pairs for OUT."""
    suffix = (FramePattern.parse(output).suffix if is_pattern(output) else Path(output).suffix).lower()
    if suffix == ".exr":
        if bit_depth not in ("auto", "half", "float"):
            raise ConfigError(f"--bit-depth {bit_depth} does not apply to EXR (use half or float)")
        names = tuple(c for p in products for c in _EXR_CHANNELS[p])
        dtype = "half" if bit_depth == "auto" else bit_depth
        return [(FrameWriter(output, fps, channels=names, dtype=dtype, overwrite=force, stamp=stamp,
                             timecode=timecode), products)]
    if "flow" in products:
        raise ConfigError(f"flow is signed and unbounded: write it to an EXR sequence (got {output})")
    if bit_depth in ("half", "float"):
        raise ConfigError(f"--bit-depth {bit_depth} needs an EXR output (got {output})")
    if not is_pattern(output) and bit_depth == "16":
        raise ConfigError("movies are 8 bit: use a PNG/EXR sequence for --bit-depth 16")
    dtype = "uint16" if bit_depth == "16" else "uint8"
    out = []
    for p in products:
        path = output if len(products) == 1 else product_path(output, p)
        if path != output:  # OUT itself was claimed by the spec; its product files follow the same rules
            _claim_side_file(path, force)
        chans = ("Y",) if p == "mask" and is_pattern(output) else ("R", "G", "B")
        out.append((FrameWriter(path, fps, channels=chans, dtype=dtype, overwrite=force, stamp=stamp,
                                timecode=timecode), [p]))
    return out


def _pixels(cond: Any, k: int, products: list[str], movie: bool) -> np.ndarray:
    """(H, W, C) float32 of frame row k holding the products' channels in order."""
    parts = []
    for p in products:
        if p == "mask":
            m = cond.mask[k].astype(np.float32)[..., None]
            parts.append(np.repeat(m, 3, axis=-1) if movie else m)
        elif p == "flow":  # image y runs down, Nuke's forward.v up
            parts.append(cond.flow[k] * np.array([1.0, -1.0], np.float32))
        else:
            parts.append(getattr(cond, p)[k])
    return np.concatenate(parts, axis=-1)


def _frame_reader(path: str, first: int, last: int, size: tuple[int, int], first_frame: int = 0
                  ) -> Callable[[np.ndarray], np.ndarray]:
    """fetch(frame numbers, ascending over calls) -> (N, H, W, 3) uint8, decoding the source once (a movie's
    frames numbered from ``first_frame``, as the track's)."""
    src = open_frames(path, (first, last), first_frame=first_frame)
    if (src.width, src.height) != tuple(size):
        raise InputError(f"source {path} is {src.width}x{src.height}, the track was made on {size[0]}x{size[1]}")
    it: Iterator[tuple[int, np.ndarray]] = iter(src)
    cache: dict[int, np.ndarray] = {}

    def fetch(frames: np.ndarray) -> np.ndarray:
        for f in list(cache):
            if f < frames[0]:
                del cache[f]
        for f, rgb in it:
            cache[f] = rgb
            if f >= frames[-1]:
                break
        missing = [int(f) for f in frames if int(f) not in cache]
        if missing:
            raise InputError(f"source {path} lacks frame(s) {missing[:5]} of the track")
        return np.stack([cache[int(f)] for f in frames])

    return fetch


def run(track: str, output: str, size: tuple[int, int] | None, crop: str, what: str, frames: tuple[int, int] | None,
        regions: str, bit_depth: str, margin: float, model: str, force: bool, source: str | None = None,
        progress: Callable[[int, int, str], None] = lambda *a: None) -> dict:
    """Render a track's conditioning images into OUT (see the module docstring for the layouts)."""
    full = Track.load(track)
    if len(full) == 0:
        raise InputError(f"track {track} has no frames")
    mm = load_model_for(full, model, f"track {track}")
    products = [p for p in PRODUCTS if p in what.split(",")]
    region_list = regions.split(",")
    # crop none renders the plate's own frame at its own size; a face crop defaults to 256x256
    size = tuple(size) if size else (tuple(full.image_size) if crop == "none" else (256, 256))
    w, h = size
    # The box comes from the whole shot so that farm chunks (--frames) agree.
    box = (crop_box_for_track(mm, full, margin=margin, aspect=w / h) if crop == "auto"
           else resolve_box(mm, full, size, crop))
    tr = full.slice(*frames) if frames else full
    geom_box = box if box is not None else np.array([0, 0, *tr.image_size], np.float32)
    # Mouth boxes of the whole shot: farm chunks (--frames) all write the same complete sidecar.
    mouth = mouth_boxes(project_track(mm, full, geom_box, size, mm.landmarks[MOUTH])[..., :2], size)
    row_of = {int(f): i for i, f in enumerate(full.frames)}
    movie = not is_pattern(output)
    stamp = settings_stamp("render_nmfc", {"size": list(size), "crop": crop, "what": what, "regions": regions,
                                           "bit_depth": bit_depth, "margin": margin, "model": model},
                           [track, source])
    rate, timecode = track_time(full)
    writers = _writers(output, products, bit_depth, rate, force, stamp, timecode)
    _claim_side_file(str(boxes_path(output)), force=True)  # rewritten with its frames: never a special file
    sidecar = {"schema": BOXES_SCHEMA, "track": str(track), "source_size": list(tr.image_size), "size": [w, h],
               "crop_box": None if box is None else [float(v) for v in box], "regions": region_list,
               "products": products, "outputs": [wr.path for wr, _ in writers],
               "frames": [int(f) for f in full.frames], "mouth_boxes": mouth.tolist()}
    fetch = None
    if "flow" in products:
        src = source or tr.meta.get("source")
        if src and not source and not is_pattern(str(src)) and not Path(src).is_file():
            raise InputError(f"flow needs the source frames; the track's source {src} is gone: pass --source")
        if not src:
            raise InputError("flow needs the source frames (optical flow outside the face): pass --source")
        end = int(full.frames[last_rendered_row(len(full), row_of[int(tr.frames[-1])] + 1, products)])
        fetch = _frame_reader(str(src), int(tr.frames[0]), end, tr.image_size, int(full.meta.get("first_frame", 0)))
    chunk = max(1, min(64, _PIXEL_BUDGET // (w * h)))
    n = len(tr)
    progress(0, n, "render-nmfc")
    ok = False
    cond: Conditioning | None = None  # the previous chunk, its arrays reused (each is written out before the next)
    try:
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            numbers = [int(f) for f in tr.frames[a:b]]
            if not force and not movie and all(wr.exists(f) for wr, _ in writers for f in numbers):
                progress(b, n, "render-nmfc")
                continue
            # flow of a chunk's last frame reads the shot's next frame: render_rows renders one row past it
            cond = render_rows(mm, full, row_of[numbers[0]], row_of[numbers[-1]] + 1, size, crop=geom_box,
                               what=products, frames_rgb=fetch, regions=region_list, out=cond)
            for k, f in enumerate(numbers):
                for wr, prods in writers:
                    wr.attributes = {"h2h:crop_box": json.dumps(sidecar["crop_box"]),
                                     "h2h:mouth_box": json.dumps(mouth[row_of[f]].tolist()), "h2h:frame": f}
                    wr.write(f, _pixels(cond, k, prods, movie))
            progress(b, n, "render-nmfc")
        ok = True
    finally:
        for wr, _ in writers:
            wr.close(ok=ok)
    with atomic_path(boxes_path(output)) as tmp:
        Path(tmp).write_text(json.dumps(sidecar, indent=1))
    return {"frames": n, "outputs": sidecar["outputs"], "boxes": str(boxes_path(output)),
            "crop_box": sidecar["crop_box"]}


SPEC = NodeSpec(
    name="render_nmfc",
    help="Render a track's conditioning images: NMFC (normalised mean-face coordinates), eye image, face mask, "
         "facial flow; with a stable crop box and per-frame mouth boxes in <out>.boxes.json.",
    inputs=(Port("track", "track", "track file (.h2h.npz) from `h2h track` or `h2h retarget`"),
            Port("source", "frames", "source frames for the optical flow outside the face (default: the "
                 "track's source)", flag="--source", optional=True)),
    outputs=(Port("output", "frames", "out.####.exr (all products in one file), out.####.png or out.mp4 "
                  "(one file per product)"),),
    knobs=(
        Knob("size", "size", None, "output size WxH (default: 256x256 for --crop auto, the plate's own size for "
             "--crop none)"),
        Knob("crop", "choice", "auto", "auto: a face box stable over the shot; none: the full frame",
             choices=("auto", "none")),
        Knob("what", "multichoice", "nmfc,eyes,mask", "products to write", choices=PRODUCTS),
        Knob("frames", "frames", None, "frame range A-B of the track (default: all)"),
        Knob("regions", "multichoice", ",".join(DEFAULT_REGIONS), "model regions drawn into the NMFC and mask",
             choices=REGION_CHOICES),
        Knob("bit_depth", "choice", "auto", "samples: auto (EXR half, PNG/movie 8 bit), half, float, 8, 16",
             choices=("auto", "half", "float", "8", "16")),
        Knob("margin", "float", 1.6, "crop box size relative to the face's extent", minimum=1.0, maximum=4.0),
        Knob("model", "str", "", "morphable model name or file (default: the track's)"),
        FORCE,
    ),
    run=run,
)
