"""The Head2Head video GAN: generator, discriminators, losses and sequential inference (torch)."""
from .config import ModelConfig
from .generator import Generator

__all__ = ["Generator", "ModelConfig"]
