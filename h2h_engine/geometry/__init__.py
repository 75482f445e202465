"""Shared geometry, below every other engine package (it imports nothing of the engine): the SOP camera
convention and rotation angles (``camera``), the 68-point index sets and NME (``landmarks68``) and eye geometry (``eyes``)."""
from .camera import project, rotation_error_deg
from .eyes import MIN_OPENING, eye_aspect_ratio, eye_frame_coords, eye_frames, eye_polygons, inside_polygon
from .landmarks68 import (BROWS, EYES, JAW, LEFT_EYE, LEFT_JAW, MOUTH, N_POINTS, NOSE, OUTER_EYE_CORNERS, RIGHT_EYE,
                          RIGHT_JAW, RIGID, inter_ocular, nme)

__all__ = ["BROWS", "EYES", "JAW", "LEFT_EYE", "LEFT_JAW", "MIN_OPENING", "MOUTH", "N_POINTS", "NOSE",
           "OUTER_EYE_CORNERS", "RIGHT_EYE", "RIGHT_JAW", "RIGID", "eye_aspect_ratio", "eye_frame_coords",
           "eye_frames", "eye_polygons", "inside_polygon", "inter_ocular", "nme", "project", "rotation_error_deg"]
