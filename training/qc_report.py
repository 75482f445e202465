"""QC report of one reenacted shot (``h2h eval reenactment --report DIR``): a self-contained HTML page and a PNG
contact sheet.

``DIR/index.html`` needs no network: its images are embedded (PNG, base64) and so is the JSON summary. It
shows source | target plate | result (with the result's detected landmarks in green and the driving track's
in red) | per-pixel error of the result against the plate, for ``STRIP_ROWS`` evenly spaced frames; per-frame
plots (jawOpen of driving vs result, identity distance to target and source, motion-compensated flicker,
reprojection error; frames without a face shaded); the summary table; the exact command and the versions
that made it; on load, a small script marks ``<body data-images="shown/total">`` (and logs a console error when
an image fails). ``DIR/contact_sheet.png`` holds the strips above the plots for hosts that cannot show HTML.
Both files are written atomically, the page last.
"""
from __future__ import annotations

import base64
import html
import io
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from h2h_engine import __version__
from h2h_engine.io import atomic_path, open_frames, write_image
from h2h_engine.render.crop import to_output

from .eval_reenactment import FLICKER_SIZE, Evaluation
from .evaluate import heat_colours, l2_error_map
from .identity import SAME_PERSON

REPORT_PAGE = "index.html"
CONTACT_SHEET = "contact_sheet.png"
STRIP_ROWS = 6  # frames shown as strips
_GREEN, _RED = (40, 220, 60), (235, 40, 40)
_PACKAGES = ("numpy", "torch", "opencv-python-headless", "dlib-bin", "face-recognition-models", "matplotlib", "av")


def strip_rows(n_rows: int) -> np.ndarray:
    """(K,) evenly spaced rows of a T-row shot shown as strips."""
    return np.unique(np.linspace(0, n_rows - 1, min(STRIP_ROWS, n_rows)).round().astype(int))


def _fit_square(rgb: np.ndarray, side: int) -> np.ndarray:
    """(side, side, 3) uint8: ``rgb`` scaled to fit, centred on black."""
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.zeros((side, side, 3), np.uint8)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def _draw_points(rgb: np.ndarray, points: np.ndarray, colour: tuple[int, int, int], radius: int = 2) -> np.ndarray:
    """A copy of (H, W, 3) uint8 ``rgb`` with (N, 2) pixel ``points`` drawn as dots."""
    out = np.ascontiguousarray(rgb).copy()
    for x, y in points:
        if np.isfinite(x) and np.isfinite(y):
            cv2.circle(out, (int(round(x)), int(round(y))), radius, colour, -1, lineType=cv2.LINE_AA)
    return out


def _frames_at(path: str | None, numbers: Sequence[int]) -> dict[int, np.ndarray]:
    """Frames of a shot by number (decoding the span they cover once)."""
    if path is None or not len(numbers):
        return {}
    wanted = {int(f) for f in numbers}
    return {f: rgb for f, rgb in open_frames(path, (min(wanted), max(wanted))) if f in wanted}


