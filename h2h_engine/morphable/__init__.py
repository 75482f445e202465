"""Morphable models: the head2head model file format and importers (ICT Face Model Light built in)."""
from .ict import import_ict
from .model import REGION_GROUPS, REGIONS, MorphableModel
from .registry import load_model, load_model_for, resolve_model_path

__all__ = ["MorphableModel", "REGIONS", "REGION_GROUPS", "import_ict", "load_model", "load_model_for", "resolve_model_path"]
