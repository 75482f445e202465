"""Retargeting: hybrid parameters mixing one tracked shot's motion into another (head, face, gaze, timing)."""
from .gaze import eye_coords_to_pupils, pupils_to_eye_coords
from .hybrid import MODES, neutral_expression, retarget
from .timing import PAST_END, source_rows

__all__ = ["MODES", "PAST_END", "eye_coords_to_pupils", "neutral_expression", "pupils_to_eye_coords", "retarget",
           "source_rows"]