def strips(ev: Evaluation) -> np.ndarray:
    """(K * S, 4 * S, 3) uint8: per shown row, source | plate (+ target landmarks) | result (+ result's
    landmarks green, driving's red) | L2 error of result vs plate as a heat map."""
    inp, size = ev.inputs, FLICKER_SIZE
    rows = strip_rows(len(inp.driving))
    source = _frames_at(inp.source or inp.plate, inp.source_frames[rows])
    out = []
    for r in rows:
        res, plate = ev.result.crops[r], ev.real.crops[r]
        src = source.get(int(inp.source_frames[r]))
        lm_res = to_output(ev.result.track.landmarks[r], ev.box, (size, size))
        lm_drv = to_output(inp.driving.landmarks[r], ev.box, (size, size))
        lm_tgt = to_output(inp.target.landmarks[r], ev.box, (size, size))
        tiles = [_fit_square(src, size) if src is not None else np.zeros_like(res),
                 _draw_points(plate, lm_tgt, _GREEN),
                 _draw_points(_draw_points(res, lm_drv, _RED, 3), lm_res, _GREEN),
                 heat_colours(l2_error_map(res, plate))]
        row = np.concatenate(tiles, axis=1)
        cv2.putText(row, f"frame {int(inp.driving.frames[r])}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        out.append(row)
    return np.concatenate(out, axis=0)


def plots(summary: dict[str, Any]) -> np.ndarray:
    """(H, W, 3) uint8 per-frame plots of a summary's ``per_frame`` data (matplotlib, Agg)."""
    import matplotlib  # noqa: PLC0415 - only reports plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    pf = summary["per_frame"]
    frames, res, real = np.asarray(pf["frames"]), pf["result"], pf["real"]
    arr = lambda v: np.array([np.nan if x is None else x for x in v], np.float64)  # noqa: E731
    fig, axes = plt.subplots(4, 1, figsize=(10, 9.5), sharex=True, constrained_layout=True)
    panels = [
        ("jawOpen", [("driving", arr(res["jaw_open_reference"]), "-"), ("result", arr(res["jaw_open_shot"]), "-"),
                     ("real plate", arr(real["jaw_open_shot"]), ":")]),
        ("identity distance", [("to target", arr(res["identity_to_target"]), "o-"),
                               ("to source", arr(res["identity_to_source"]), "s-"),
                               ("real plate to target", arr(real["identity_to_target"]), "^:")]),
        ("flicker (L2, 0-441)", [("result", arr(res["flicker"]), "-"), ("real plate", arr(real["flicker"]), ":")]),
        ("reprojection RMSE (px)", [("result", arr(res["reprojection_rmse"]), "-"),
                                    ("real plate", arr(real["reprojection_rmse"]), ":")]),
    ]
    no_face = np.asarray(res["no_face"], bool)
    for ax, (title, lines) in zip(axes, panels):
        for label, y, style in lines:
            ok = np.isfinite(y)
            ax.plot(frames[ok], y[ok], style, label=label, markersize=3, linewidth=1.2)
        for f in frames[no_face]:
            ax.axvspan(f - 0.5, f + 0.5, color="red", alpha=0.2, linewidth=0)
        ax.set_ylabel(title)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[1].axhline(SAME_PERSON, color="grey", linestyle="--", linewidth=1)
    axes[-1].set_xlabel("frame" + (" (red: no face found in the result)" if no_face.any() else ""))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    img = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def contact_sheet(strip: np.ndarray, plot: np.ndarray) -> np.ndarray:
    """The strips above the plots, the plots scaled to the strips' width; (H, W, 3) uint8."""
    w = strip.shape[1]
    scaled = cv2.resize(plot, (w, max(1, round(plot.shape[0] * w / plot.shape[1]))), interpolation=cv2.INTER_AREA)
    return np.concatenate([strip, scaled], axis=0)


def _png_data_uri(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def versions() -> dict[str, str]:
    """Versions of the engine, Python and the packages the evaluation runs on."""
    out = {"h2h_engine": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _cell(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4f}"


def page(summary: dict[str, Any], strip: np.ndarray, plot: np.ndarray, command: Sequence[str]) -> str:
    """The HTML text of the report."""
    e = html.escape
    m = summary["measures"]
    base = any("baseline" in v for v in m.values())
    head = "<tr><th>measure</th><th>result</th><th>real plate</th>" + ("<th>baseline</th>" if base else "") + "</tr>"
    rows = "\n".join(f"<tr><td>{e(k)}</td><td>{_cell(v['result'])}</td><td>{_cell(v['real'])}</td>"
                     + (f"<td>{_cell(v.get('baseline'))}</td>" if base else "") + "</tr>" for k, v in m.items())
    ident, fl = summary["identity"], summary["flicker"]
    verdict = "keeps the target" if ident["keeps_target"] else "does NOT keep the target"
    joins = ", ".join(f"{j['frame']} ({j['flicker']:.2f})" for j in fl["block_joins"]) or "none in this range"
    no_face = ", ".join(str(f) for f in summary["frames_without_face"]) or "none"
    vers = "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in versions().items())
    data = json.dumps(summary).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>h2h QC: {e(Path(summary['result']).name)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;background:#fafafa}}table{{border-collapse:collapse;margin:0.5em 0}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%;border:1px solid #999}}code{{background:#eee;padding:2px 4px}}</style></head>
<body>
<h1>Reenactment QC: {e(Path(summary['result']).name)}</h1>
<p>frames {summary['frames'][0]}-{summary['frames'][1]} ({summary['n_frames']}), mode {e(summary['mode'])},
pose against {e(summary['pose_reference'])}. Identity: <b>{verdict}</b> (dlib threshold {ident['threshold']}).
Flicker {fl['ratio']:.2f}x the real plate's. Frames without a face in the result: {e(no_face)}.
Block joins (frame, flicker): {e(joins)}.</p>
<h2>Summary</h2>
<table id="summary">{head}
{rows}
</table>
<h2>Source | target plate | result | error</h2>
<p>Landmarks: green the tracker's on the shown frame, red the driving track's. Error: per-pixel L2 of the result
against the plate (black 0, white 100 and above).</p>
<img id="strips" alt="source, target plate, result and error strips" src="{_png_data_uri(strip)}">
<h2>Per frame</h2>
<img id="plots" alt="per-frame plots" src="{_png_data_uri(plot)}">
<h2>Made by</h2>
<p><code>{e(" ".join(command))}</code></p>
<table id="versions">{vers}</table>
<p id="images-status">images: not checked (scripts off)</p>
<script type="application/json" id="summary-data">{data}</script>
<script>
window.addEventListener("load", function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }}).length;
  document.body.setAttribute("data-images", ok + "/" + imgs.length);
  document.getElementById("images-status").textContent = "images: " + ok + " of " + imgs.length + " shown";
  if (ok < imgs.length) {{ console.error("h2h QC: " + (imgs.length - ok) + " image(s) failed to load"); }}
}});
</script>
</body></html>
"""


def write_report(folder: str | Path, ev: Evaluation, command: Sequence[str]) -> Path:
    """Write ``folder/contact_sheet.png`` then ``folder/index.html`` (atomically); returns the page's path."""
    folder = Path(folder)
    strip, plot = strips(ev), plots(ev.summary)
    write_image(folder / CONTACT_SHEET, contact_sheet(strip, plot))
    out = folder / REPORT_PAGE
    with atomic_path(out) as tmp:
        tmp.write_text(page(ev.summary, strip, plot, command), encoding="utf-8")
    return out
