"""Knobs several nodes share, declared once here so every node (and every host) spells them the same way."""
from __future__ import annotations

from ..io.audio import AUDIO_CHOICES
from ..io.colour import COLOURSPACES
from .spec import Knob

COLOURSPACE = Knob("colourspace", "choice", "auto",
                   "colour space of the input plate (converted to the networks' sRGB and back on output); "
                   "auto: integer files sRGB, float EXR scene-linear",
                   choices=("auto", *COLOURSPACES))
AUDIO = Knob("audio", "choice", "source",
             "movie outputs: carry the driving (source) clip's audio aligned with the retarget, the target "
             "plate's audio, or none", choices=AUDIO_CHOICES)
FORCE = Knob("force", "bool", False,
             "re-render frames already on disk (default: keep them, so a re-run or farm chunk resumes)")
