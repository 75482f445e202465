"""Face detection, 68 landmarks, pupils and ROI tracking across frames (dlib models)."""
from .detect import Detection, FaceDetector
from .pupils import eye_aspect_ratio, locate_pupils
from .shape import ShapeFit, ShapePredictor, box_from_points, inter_ocular
from .tracker import LandmarkTrack, track_landmarks

__all__ = ["Detection", "FaceDetector", "LandmarkTrack", "ShapeFit", "ShapePredictor", "box_from_points",
           "eye_aspect_ratio", "inter_ocular", "locate_pupils", "track_landmarks"]
