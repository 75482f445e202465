"""The QC report of ``h2h eval reenactment --report`` (a real reenactment, see conftest.py): a self-contained page
whose images decode, tables and data match the JSON summary, a contact sheet, and (where a Chromium binary
exists) the page rendered in a real headless browser without console errors."""
from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from h2h_engine.training.eval_reenactment import FLICKER_SIZE
from h2h_engine.training.qc_report import CONTACT_SHEET, REPORT_PAGE, STRIP_ROWS

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome"))
                 if p), None)


def _images(text: str) -> dict[str, np.ndarray]:
    """id -> decoded RGB of every embedded PNG of the page."""
    out = {}
    for ident, data in re.findall(r'<img id="([^"]+)"[^>]* src="data:image/png;base64,([^"]+)"', text):
        img = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None, ident
        out[ident] = img
    return out


def _same(a, b) -> bool:
    """JSON values equal, NaN equal to NaN."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def test_page_is_self_contained_and_matches_the_summary(ab_report):
    summary, folder, args = ab_report
    text = (folder / REPORT_PAGE).read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from a network
    images = _images(text)
    assert set(images) == {"strips", "plots"}
    rows = min(STRIP_ROWS, summary["n_frames"])
    # source | plate | result | error per shown frame; the error tile is dark where the plate is kept (45 %
    # of it: codec noise only) and hot somewhere inside the regenerated face
    assert images["strips"].shape == (rows * FLICKER_SIZE, 4 * FLICKER_SIZE, 3)
    heat = images["strips"][:, 3 * FLICKER_SIZE:].max(axis=-1)
    assert 0.3 < (heat < 10).mean() < 0.9 and (heat > 200).any()
    assert images["plots"].shape[0] > 300 and images["plots"].std() > 10
    for name, m in summary["measures"].items():
        assert f"<td>{name}</td>" in text
        if math.isfinite(m["result"]):
            assert f"<td>{m['result']:.4f}</td>" in text
    assert " ".join(["h2h", "eval", "reenactment", *args]) in text.replace("&quot;", '"')
    assert "dlib-bin" in text and "matplotlib" in text and "keeps the target" in text
    embedded = re.search(r'<script type="application/json" id="summary-data">(.*?)</script>', text, re.S).group(1)
    assert _same(json.loads(embedded.replace("<\\/", "</")), summary)


def test_contact_sheet(ab_report):
    summary, folder, _ = ab_report
    sheet = cv2.imread(str(folder / CONTACT_SHEET))
    rows = min(STRIP_ROWS, summary["n_frames"])
    assert sheet.shape[1] == 4 * FLICKER_SIZE and sheet.shape[0] > rows * FLICKER_SIZE + 300
    page = _images((folder / REPORT_PAGE).read_text(encoding="utf-8"))
    assert np.array_equal(sheet[:rows * FLICKER_SIZE], page["strips"])  # the strips, then the plots


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install chromium)")
def test_page_renders_in_headless_chromium(ab_report, tmp_path):
    _, folder, _ = ab_report
    url = (folder / REPORT_PAGE).resolve().as_uri()
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
              "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images="2/2"' in dom.stdout  # the page's own check: both images decoded and shown
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if re.search(r"error|uncaught", line, re.I)], console
    shot = tmp_path / "page.png"
    run = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1280,2400", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    png = cv2.imread(str(shot))
    assert png.shape[:2] == (2400, 1280) and png.std() > 20  # drawn, not a blank page
