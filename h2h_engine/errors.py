"""Errors the engine raises on bad input. Each message is one actionable line; the CLI prints it and exits 2.

:func:`report_errors` is how every command line (``h2h``, the trainer's) ends: one line on stderr and an
exit status, never a traceback.
"""
from __future__ import annotations

import errno
import os
import sys
from typing import Callable


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


# Exit statuses of the command lines.
EXIT_INPUT = 2         # an H2HError: bad input, refused output, bad settings
EXIT_SYSTEM = 1        # the system failed: disk full, out of memory, I/O error
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_PIPE = 141        # stdout closed early, e.g. `h2h info ... | head` (128 + SIGPIPE), silent


def report_errors(command: Callable[[], int]) -> int:
    """Run ``command`` (returns an exit status); every failure ends as one ``h2h: ...`` line on stderr and
    one of the EXIT_* statuses above."""
    try:
        status = command()
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except H2HError as e:
        print(f"h2h: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("h2h: interrupted; finished outputs are kept, re-run (train: with --resume) to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_PIPE
    except MemoryError:
        print("h2h: error: out of memory (use smaller sizes or a shorter --frames range)", file=sys.stderr)
        return EXIT_SYSTEM
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        hint = " (free some space and re-run; finished outputs are kept)" if e.errno in (errno.ENOSPC,
                                                                                        errno.EDQUOT) else ""
        print(f"h2h: error: {e.strerror or e}{where}{hint}", file=sys.stderr)
        return EXIT_SYSTEM
