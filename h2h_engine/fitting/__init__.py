"""3DMM fitting: SOP cameras and the bounded batch identity/expression fit over a whole clip."""
from .config import FitConfig, load_fit_config
from .sop import sop_pose
from .video import FitResult, fit_video, fitted_landmarks, landmark_nme

__all__ = ["FitConfig", "FitResult", "fit_video", "fitted_landmarks", "landmark_nme", "load_fit_config", "sop_pose"]
