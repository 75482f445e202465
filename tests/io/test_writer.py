from fractions import Fraction

import numpy as np
import pytest

from h2h_engine.errors import InputError
from h2h_engine.io import open_frames, read_image
from h2h_engine.io.writer import FrameWriter


def test_exr_sequence_channels_and_skip(tmp_path, clip):
    frames = list(open_frames(clip("GRID_bbaf2n"), (0, 1)))
    pat = str(tmp_path / "nmfc.####.exr")
    with FrameWriter(pat, channels=("nmfc.R", "nmfc.G", "nmfc.B")) as w:
        for f, rgb in frames:
            w.write(1001 + f, rgb.astype(np.float32) / 255)
    img = read_image(tmp_path / "nmfc.1001.exr")
    assert img.dtype == np.float16
    assert np.abs(img.astype(np.float32) - frames[0][1] / 255).max() < 1e-3
    # re-run without overwrite keeps what exists (farm idempotency)
    before = (tmp_path / "nmfc.1001.exr").stat().st_mtime_ns
    with FrameWriter(pat, overwrite=False) as w:
        w.write(1001, np.zeros_like(img, dtype=np.float32))
    assert (tmp_path / "nmfc.1001.exr").stat().st_mtime_ns == before


def test_movie_roundtrip_and_abort(tmp_path, clip):
    frames = list(open_frames(clip("GRID_bbaf2n"), (0, 9)))
    out = tmp_path / "out.mp4"
    with FrameWriter(out, fps=25) as w:
        for f, rgb in frames:
            w.write(f, rgb)
    back = [rgb for _, rgb in open_frames(out)]
    assert len(back) == 10
    assert np.abs(back[5].astype(int) - frames[5][1].astype(int)).mean() < 4  # crf 16 H.264
    bad = tmp_path / "bad.mp4"
    with pytest.raises(RuntimeError):
        with FrameWriter(bad, fps=25) as w:
            w.write(0, frames[0][1])
            raise RuntimeError("interrupted")
    assert not bad.exists() and not list(tmp_path.glob(".bad.mp4*"))


def test_bad_outputs(tmp_path):
    with pytest.raises(InputError, match="neither a sequence"):
        FrameWriter(tmp_path / "out.xyz")
    with FrameWriter(tmp_path / "o.####.png") as w:
        with pytest.raises(InputError, match="shape"):
            w.write(1, np.zeros((0, 4, 3), np.float32))


def test_lossless_movie(tmp_path, clip):
    """.mkv (FFV1) keeps every 8-bit sample."""
    frames = list(open_frames(clip("GRID_bbaf2n"), (0, 2)))
    with FrameWriter(tmp_path / "o.mkv", fps=25) as w:
        for f, rgb in frames:
            w.write(f, rgb)
    back = list(open_frames(tmp_path / "o.mkv"))
    assert len(back) == 3 and all(np.array_equal(a[1], b[1]) for a, b in zip(frames, back))


def test_stamp_keeps_only_matching_frames(tmp_path):
    pat = str(tmp_path / "s.####.png")
    img = np.full((4, 4, 3), 0.5, np.float32)
    with FrameWriter(pat, stamp="aaa") as w:
        w.write(1, img)
    with FrameWriter(pat, stamp="aaa", overwrite=False) as w:
        assert w.exists(1) and not w.exists(2)
    with FrameWriter(pat, stamp="bbb", overwrite=False) as w:  # other settings: the frame is stale
        assert not w.exists(1)
        w.write(1, img * 0)
    assert read_image(tmp_path / "s.0001.png").max() == 0
    assert FrameWriter(pat, overwrite=False).exists(1)  # no stamp asked for: any frame counts


def test_movies_are_bt709(tmp_path):
    """H.264 movies are yuv420p tagged BT.709 (matrix, primaries, transfer, limited range) and converted with
    the BT.709 matrix: pure red is Y'CbCr (63, 102, 240), not BT.601's (81, 90, 240)."""
    import av

    red = np.zeros((32, 48, 3), np.float32)
    red[..., 0] = 1.0
    with FrameWriter(tmp_path / "red.mp4", fps="24000/1001") as w:
        for f in range(3):
            w.write(f, red)
    with av.open(str(tmp_path / "red.mp4")) as c:
        s = c.streams.video[0]
        ctx = s.codec_context
        assert (ctx.pix_fmt, ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range) == ("yuv420p", 1, 1, 1, 1)
        assert s.average_rate == Fraction(24000, 1001)
        yuv = next(c.decode(s)).to_ndarray(format="yuv420p")  # (H * 3 / 2, W): Y plane, then U, V
    y, u, v = int(yuv[8, 8]), int(yuv[32, 4]), int(yuv[32 + 8, 4])
    assert abs(y - 63) <= 1 and abs(u - 102) <= 1 and abs(v - 240) <= 1
    back = next(iter(open_frames(tmp_path / "red.mp4")))[1]  # decoded with the tagged matrix: red again
    assert back[8, 8, 0] >= 250 and back[8, 8, 1:].max() <= 6
