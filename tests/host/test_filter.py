"""``h2h filter`` between two real ffmpeg processes, against the in-process PyAV pipeline and the node."""
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from h2h_engine import Track
from h2h_engine.hosts.ffmpeg_filter import _NOT_ON_STREAMS, filter_knobs, pyav_filter, reenact_processor
from h2h_engine.io import open_frames
from h2h_engine.io.rawvideo import read_raw_frames
from h2h_engine.nodes import SPECS

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI not installed")
pytest.importorskip("h2h_engine.synthesis", reason="the synthesis package (generator, checkpoints) is not merged")
CLIP = "input_duda_video"  # 1920x1080, 25 fps, a small face (~150 px): most of the plate lies outside the crop
W, H, N = 1920, 1080, 6


@pytest.fixture(scope="module")
def plate_track(tmp_path_factory, clip):
    from h2h_engine.cli import main

    out = tmp_path_factory.mktemp("filter") / "plate.h2h.npz"
    assert main(["--progress", "none", "track", str(clip(CLIP)), "-o", str(out), "--frames", f"0-{N - 1}"]) == 0
    return out


def _pipeline(h2h_exe, env, clip_path, ckpt, track, out, pix_fmt, *extra, container="raw"):
    """ffmpeg decode | h2h filter | ffmpeg encode, as three processes connected by pipes (no shell). A raw
    stream is declared on all three command lines; a NUT stream declares itself (no flags anywhere)."""
    raw = container == "raw"
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(clip_path), "-frames:v", str(N),
                            *(["-f", "rawvideo"] if raw else ["-f", "nut", "-c:v", "rawvideo"]), "-pix_fmt", pix_fmt,
                            "-"], stdout=subprocess.PIPE)
    stream = ["--size", f"{W}x{H}", "--rate", "25", "--pix-fmt", pix_fmt] if raw else []
    flt = subprocess.Popen([h2h_exe, "--progress", "json", "filter", "--checkpoint", str(ckpt), "--track",
                            str(track), *stream, "--device", "cpu", *extra], stdin=dec.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    dec.stdout.close()
    declared = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{W}x{H}", "-r", "25"] if raw else []
    enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", *declared, "-i", "-", *out], stdin=flt.stdout)
    flt.stdout.close()
    err = flt.stderr.read().decode()
    assert enc.wait(300) == 0 and flt.wait(300) == 0 and dec.wait(300) == 0, err
    return err


def _box(plate_track, ckpt):
    from h2h_engine.morphable import load_model
    from h2h_engine.render.crop import crop_box_for_track

    return crop_box_for_track(load_model(), Track.load(plate_track), margin=1.6, smooth=15)


def test_ffmpeg_pipe_round_trip(tmp_path, clip, plate_track, checkpoint, h2h_exe, env_threads):
    src = clip(CLIP)
    err = _pipeline(h2h_exe, env_threads, src, checkpoint, plate_track, ["-c:v", "ffv1", str(tmp_path / "o.mkv")],
                    "rgb24", "--frames", "2-4", "--feather", "4")
    assert [json.loads(l)["what"] for l in err.splitlines() if l.startswith("{")][-1] == "filter"
    out = [rgb for _, rgb in open_frames(tmp_path / "o.mkv")]
    plate = subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-frames:v", str(N), "-f", "rawvideo",
                            "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    plate = list(read_raw_frames(io.BytesIO(plate), (W, H), "rgb24"))  # float in [0, 1]
    plate = [(p * 255 + 0.5).astype(np.uint8) for p in plate]
    assert len(out) == N
    x0, y0, x1, y1 = _box(plate_track, checkpoint)
    inside = np.zeros((H, W), bool)
    inside[max(0, int(y0) + 8):int(y1) - 8, max(0, int(x0) + 8):int(x1) - 8] = True
    far = np.ones((H, W), bool)
    far[max(0, int(y0) - 16):int(y1) + 16, max(0, int(x0) - 16):int(x1) + 16] = False
    assert inside.sum() > 5000 and far.sum() > 1000
    for f in range(N):
        if f < 2 or f > 4:  # outside --frames: the plate passes through untouched
            assert np.array_equal(out[f], plate[f]), f
        else:  # the synthesized head replaces the crop box; the plate far from it is untouched
            assert np.array_equal(out[f][far], plate[f][far]), f
            assert np.abs(out[f][inside].astype(int) - plate[f][inside].astype(int)).mean() > 10, f

    # the in-process PyAV pipeline runs the same processor: same frames (up to the two decoders' rounding)
    proc = reenact_processor(str(checkpoint), str(plate_track), (W, H), 25.0, frames=(2, 4), feather=4.0,
                             mask="box", device="cpu")
    assert pyav_filter(src, tmp_path / "p.mkv", proc, frame_range=(0, N - 1)) == N
    for f, got in open_frames(tmp_path / "p.mkv"):
        assert np.abs(got.astype(int) - out[f].astype(int)).mean() < 0.5, f


@pytest.mark.parametrize("pix_fmt,container", [("rgb48le", "raw"), ("gbrpf32le", "raw"), ("rgb48le", "nut")])
def test_deep_formats(tmp_path, clip, plate_track, checkpoint, h2h_exe, env_threads, pix_fmt, container):
    """16-bit and float pipes keep their precision: the piped result equals the processor run in process on
    ffmpeg's own decode of the plate in that format (to the format's last bit), raw or NUT (whose format,
    size and rate the encoding ffmpeg reads from the filter's output)."""
    raw = tmp_path / "o.raw"
    _pipeline(h2h_exe, env_threads, clip(CLIP), checkpoint, plate_track, ["-f", "rawvideo", "-pix_fmt", pix_fmt,
              str(raw)], pix_fmt, "--frames", "3-4", container=container)
    with open(raw, "rb") as f:
        piped = list(read_raw_frames(f, (W, H), pix_fmt))
    plate = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip(CLIP)), "-frames:v", str(N), "-f", "rawvideo",
                            "-pix_fmt", pix_fmt, "-"], check=True, capture_output=True).stdout
    proc = reenact_processor(str(checkpoint), str(plate_track), (W, H), 25.0, frames=(3, 4), feather=12.0,
                             mask="box", device="cpu")
    ref = [rgb for _, rgb in proc(enumerate(read_raw_frames(io.BytesIO(plate), (W, H), pix_fmt)))]
    assert len(piped) == len(ref) == N
    tol = 0.5 / 65535 + 1e-7 if pix_fmt == "rgb48le" else 0.0
    for f in range(N):
        err = np.abs(piped[f] - (np.clip(ref[f], 0, 1) if pix_fmt == "rgb48le" else ref[f])).max()
        assert err <= tol, (f, err)
    assert np.abs(piped[3] - piped[2]).mean() > 0.01  # the synthesized frame is not the plate


