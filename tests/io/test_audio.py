"""Dubbing audio: movie outputs carry a clip's sound from the retarget's offset, trimmed to the picture."""
import numpy as np
import pytest

from h2h_engine.errors import InputError
from h2h_engine.io import open_frames
from h2h_engine.io.audio import AudioSpec, audio_for, read_audio
from h2h_engine.io.writer import FrameWriter

av = pytest.importorskip("av")

SOURCE = "WDA_KatieHill"  # 25 fps, AAC 16 kHz stereo speech
TARGET = "GRID_bbaf2n"    # 25 fps, MP2 44.1 kHz


def _decoded_audio(path):
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        res = av.AudioResampler(format="fltp", layout=s.layout.name, rate=s.rate)
        chunks = [f.to_ndarray() for fr in c.decode(s) for f in res.resample(fr)]
        vdur = float(c.streams.video[0].frames / c.streams.video[0].average_rate)
    return np.concatenate(chunks, axis=1), s.rate, vdur


def _lag(a, b, max_lag):
    """Lag (samples) of ``a`` against ``b`` maximising their correlation, and the correlation."""
    best = max(range(-max_lag, max_lag + 1),
               key=lambda k: float(np.dot(a[max_lag + k:len(a) - max_lag + k], b[max_lag:len(b) - max_lag])))
    x, y = a[max_lag + best:len(a) - max_lag + best], b[max_lag:len(b) - max_lag]
    return best, float(np.corrcoef(x, y)[0, 1])


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_source_audio_aligned_and_trimmed(tmp_path, clip, suffix):
    src, tgt = clip(SOURCE), clip(TARGET)
    n, first_src = 40, 30  # 40 target frames; the retarget starts at source frame 30 (1.2 s)
    spec = audio_for("source", src, tgt, first_src, 0, 25.0, 25.0)
    assert spec == AudioSpec(str(src), 1.2)
    out = tmp_path / f"dub{suffix}"
    with FrameWriter(out, fps=25, audio=spec) as w:
        for f, rgb in open_frames(tgt, (0, n - 1)):
            w.write(f, rgb)
    got, rate, vdur = _decoded_audio(out)
    assert rate == 16000 and abs(vdur - n / 25) < 1e-6
    assert abs(got.shape[1] / rate - n / 25) < 2048 / rate  # trimmed to the picture (+ codec padding)
    ref, _, _ = read_audio(AudioSpec(str(src), 1.2), n / 25)
    m = min(got.shape[1], ref.shape[1])
    lag, corr = _lag(got[0, :m], ref[0, :m], 400)
    assert abs(lag) <= 2 and corr > 0.95, (lag, corr)  # in sync to 1/8 ms, same sound


def test_target_none_and_errors(tmp_path, clip):
    src, tgt = clip(SOURCE), clip(TARGET)
    assert audio_for("none", src, tgt, 0, 0, 25, 25) is None
    assert audio_for("target", src, tgt, 0, 5, 25, 25) == AudioSpec(str(tgt), 0.2)
    assert audio_for("source", clip("DPE__data_d"), tgt, 0, 0, 25, 25) is None  # source has no sound
    with pytest.raises(InputError, match="audio must be one of"):
        audio_for("both", src, tgt, 0, 0, 25, 25)
    with pytest.raises(InputError, match="does not exist"):
        FrameWriter(tmp_path / "x.mp4", audio=AudioSpec(str(tmp_path / "nope.wav")))


def test_read_audio_pads_before_and_after(clip):
    src = clip(SOURCE)
    full, rate, _ = read_audio(AudioSpec(str(src), 0.0), 8.0)
    early, _, _ = read_audio(AudioSpec(str(src), -0.5), 1.0)  # half a second of silence, then the clip
    assert np.all(early[:, :rate // 2] == 0) and np.abs(early[:, rate // 2:]).max() > 0
    assert np.array_equal(early[:, rate // 2:], full[:, :rate // 2])
    late, _, _ = read_audio(AudioSpec(str(src), 7.5), 1.0)  # clip ends after 0.5 s
    assert np.all(late[:, int(0.55 * rate):] == 0)


def test_audio_follows_the_retarget(tmp_path, clip):
    """A retargeted track's movie carries the driving clip's sound from the frame that drives it."""
    from h2h_engine.cli import main
    from h2h_engine import Track
    from h2h_engine.nodes.knobs import audio_for_track

    src, tgt = clip("Audio_Source_00015"), clip("W009_front_neutral")  # source has sound, target none
    for name, path in (("s", src), ("t", tgt)):
        assert main(["--progress", "none", "track", str(path), "-o", str(tmp_path / f"{name}.h2h.npz"),
                     "--frames", "0-5"]) == 0
    assert main(["--progress", "none", "retarget", "--source", str(tmp_path / "s.h2h.npz"), "--target",
                 str(tmp_path / "t.h2h.npz"), "-o", str(tmp_path / "r.h2h.npz"), "--mode", "face",
                 "--source-offset", "2"]) == 0
    track = Track.load(tmp_path / "r.h2h.npz")
    assert audio_for_track("source", track, 0) == AudioSpec(str(src), 2 / 25)  # source frame 2 drives frame 0
    assert audio_for_track("source", track, 3) == AudioSpec(str(src), 5 / 25)  # a farm chunk from frame 3
    assert audio_for_track("target", track, 0) is None  # the target clip has no sound
    assert audio_for_track("none", track, 0) is None


def test_audio_follows_movie_frame_numbers(tmp_path, clip):
    """With --first-frame the sound still starts at the driving frame's time in the clip (decode order)."""
    from h2h_engine.cli import main
    from h2h_engine import Track
    from h2h_engine.nodes.knobs import audio_for_track

    src, tgt = clip("Audio_Source_00015"), clip("W009_front_neutral")
    for name, path, first in (("s", src, 1001), ("t", tgt, 1)):
        assert main(["--progress", "none", "track", str(path), "-o", str(tmp_path / f"{name}.h2h.npz"),
                     "--first-frame", str(first), "--frames", f"{first}-{first + 4}"]) == 0
    assert main(["--progress", "none", "retarget", "--source", str(tmp_path / "s.h2h.npz"), "--target",
                 str(tmp_path / "t.h2h.npz"), "-o", str(tmp_path / "r.h2h.npz"), "--mode", "face",
                 "--source-offset", "2"]) == 0
    track = Track.load(tmp_path / "r.h2h.npz")
    assert track.frames.tolist() == [1, 2, 3]  # the source runs out 2 frames early (offset 2)
    assert audio_for_track("source", track, 1) == AudioSpec(str(src), 2 / 25)  # source frame 1003: 2nd from 0
    assert audio_for_track("source", track, 3) == AudioSpec(str(src), 4 / 25)
