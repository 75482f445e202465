"""Frame rates as exact rationals and SMPTE timecode: parsing, frame arithmetic (drop frame included), the
EXR ``smpte:TimeCode`` packing and movie ``timecode`` metadata.

Rates are :class:`fractions.Fraction` (23.976 is ``24000/1001``, never ``2997/125``). Timecode strings are
``HH:MM:SS:FF`` (non-drop) or ``HH:MM:SS;FF`` (drop frame, 29.97/59.94 fps); the frame arithmetic is the
``timecode`` library's (SMPTE ST 12 drop-frame counting).
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from timecode import Timecode

from ..errors import ConfigError, InputError

# The largest frame rate the engine takes (tracks share it: h2h_engine.track.MAX_FPS).
_MAX_RATE = 1000
# SMPTE 12M time-and-flags word: the BCD digits' bits, without the flags (drop frame is bit 6).
_BCD_MASK = 0x3F7F7F3F
_DROP_FLAG = 1 << 6
_TC = re.compile(r"(\d{2}):(\d{2}):(\d{2})([:;])(\d{2})")


def parse_rate(value: Any) -> Fraction:  # noqa: ANN401 - str, number, Fraction or a (num, den) pair
    """An exact frame rate from ``"24000/1001"``, ``"23.976"``, ``24``, a float such as PyAV's or a track's
    ``23.976023976``, a Fraction or an OpenImageIO rational ``(num, den)``. NTSC rates written as decimals
    (23.976, 23.98, 29.97, 59.94, 47.952, 119.88) are ``N*1000/1001``. ConfigError for anything else."""
    try:
        if isinstance(value, (tuple, list)) and len(value) == 2:
            rate = Fraction(int(value[0]), int(value[1]))
        elif isinstance(value, Fraction):
            rate = value
        elif isinstance(value, str) and "/" in value:
            num, den = value.split("/")
            rate = Fraction(int(num), int(den))
        else:
            x = float(value)
            nominal = round(x * 1001 / 1000)
            ntsc = abs(x - round(x)) > 1e-3 and abs(x - nominal * 1000 / 1001) < 5e-3
            rate = Fraction(nominal * 1000, 1001) if ntsc else Fraction(x).limit_denominator(1001)
    except (ValueError, TypeError, ZeroDivisionError):
        raise ConfigError(f"frame rate {value!r} is not a number or a ratio like 24000/1001") from None
    if not 0 < rate <= _MAX_RATE:
        raise ConfigError(f"frame rate {value!r} must be in (0, {_MAX_RATE}]")
    return rate


def rate_text(rate: Fraction) -> str:
    """``"24"`` or ``"24000/1001"``: a rate as it is written in metadata and on command lines."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def check_timecode(text: str) -> str:
    """``text`` when it is an ``HH:MM:SS:FF`` / ``HH:MM:SS;FF`` timecode, else InputError."""
    if _TC.fullmatch(text.strip()) is None:
        raise InputError(f"timecode {text!r} is not of the form HH:MM:SS:FF (or HH:MM:SS;FF for drop frame)")
    return text.strip()


def _timecode(text: str, rate: Fraction) -> Timecode:
    drop = check_timecode(text)[8] == ";"
    if drop and not (rate.denominator == 1001 and rate.numerator % 30000 == 0):
        raise InputError(f"drop-frame timecode {text} needs a 29.97 or 59.94 fps rate; got {rate_text(rate)}")
    return Timecode(rate_text(rate), text, force_non_drop_frame=not drop)


def offset_timecode(start: str, rate: Fraction, frames: int) -> str:
    """The timecode ``frames`` frames after (or before, when negative) the frame labelled ``start``."""
    tc = _timecode(start, rate)
    tc.frames = tc.frames + frames  # frames counts from 1 at 00:00:00:00 (the library's convention)
    return str(tc)


def frames_between(start: str, end: str, rate: Fraction) -> int:
    """How many frames ``end`` is after ``start`` (same rate and drop-frame mode)."""
    return _timecode(end, rate).frames - _timecode(start, rate).frames


def to_smpte(text: str) -> tuple[int, int]:
    """A timecode string -> the EXR ``smpte:TimeCode`` value (time-and-flags BCD word with the drop-frame
    flag, user bits 0) as OpenImageIO reads and writes it."""
    h, m, s, sep, f = _TC.fullmatch(check_timecode(text)).groups()
    word = 0
    for shift, digits in ((24, h), (16, m), (8, s), (0, f)):
        word |= (int(digits[0]) << 4 | int(digits[1])) << shift
    return word | (_DROP_FLAG if sep == ";" else 0), 0


def from_smpte(value: Any) -> str:  # noqa: ANN401 - OpenImageIO's (time_and_flags, user_bits)
    """The EXR ``smpte:TimeCode`` value (see :func:`to_smpte`) -> ``HH:MM:SS:FF`` or ``HH:MM:SS;FF``."""
    word = int(value[0]) if isinstance(value, (tuple, list)) else int(value)
    digits = word & _BCD_MASK
    h, m, s, f = ((digits >> shift) & 0xFF for shift in (24, 16, 8, 0))
    text = f"{h >> 4}{h & 15}:{m >> 4}{m & 15}:{s >> 4}{s & 15}{';' if word & _DROP_FLAG else ':'}{f >> 4}{f & 15}"
    return check_timecode(text)
