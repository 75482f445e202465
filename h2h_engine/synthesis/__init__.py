"""The Head2Head video GAN: generator, discriminators, losses and sequential inference (torch).

``Generator`` is imported on first use, so that nodes which never run a network (track, retarget, render-nmfc)
do not pay for importing torch (about 1.5 s a process)."""
from typing import Any

from .config import ModelConfig

__all__ = ["Generator", "ModelConfig"]


def __getattr__(name: str) -> Any:
    if name == "Generator":
        from .generator import Generator  # noqa: PLC0415

        return Generator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
