"""Raw video on pipes: rgb24 / rgb48le / gbrpf32le against the real ffmpeg CLI."""
import io
import shutil
import subprocess

import numpy as np
import pytest

from h2h_engine.errors import InputError
from h2h_engine.hosts.ffmpeg_filter import open_pipe, pipe_filter
from h2h_engine.io import open_frames, read_image
from h2h_engine.io.rawvideo import PIX_FMTS, decode_raw, encode_raw, frame_bytes, read_raw_frames

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI not installed")


def _ffmpeg_raw(path, pix_fmt, n):
    cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", str(n), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


@pytest.mark.parametrize("pix_fmt", list(PIX_FMTS))
def test_encode_decode_exact(pix_fmt, clip):
    _, rgb = next(iter(open_frames(clip("GRID_bbaf2n"), (0, 0))))
    x = rgb.astype(np.float32) / 255
    buf = encode_raw(x, pix_fmt)
    assert len(buf) == frame_bytes((360, 288), pix_fmt)
    assert np.abs(decode_raw(buf, (360, 288), pix_fmt) - x).max() < 1e-6


@needs_ffmpeg
@pytest.mark.parametrize("pix_fmt", list(PIX_FMTS))
def test_reads_ffmpeg_frames(pix_fmt, clip):
    """ffmpeg's own conversion to each format decodes to the picture PyAV decodes (same decoder)."""
    path = clip("GRID_bbaf2n")
    raw = _ffmpeg_raw(path, pix_fmt, 3)
    frames = list(read_raw_frames(io.BytesIO(raw), (360, 288), pix_fmt))
    ref = [rgb.astype(np.float32) / 255 for _, rgb in open_frames(path, (0, 2))]
    assert len(frames) == 3
    for got, want in zip(frames, ref):
        assert got.shape == (288, 360, 3) and got.dtype == np.float32
        assert np.abs(got - want).mean() < 1.5 / 255  # rgb24 is exact; 16-bit/float round differently


@needs_ffmpeg
@pytest.mark.parametrize("pix_fmt", ["rgb24", "rgb48le", "gbrpf32le"])
def test_pipe_through_ffmpeg_is_lossless(tmp_path, clip, pix_fmt):
    """ffmpeg -> pipe_filter (pass-through) -> ffmpeg (lossless FFV1; float EXR) keeps every sample."""
    src = _ffmpeg_raw(clip("GRID_bbaf2n"), pix_fmt, 5)
    out = io.BytesIO()
    fmt, frames = open_pipe(io.BytesIO(src), (360, 288), pix_fmt)
    n = pipe_filter(fmt, frames, out, lambda frames: frames, start_number=1001)
    assert n == 5 and out.getvalue() == src
    if pix_fmt == "gbrpf32le":  # float: ffmpeg writes float EXRs, read back by OpenImageIO
        subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", "360x288", "-i", "-",
                        "-c:v", "exr", "-pix_fmt", pix_fmt, str(tmp_path / "o.%04d.exr")], input=out.getvalue(),
                       check=True)
        ref = list(read_raw_frames(io.BytesIO(src), (360, 288), pix_fmt))
        for i, want in enumerate(ref):
            assert np.array_equal(read_image(tmp_path / f"o.{i + 1:04d}.exr"), want)
        return
    mkv = tmp_path / "o.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", "360x288", "-r", "25",
                    "-i", "-", "-c:v", "ffv1", str(mkv)], input=out.getvalue(), check=True)
    assert _ffmpeg_raw(mkv, pix_fmt, 5) == src


def test_truncated_and_bad_format():
    with pytest.raises(InputError, match="ended inside frame 1: 10 of 311040 bytes; --size 360x288"):
        list(read_raw_frames(io.BytesIO(bytes(311040 + 10)), (360, 288), "rgb24"))
    with pytest.raises(InputError, match="not one of rgb24"):
        frame_bytes((4, 4), "yuv420p")
    with pytest.raises(InputError, match="the pipe is 360x288"):
        pipe_filter(*open_pipe(io.BytesIO(bytes(311040)), (360, 288), "rgb24"), io.BytesIO(),
                    lambda frames: ((f, x[:100]) for f, x in frames))
    with pytest.raises(InputError, match="stdin is not a NUT stream: send ffmpeg"):
        open_pipe(io.BytesIO(bytes(311040)), (360, 288))  # raw frames need --pix-fmt as well as --size


@needs_ffmpeg
@pytest.mark.parametrize("pix_fmt", ["rgb24", "rgb48le"])
def test_nut_pipe_through_ffmpeg_is_lossless(tmp_path, clip, pix_fmt):
    """ffmpeg -f nut -> open_pipe (format, size, rate from the stream) -> pipe_filter -> NUT that ffmpeg reads
    back, unprompted, as the same format, size, rate and samples."""
    path = clip("GRID_bbaf2n")
    nut = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "5", "-f", "nut", "-c:v", "rawvideo",
                          "-pix_fmt", pix_fmt, "-"], check=True, capture_output=True).stdout
    fmt, frames = open_pipe(io.BytesIO(nut))
    assert (fmt.container, fmt.size, fmt.pix_fmt, fmt.rate) == ("nut", (360, 288), pix_fmt, 25.0)
    out = io.BytesIO()
    assert pipe_filter(fmt, frames, out, lambda frames: frames) == 5
    (tmp_path / "o.nut").write_bytes(out.getvalue())
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=pix_fmt,width,height,r_frame_rate",
                            "-of", "csv=p=0", str(tmp_path / "o.nut")], check=True, capture_output=True, text=True)
    assert probe.stdout.split() == [f"360,288,{pix_fmt},25/1"]
    assert _ffmpeg_raw(tmp_path / "o.nut", pix_fmt, 5) == _ffmpeg_raw(path, pix_fmt, 5)


@needs_ffmpeg
def test_nut_stream_is_checked(clip):
    """A NUT stream is read by its own header: flags that disagree, other formats and codecs are refused."""
    def nut(*args):
        return subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip("GRID_bbaf2n")), "-frames:v", "2", *args,
                               "-f", "nut", "-"], check=True, capture_output=True).stdout

    deep = nut("-c:v", "rawvideo", "-pix_fmt", "rgb48le")
    for kw, message in (({"pix_fmt": "rgb24"}, r"--pix-fmt rgb24 does not match the piped NUT stream \(rgb48le\)"),
                        ({"size": (720, 288)}, r"--size 720x288 does not match the piped NUT stream \(360x288\)"),
                        ({"rate": 30.0}, r"--rate 30 does not match the piped NUT stream \(25 fps\)")):
        with pytest.raises(InputError, match=message):
            open_pipe(io.BytesIO(deep), **kw)
    assert open_pipe(io.BytesIO(deep), (360, 288), "rgb48le", 25.0)[0].pix_fmt == "rgb48le"  # agreeing flags pass
    for args, message in ((("-c:v", "rawvideo", "-pix_fmt", "yuv420p"), "holds rawvideo yuv420p"),
                          (("-c:v", "ffv1", "-pix_fmt", "rgb24"), "holds ffv1")):
        with pytest.raises(InputError, match=message):
            open_pipe(io.BytesIO(nut(*args)))
