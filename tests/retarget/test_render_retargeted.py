"""RenderNMFC renders a retargeted track unchanged (integration with the render node)."""
import cv2
import numpy as np

from h2h_engine.render.conditioning import render_conditioning
from h2h_engine.retarget import retarget


def test_face_mode_renders_on_the_target_face(shots, model):
    a, b = shots
    out = retarget(model, a, b, mode="face").slice(int(b.frames[0]), int(b.frames[0]) + 9)
    tgt = b.slice(int(b.frames[0]), int(b.frames[0]) + 9)
    size = tuple(b.image_size)
    got = render_conditioning(model, out, size, crop="none")
    ref = render_conditioning(model, tgt, size, crop="none")
    # same identity and camera, another expression: the face covers (nearly) the same pixels
    inter = (got.mask & ref.mask).sum((1, 2))
    union = (got.mask | ref.mask).sum((1, 2))
    assert np.all(inter / union > 0.9)
    # the eye image draws the retargeted eyes (white openings) with black pupils at the retargeted pupils
    checked = 0
    for t in range(len(out)):
        for e, first in enumerate((36, 42)):
            poly = out.landmarks[t, first:first + 6]
            x0, y0 = np.floor(poly.min(0)).astype(int)
            x1, y1 = np.ceil(poly.max(0)).astype(int)
            assert got.eyes[t, y0:y1 + 1, x0:x1 + 1].max() == 1.0
            if cv2.pointPolygonTest(poly, tuple(map(float, out.pupils[t, e])), True) > 1.0:
                px, py = np.floor(out.pupils[t, e]).astype(int)
                assert got.eyes[t, py, px].max() == 0.0
                checked += 1
    assert checked >= 0.8 * 2 * len(out)                # most pupils sit well inside their eyes
