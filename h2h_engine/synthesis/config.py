"""Network sizes of the generator and discriminators, one dataclass shared by the engine and the trainer.

The networks never read config files: the trainer loads YAML into :class:`ModelConfig` and checkpoints
store it as a plain dict next to the weights, which is all the Synthesize node needs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ConfigError

COND_CHANNELS = 6  # per conditioning frame: NMFC (3) + eye image (3)
IMAGE_CHANNELS = 3
ARCHS = ("head2head", "unet", "none")  # the paper's G; a U-Net over the target's appearance; no network
REGIONS = ("crop", "face")             # what is regenerated: the whole crop (head mode) or the face matte
# Appearance inputs (render/appearance.py), per conditioning frame after NMFC + eyes:
APPEARANCE_CHANNELS = {"context": 4,   # the plate crop with the matte blanked (3) + the matte (1); face only
                       "warp": 4}      # retrieved training frames warped to the frame (3) + their coverage (1)


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of G, D_I, D_M and D_D. Defaults are the paper's (authors' code, 256 px frames)."""

    size: int = 256               # square frame side in pixels the networks run at
    n_cond_frames: int = 3        # conditioning of frames t-2..t fed to G (6 channels each)
    n_prev_frames: int = 2        # previously generated frames fed back to G (0: feed-forward, pix2pix-style)
    ngf: int = 64                 # generator channels after the first 7x7 conv
    n_downsample: int = 3         # stride-2 convs in each encoder (transposed convs in the decoder)
    n_blocks_encoder: int = 5     # residual blocks at the bottleneck of each encoder
    n_blocks_decoder: int = 4     # residual blocks after the two encoders' features are summed
    ndf: int = 64                 # discriminator channels of the first layer
    n_layers_d: int = 3           # stride-2 layers of each PatchGAN
    num_d: int = 2                # spatial scales of the image and mouth discriminators
    mouth_size: int = 72          # mouth crop side at 256 px (scaled with size)
    use_mouth_d: bool = True      # train with the mouth discriminator D_M
    use_dynamics_d: bool = True   # train with the dynamics discriminator D_D
    dynamics_k: int = 3           # frames per D_D window (and temporal sub-sampling factor per scale)
    dynamics_scales: int = 3      # temporal scales of D_D (strides 1, K, K^2, ...)
    arch: str = "head2head"       # generator: head2head (the paper's) | unet (residual over appearance) | none
    region: str = "crop"          # crop: regenerate the crop (head mode) | face: only the face matte (dubbing)
    appearance: str = ""          # comma list of appearance inputs: context (face region only), warp
    upsample: str = "transpose"   # head2head decoder: transpose (paper) | resize (bilinear + conv, no checkerboard)
    unet_levels: int = 4          # unet: stride-2 levels (average-pool down, bilinear up, skips)
    unet_stride: int = 1          # unet: the residual is made at 1/stride of the size (pixel-unshuffled input,
                                  # bilinear-upsampled residual) over the full-size base image

    def __post_init__(self) -> None:
        if self.size % (2 ** self.n_downsample) != 0:
            raise ConfigError(f"model.size {self.size} must be divisible by 2^n_downsample = {2 ** self.n_downsample}")
        for name in ("size", "n_cond_frames", "ngf", "ndf", "n_layers_d", "num_d", "mouth_size", "dynamics_k",
                     "dynamics_scales"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1; got {getattr(self, name)}")
        if self.n_prev_frames < 0 or self.n_downsample < 1:
            raise ConfigError(f"model.n_prev_frames must be >= 0 and model.n_downsample >= 1; got {self.n_prev_frames}, "
                              f"{self.n_downsample}")
        for name, choices in (("arch", ARCHS), ("region", REGIONS), ("upsample", ("transpose", "resize"))):
            if getattr(self, name) not in choices:
                raise ConfigError(f"model.{name} must be one of {', '.join(choices)}; got {getattr(self, name)!r}")
        bad = [a for a in self.appearance_inputs if a not in APPEARANCE_CHANNELS]
        if bad:
            raise ConfigError(f"model.appearance: unknown input(s) {bad}; choose from {', '.join(APPEARANCE_CHANNELS)}")
        if "context" in self.appearance_inputs and self.region != "face":
            raise ConfigError("model.appearance context (the plate around the face) needs model.region: face")
        if self.arch == "none" and "warp" not in self.appearance_inputs and "context" not in self.appearance_inputs:
            raise ConfigError("model.arch none (no network) composites appearance: set model.appearance")
        if self.unet_stride not in (1, 2, 4):
            raise ConfigError(f"model.unet_stride must be 1, 2 or 4; got {self.unet_stride}")
        if self.arch == "unet" and self.size % (2 ** self.unet_levels * self.unet_stride) != 0:
            raise ConfigError(f"model.size {self.size} must be divisible by 2^unet_levels * unet_stride")
        if self.dynamics_k < 2:
            raise ConfigError(f"model.dynamics_k must be >= 2; got {self.dynamics_k}")

    @property
    def appearance_inputs(self) -> tuple[str, ...]:
        """The appearance inputs in channel order (``context`` before ``warp``)."""
        names = [a.strip() for a in self.appearance.split(",") if a.strip()]
        return tuple(sorted(set(names), key=lambda a: list(APPEARANCE_CHANNELS).index(a)
                            if a in APPEARANCE_CHANNELS else len(APPEARANCE_CHANNELS)))

    @property
    def frame_channels(self) -> int:
        """Input channels per conditioning frame: NMFC + eyes, then the appearance inputs."""
        return COND_CHANNELS + sum(APPEARANCE_CHANNELS[a] for a in self.appearance_inputs)

    @property
    def cond_channels(self) -> int:
        """Input channels of the conditioning encoder (18 for the paper)."""
        return self.frame_channels * self.n_cond_frames

    @property
    def prev_channels(self) -> int:
        """Input channels of the previous-frames encoder (6 for the paper)."""
        return IMAGE_CHANNELS * self.n_prev_frames

    @property
    def mouth_crop(self) -> int:
        """Mouth crop side in pixels at this model's size (72 at 256 px), even."""
        return max(8, int(round(self.mouth_size * self.size / 256 / 2)) * 2)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """Build from a dict; unknown keys or wrong types raise ConfigError."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigError(f"unknown model config key(s) {', '.join(unknown)}; known: {', '.join(known)}")
        out = {}
        for k, v in d.items():
            want = type(getattr(cls(), k))
            if want is int and isinstance(v, bool) or not isinstance(v, want) and not (want is float and isinstance(v, int)):
                raise ConfigError(f"model.{k} must be {want.__name__}; got {v!r}")
            out[k] = v
        return cls(**out)
