"""3DMM fitting: SOP cameras and the bounded batch identity/expression fit over a whole clip."""
from .sop import project

__all__ = ["project"]