def test_filter_errors(clip, plate_track, checkpoint, h2h_exe, env_threads):
    base = [h2h_exe, "--progress", "none", "filter", "--checkpoint", str(checkpoint), "--track", str(plate_track),
            "--device", "cpu"]
    frame = bytes(W * H * 3)
    size = f"{W}x{H}"

    def nut(*args):  # the real plate as ffmpeg's self-describing NUT stream
        return subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip(CLIP)), "-frames:v", "3", *args, "-f", "nut",
                               "-c:v", "rawvideo", "-"], check=True, capture_output=True).stdout

    deep = nut("-pix_fmt", "rgb48le")
    raw = ["--pix-fmt", "rgb24"]
    cases = [(["--size", "320x240", "--rate", "25", *raw], frame,
              f"piped video is 320x240 but the track .* made on {size}"),
             (["--size", size, "--rate", "30", *raw], frame, "runs at 30 fps but the track"),
             (["--size", size, "--rate", "25", *raw], frame[:-7], "input ended inside frame 0"),
             (["--size", size, "--rate", "25", "--pix-fmt", "yuv420p"], frame, "invalid choice"),
             (["--rate", "25", *raw], frame, "stdin is not a NUT stream: send ffmpeg"),
             (["--size", size, *raw], frame, "needs --rate: the piped stream does not say its rate"),
             # NUT: the stream's own header is checked, so the mis-declarations raw lets through are caught (the
             # other NUT refusals, in-process: tests/io/test_rawvideo.py)
             (raw, deep, r"--pix-fmt rgb24 does not match the piped NUT stream \(rgb48le\)"),
             ([], nut("-pix_fmt", "rgb24", "-vf", "scale=320:240"), "piped video is 320x240 but the track"),
             ([], nut("-pix_fmt", "rgb24", "-r", "30"), "runs at 30 fps but the track"),
             ([], deep, "the pipe held frames 0-2: only 3 of the track's 6 frames 0-5 were reenacted")]
    for args, data, msg in cases:
        r = subprocess.run(base + args, input=data, capture_output=True, env=env_threads)
        err = r.stderr.decode().strip()
        assert r.returncode == 2 and re.search(msg, err.splitlines()[-1]), (args, err)


def test_filter_knobs_are_the_synthesize_knobs_less_the_file_ones():
    names = [k.name for k in SPECS["synthesize"].knobs]
    assert set(_NOT_ON_STREAMS) <= set(names), "every knob the filter leaves out must exist"
    assert [k.name for k in filter_knobs()] == [n for n in names if n not in _NOT_ON_STREAMS]
