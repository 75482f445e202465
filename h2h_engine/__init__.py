"""head2head: video-based neural head synthesis (Koujan et al., FG 2020) as an engine for VFX hosts."""
from .errors import H2HError
from .morphable import MorphableModel, load_model
from .track import Track

__version__ = "0.1.4"
__all__ = ["H2HError", "MorphableModel", "Track", "load_model", "__version__"]
