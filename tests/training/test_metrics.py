"""Evaluation metrics on images with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import apd_l2, heat_colours, mouth_window, psnr, ssim


def test_apd_l2_known_values():
    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[..., 0], b[..., 1] = 3, 4  # every pixel 5 away
    assert apd_l2(a, b) == pytest.approx(5.0)
    b[:4] = 0  # half the pixels equal
    assert apd_l2(a, b) == pytest.approx(2.5)
    mask = np.zeros((8, 8), bool)
    mask[4:] = True
    assert apd_l2(a, b, mask) == pytest.approx(5.0)
    assert np.isnan(apd_l2(a, b, np.zeros((8, 8), bool)))


def test_psnr_known_values():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 255, np.uint8)
    assert psnr(a, b) == pytest.approx(0.0)
    assert psnr(a, np.full((4, 4, 3), 1, np.uint8)) == pytest.approx(20 * np.log10(255))
    assert psnr(a, a) == float("inf")


def test_ssim_properties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    s1, s2 = ssim(a, noisy), ssim(noisy, a)
    assert s1 == pytest.approx(s2) and 0.3 < s1 < 0.99
    # a constant offset leaves structure intact: SSIM stays high, unlike a scramble
    shifted = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    assert ssim(a, shifted) > 0.95 > ssim(a, rng.permutation(a.reshape(-1, 3)).reshape(a.shape))


def test_mouth_window_and_heat():
    rows, cols = mouth_window(np.array([20, 40, 30, 50]), 18, 64)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (36, 54, 16, 34)
    rows, cols = mouth_window(np.array([58, 60, 64, 64]), 18, 64)  # clamped inside the frame
    assert (rows.stop, cols.stop) == (64, 64)
    h = heat_colours(np.array([[0.0, 50.0, 1e9]]))
    assert h[0, 0].tolist() == [0, 0, 0] and h[0, 2].tolist() == [255, 255, 255]
