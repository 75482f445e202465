"""Frame I/O: movies (PyAV), image sequences and EXR (OpenImageIO), frame patterns, colour, atomic writes."""
from .atomic import atomic_path
from .frames import FramePattern, is_pattern, parse_frame_range
from .image import read_image, write_image
from .video import FrameSource, open_frames

__all__ = ["FramePattern", "FrameSource", "atomic_path", "is_pattern", "open_frames", "parse_frame_range",
           "read_image", "write_image"]
