"""Knobs several nodes share, declared once here so every node (and every host) spells them the same way."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..io.audio import AUDIO_CHOICES, AudioSpec, audio_for
from ..io.timecode import parse_rate
from ..track import Track
from .cache import content_key
from .spec import Knob

COLOURSPACE = Knob("colourspace", "str", "auto",
                   "colour space of the input plate: any colour space, alias or role of the OCIO config ($OCIO, "
                   "else the built-in ACES studio config), converted to the networks' color_picking space and back "
                   "on output; auto: the scene_linear role for float files (EXR), color_picking for integer files")
FORCE = Knob("force", "bool", False,
             "replace outputs already on disk: an existing track or movie file is otherwise refused; sequence "
             "frames are otherwise kept when their header stamp shows the same settings made them, so farm chunks "
             "can be retried and interrupted renders resume", keyed=False)
AUDIO = Knob("audio", "choice", "source",
             "movie outputs: carry the driving (source) clip's audio aligned with the retarget, the target "
             "plate's audio, or none", choices=AUDIO_CHOICES)


def track_time(track: Track) -> tuple[Fraction, tuple[int, str] | None]:
    """``(rate, timecode)`` of a track: its source's exact rate (``meta["rate"]``, else its float fps) and the
    ``(frame number, "HH:MM:SS:FF")`` timecode of one of its frames when the source carried timecode; what
    every output made from the track is stamped with (EXR header, movie metadata)."""
    rate = parse_rate(track.meta.get("rate") or track.fps)
    tc = track.meta.get("timecode")
    return rate, (int(tc[0]), str(tc[1])) if tc else None


def audio_for_track(choice: str, track: Track, first_frame: int) -> AudioSpec | None:
    """The sound a movie rendered from ``track`` (starting at its frame ``first_frame``) carries.

    ``source``: the driving clip named in a retargeted track's provenance, from the source frame that
    drives ``first_frame``; ``target``: the clip the track was made from, at ``first_frame``; ``none`` (or a
    clip without sound, or a non-retargeted track asked for source audio): None.
    """
    rows = [i for i, f in enumerate(track.frames) if f >= first_frame]
    row = rows[0] if rows else 0
    rt = track.meta.get("retarget")
    source = rt["source"]["meta"].get("source") if rt else None
    # movie frame numbers count from the track's first_frame (see the track node): audio time from decode order
    source_frame = rt["source_frame_of_output"][row] - rt["source"]["meta"].get("first_frame", 0) if rt else 0
    source_fps = rt["source"]["fps"] if rt else track.fps
    return audio_for(choice, source, track.meta.get("source"), source_frame,
                     int(track.frames[row]) - int(track.meta.get("first_frame", 0)), source_fps, track.fps)


def settings_stamp(node: str, values: dict[str, Any], files: list[str | None]) -> str:
    """The :func:`~.cache.content_key` of what decides a node's pixels: its name, the engine version, the knob
    ``values`` that affect the pixels (not the frame range or resume flags) and its input ``files`` by
    content. Farm chunks of one job get the same stamp, so ``FrameWriter(stamp=...)`` keeps their frames on a
    re-run, and a re-run with other settings does not."""
    return content_key(node, values, {str(i): f for i, f in enumerate(files)}, length=16)
