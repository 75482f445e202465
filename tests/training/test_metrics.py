"""Evaluation metrics on images with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from h2h_engine.training.evaluate import apd_l2, heat_colours, mouth_window, psnr, ssim


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


def test_ssim_equals_the_per_channel_gaussian_definition(clip):
    """The OpenCV filter the evaluation uses equals the textbook definition (scipy's Gaussian, sigma 1.5,
    truncated to 11 taps, reflected edges, channel by channel) on two real frames of a shared clip."""
    from scipy.ndimage import gaussian_filter

    from h2h_engine.io import open_frames

    frames = dict(open_frames(str(clip("tanshuai0219__EDTalk__test_data_pose_source2")), (0, 10)))
    a, b = frames[0], frames[10]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    per_channel = []
    for ch in range(3):
        x, y = a[..., ch].astype(np.float64), b[..., ch].astype(np.float64)
        f = lambda z: gaussian_filter(z, 1.5, truncate=3.5, mode="reflect")  # noqa: E731
        mx, my = f(x), f(y)
        sxx, syy, sxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
        per_channel.append((((2 * mx * my + c1) * (2 * sxy + c2)) /
                            ((mx * mx + my * my + c1) * (sxx + syy + c2))).mean())
    reference = float(np.mean(per_channel))
    assert 0.3 < reference < 0.99  # two different frames: neither identical nor unrelated
    assert ssim(a, b) == pytest.approx(reference, abs=1e-12)


def test_mouth_window_and_heat():
    rows, cols = mouth_window(np.array([20, 40, 30, 50]), 18, 64)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (36, 54, 16, 34)
    rows, cols = mouth_window(np.array([58, 60, 64, 64]), 18, 64)  # clamped inside the frame
    assert (rows.stop, cols.stop) == (64, 64)
    h = heat_colours(np.array([[0.0, 50.0, 1e9]]))
    assert h[0, 0].tolist() == [0, 0, 0] and h[0, 2].tolist() == [255, 255, 255]


def test_pixel_weighted_aggregation_matches_the_paper_definition(clip):
    """APD, MAPD and mouth APD over a sequence: the sum of per-pixel L2 distances over all frames divided by the
    pixels counted, checked against a direct implementation on real frames whose masks change size."""
    from h2h_engine.io import open_frames
    from h2h_engine.training.evaluate import frame_metrics, sequence_scores

    frames = np.stack([rgb[:128, :128] for _, rgb in open_frames(clip("OpenTalker__DPE__data_s"), (0, 11))])
    real, fake = frames[:-3], frames[3:]  # a 3-frame offset: real, moving differences
    yy, xx = np.mgrid[:128, :128]
    masks = np.stack([(yy - 64) ** 2 + (xx - 64) ** 2 < (10 + 6 * t) ** 2 for t in range(len(real))])  # growing
    mouth = (slice(70, 106), slice(46, 82))
    per = [frame_metrics(fake[t], real[t], masks[t], masks[t], mouth) for t in range(len(real))]
    got = sequence_scores(per)

    def direct(mask_of) -> float:
        total, count = 0.0, 0
        for t in range(len(real)):
            for y, x in zip(*np.nonzero(mask_of(t))):
                d = fake[t, y, x].astype(np.float64) - real[t, y, x]
                total += float(np.sqrt((d * d).sum()))
                count += 1
        return total / count

    full = np.ones((128, 128), bool)
    box = np.zeros((128, 128), bool)
    box[mouth] = True
    assert got["apd"] == pytest.approx(direct(lambda t: full), rel=1e-12)
    assert got["mapd"] == pytest.approx(direct(lambda t: masks[t]), rel=1e-12)
    assert got["mouth_apd"] == pytest.approx(direct(lambda t: box), rel=1e-12)
    # the per-frame mean is kept beside it and differs here, where the mask grows
    frame_mean = np.mean([np.sqrt(((fake[t].astype(np.float64) - real[t]) ** 2).sum(-1))[masks[t]].mean()
                          for t in range(len(real))])
    assert got["mapd_frame_mean"] == pytest.approx(frame_mean, rel=1e-12)
    assert abs(got["mapd"] - got["mapd_frame_mean"]) > 1e-3 * got["mapd"]
