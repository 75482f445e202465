"""Knobs several nodes share, declared once here so every node (and every host) spells them the same way."""
from __future__ import annotations

from ..io.audio import AUDIO_CHOICES, AudioSpec, audio_for
from ..io.colour import COLOURSPACES
from ..track import Track
from .spec import Knob

COLOURSPACE = Knob("colourspace", "choice", "auto",
                   "colour space of the input plate (converted to the networks' sRGB and back on output); "
                   "auto: integer files sRGB, float EXR scene-linear",
                   choices=("auto", *COLOURSPACES))
AUDIO = Knob("audio", "choice", "source",
             "movie outputs: carry the driving (source) clip's audio aligned with the retarget, the target "
             "plate's audio, or none", choices=AUDIO_CHOICES)


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
    source_frame = rt["source_frame_of_output"][row] if rt else 0
    source_fps = rt["source"]["fps"] if rt else track.fps
    return audio_for(choice, source, track.meta.get("source"), source_frame, int(track.frames[row]),
                     source_fps, track.fps)
