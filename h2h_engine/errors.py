"""Errors the engine raises on bad input. Each message is one actionable line; the CLI prints it and exits 2.

:func:`report_errors` is how every command line (``h2h``, the trainer's) ends: one line on stderr and an
exit status, never a traceback. Ctrl-C is the one exception to returning a status: after its line the process
ends by SIGINT, as Unix tools do (the shell shows status 130, a parent process sees the signal).
"""
from __future__ import annotations

import errno
import os
import sys
from types import TracebackType
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
EXIT_PIPE = 141        # stdout closed early, e.g. `h2h info ... | head` (128 + SIGPIPE), silent


# The message of the KeyboardInterrupt :func:`report_errors` raises once it has printed its line. It stays a
# KeyboardInterrupt, not a subclass: CPython ends a process by SIGINT only for that exact type.
_REPORTED = "h2h: interrupted, reported"


def _reported(e: BaseException) -> bool:
    return type(e) is KeyboardInterrupt and e.args == (_REPORTED,)


def _silent_interrupt(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """``sys.excepthook`` that prints nothing for the reported Ctrl-C (its line is out) and hands every
    other uncaught exception to the default hook."""
    if not _reported(value):
        sys.__excepthook__(kind, value, tb)


def _interrupted(e: BaseException) -> bool:
    """Whether ``e`` is Ctrl-C or was caused by it: an extension module whose import Ctrl-C cut short raises
    ImportError (pybind11: "initialization failed") from the KeyboardInterrupt, which a missing-package check
    would otherwise report as a missing package."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _reporting_interrupts(command: Callable[[], int]) -> int:
    """``command()``, its stdout flushed (a closed pipe shows here, not at interpreter exit); Ctrl-C, however
    it surfaces, becomes its line on stderr and a KeyboardInterrupt that says it was reported."""
    try:
        status = command()
        sys.stdout.flush()
        return status
    except BaseException as e:
        if _reported(e) or not _interrupted(e):  # reported: by an inner report_errors (trainer commands)
            raise
        print("h2h: interrupted; finished outputs are kept, re-run (train: with --resume) to resume",
              file=sys.stderr)
        sys.excepthook = _silent_interrupt
        raise KeyboardInterrupt(_REPORTED) from None


def report_errors(command: Callable[[], int]) -> int:
    """Run ``command`` (returns an exit status); every failure ends as one ``h2h: ...`` line on stderr and
    one of the EXIT_* statuses above. Ctrl-C prints its line and raises KeyboardInterrupt again, uncaught by
    design (printing nothing more): the interpreter then finishes and ends the process by SIGINT. (Returning
    130 instead is not reliable: CPython 3.11 also ends by SIGINT when Ctrl-C lands inside an ``exec`` of a
    string, e.g. while ``dataclasses`` builds a class during a lazy import, even when the interrupt is caught.)"""
    try:
        return _reporting_interrupts(command)
    except H2HError as e:
        print(f"h2h: error: {e}", file=sys.stderr)
        return EXIT_INPUT
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
