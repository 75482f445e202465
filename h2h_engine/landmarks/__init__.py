"""Face detection, 68 landmarks, pupils and ROI tracking across frames (dlib models)."""
from .detect import Detection, FaceDetector
from .metrics import binocular_noise, eyes_open, inside_eye_polygon, landmark_jitter, pupil_jitter
from .pupils import locate_pupils
from .shape import ShapeFit, ShapePredictor, box_from_points
from .tracker import LandmarkTrack, track_landmarks

__all__ = ["Detection", "FaceDetector", "LandmarkTrack", "ShapeFit", "ShapePredictor", "binocular_noise",
           "box_from_points", "eyes_open", "inside_eye_polygon", "landmark_jitter", "locate_pupils",
           "pupil_jitter", "track_landmarks"]
