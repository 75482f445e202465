"""Errors the engine raises on bad input. Each message is one actionable line; the CLI prints it and exits 2."""


class H2HError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(H2HError):
    """A file is missing, unreadable, corrupt, or of the wrong kind."""


class FrameRangeError(H2HError):
    """A frame range or frame pattern is malformed or selects nothing."""


class ModelMismatchError(H2HError):
    """Two files were made with different morphable models (or a track does not fit the model)."""


class NoFaceError(H2HError):
    """No face could be found where one is required (e.g. on every frame of a shot)."""


class ConfigError(H2HError):
    """A config file has unknown keys, wrong types, or values outside their range."""


class CheckpointError(H2HError):
    """A checkpoint is corrupt or was made with another configuration."""


class MissingPackageError(H2HError):
    """An optional package (PyAV, OpenImageIO, dlib) that this operation needs is not installed."""
