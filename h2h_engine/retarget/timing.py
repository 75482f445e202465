"""Timing of a retarget: which source row drives each output frame, and what happens past the source's end.

Output frame ``k`` (0-based position in the output) is driven by source row ``source_offset + k``. When that
row lies past the source's last row, ``past_end`` decides:

- ``stop``: the output ends with the source (it may be shorter than asked);
- ``hold``: the source's last row repeats;
- ``loop``: the source starts over (rows 0, 1, ..., n-1, 0, 1, ...);
- ``pingpong``: the source plays backwards, then forwards again (0, ..., n-1, n-2, ..., 0, 1, ...).
"""
from __future__ import annotations

import numpy as np

from ..errors import FrameRangeError

PAST_END = ("stop", "hold", "loop", "pingpong")


def source_rows(n_out: int, n_src: int, source_offset: int = 0, past_end: str = "stop") -> np.ndarray:
    """The source row that drives each output frame.

    Args:
        n_out: number of output frames asked for.
        n_src: number of rows in the source track.
        source_offset: source row driving the first output frame (>= 0).
        past_end: one of :data:`PAST_END`.
    Returns:
        (K,) int64 source rows, K = n_out except with ``stop``, where K = min(n_out, n_src - source_offset).
    Raises:
        FrameRangeError: when nothing of the source is left to drive the output.

    Example:
        >>> source_rows(7, 3, 0, "pingpong").tolist()
        [0, 1, 2, 1, 0, 1, 2]
    """
    if past_end not in PAST_END:
        raise ValueError(f"past_end must be one of {PAST_END}; got {past_end!r}")
    if n_src <= 0 or n_out <= 0:
        raise FrameRangeError(f"nothing to retarget: {n_src} source frames, {n_out} output frames")
    if source_offset < 0:
        raise FrameRangeError(f"source offset must be >= 0; got {source_offset}")
    i = source_offset + np.arange(n_out, dtype=np.int64)  # (n_out,) wanted rows
    if past_end == "stop":
        i = i[i < n_src]
        if len(i) == 0:
            raise FrameRangeError(f"source offset {source_offset} is past the source's {n_src} frames; use a "
                                  f"smaller --source-offset or --past-end hold|loop|pingpong")
        return i
    if past_end == "hold":
        return np.minimum(i, n_src - 1)
    if past_end == "loop":
        return i % n_src
    if n_src == 1:
        return np.zeros_like(i)
    period = 2 * n_src - 2
    j = i % period
    return np.where(j < n_src, j, period - j)
