"""Timing: source offset and the past-end policies, on the index maps and on real tracks."""
import numpy as np
import pytest

from h2h_engine.errors import FrameRangeError
from h2h_engine.retarget import PAST_END, retarget, source_rows


def test_source_rows_examples():
    assert source_rows(5, 3, 0, "stop").tolist() == [0, 1, 2]
    assert source_rows(5, 3, 1, "hold").tolist() == [1, 2, 2, 2, 2]
    assert source_rows(7, 3, 0, "loop").tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert source_rows(9, 3, 0, "pingpong").tolist() == [0, 1, 2, 1, 0, 1, 2, 1, 0]
    assert source_rows(3, 1, 0, "pingpong").tolist() == [0, 0, 0]


@pytest.mark.parametrize("past_end", PAST_END)
@pytest.mark.parametrize("n_src,offset", [(1, 0), (2, 1), (5, 0), (5, 3), (8, 12)])
def test_source_rows_match_reference(reference, past_end, n_src, offset):
    want = [reference.source_row_ref(k, n_src, offset, past_end) for k in range(30)]
    want = [r for r in want if r is not None] if past_end == "stop" else want
    if not want:
        with pytest.raises(FrameRangeError):
            source_rows(30, n_src, offset, past_end)
    else:
        assert source_rows(30, n_src, offset, past_end).tolist() == want


@pytest.mark.parametrize("past_end", PAST_END)
def test_face_mode_timing_on_real_tracks(shots, model, past_end):
    a, b = shots
    src = a.slice(int(a.frames[0]), int(a.frames[0]) + 14)        # a 15-frame source for a longer target
    out = retarget(model, src, b, mode="face", past_end=past_end, source_offset=4, neutral_offset=False)
    driving = np.array(out.meta["retarget"]["source_frame_of_output"])
    f0 = int(src.frames[0])
    if past_end == "stop":
        assert len(out) == 11 and np.array_equal(out.frames, b.frames[:11])
    else:
        assert len(out) == len(b) and np.array_equal(out.frames, b.frames)
    assert np.array_equal(driving[:11], f0 + np.arange(4, 15))
    if past_end == "hold":
        assert np.all(driving[11:] == f0 + 14)
    elif past_end == "loop":
        assert np.array_equal(driving[11:15], f0 + np.arange(4))
    elif past_end == "pingpong":
        assert np.array_equal(driving[11:14], f0 + np.array([13, 12, 11]))
    # each output frame carries the expression of the source frame that drives it
    rows = driving - f0
    assert np.array_equal(out.expression, np.clip(src.expression[rows], *model.exp_bounds))
    assert np.array_equal(out.rotation, b.rotation[:len(out)])


def test_head_mode_frames_and_offset(shots, model):
    a, b = shots
    out = retarget(model, a, b, mode="head", source_offset=5)
    assert len(out) == len(a) - 5 and out.frames[0] == b.frames[0]
    assert np.array_equal(out.rotation, a.rotation[5:])
    out = retarget(model, a, b, mode="head", frames=(100, 100 + 2 * len(a)), past_end="loop")
    assert np.array_equal(out.frames, np.arange(100, 101 + 2 * len(a)))
    assert np.array_equal(out.rotation[len(a):2 * len(a)], a.rotation)
    with pytest.raises(FrameRangeError, match="source offset"):
        retarget(model, a, b, mode="head", source_offset=len(a))
