"""Node specs: each node's inputs, outputs and knobs declared once.

The CLI (``h2h_engine.cli``), the Python graph, the ffmpeg filter and the Nuke plugin are generated from
or validated against these specs, so no knob is defined twice.
"""
from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ConfigError
from ..io.frames import MAX_SIDE, parse_frame_range
from ..io.outputs import claim_output

KNOB_TYPES = ("int", "float", "bool", "str", "choice", "multichoice", "frames", "size", "path", "list")


@dataclass(frozen=True)
class Knob:
    """One parameter of a node.

    ``type`` is one of KNOB_TYPES; ``frames`` is an inclusive ``A-B`` frame range, ``size`` is ``WxH``,
    ``multichoice`` a comma-separated subset of ``choices``, ``list`` strings given one by one (the CLI flag
    repeated: ``--set a=1 --set b=2``; one per line in a string). ``minimum``/``maximum`` bound numbers. ``keyed`` False: the value
    decides how a node runs, not what its outputs hold (``force``, ``resume``), so the Python graph leaves it
    out of the node's cache key.
    """

    name: str
    type: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    keyed: bool = True

    def __post_init__(self) -> None:
        if self.type not in KNOB_TYPES:
            raise ValueError(f"knob {self.name}: type {self.type!r} not in {KNOB_TYPES}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, value: Any) -> Any:
        """Validate ``value`` (a Python value or its CLI string) and return it in canonical form."""
        if value is None:
            return None
        t, name = self.type, self.name
        try:
            if t == "int":
                v = int(value)
            elif t == "float":
                v = float(value)
                if not math.isfinite(v):
                    raise ConfigError(f"--{name} must be a finite number; got {value!r}")
            elif t == "bool":
                v = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
                return v
            elif t in ("str", "path"):
                return str(value)
            elif t == "list":  # a string holds one item per line (a host's multi-line text field)
                items = value.splitlines() if isinstance(value, str) else [str(v) for v in value]
                return tuple(item.strip() for item in items if item.strip())
            elif t == "choice":
                v = str(value)
                if v not in self.choices:
                    raise ConfigError(f"--{name} must be one of {', '.join(self.choices)}; got {v!r}")
                return v
            elif t == "multichoice":
                items = [s.strip() for s in (value.split(",") if isinstance(value, str) else value) if s.strip()]
                bad = [s for s in items if s not in self.choices]
                if bad or not items:
                    raise ConfigError(f"--{name} takes a comma-separated subset of {','.join(self.choices)}; "
                                      f"got {value!r}")
                return ",".join(items)
            elif t == "frames":
                return parse_frame_range(value) if isinstance(value, str) else tuple(value)
            elif t == "size":
                if isinstance(value, str):
                    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
                    if m is None:
                        raise ConfigError(f"--{name} must be WxH (e.g. 512x512); got {value!r}")
                    value = (int(m.group(1)), int(m.group(2)))
                w, h = (int(x) for x in value)
                if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
                    raise ConfigError(f"--{name} must be a positive size up to {MAX_SIDE}x{MAX_SIDE} (the "
                                      f"engine's limit); got {w}x{h}")
                return (w, h)
        except (TypeError, ValueError):
            raise ConfigError(f"--{name} expects {t}; got {value!r}") from None
        if self.minimum is not None and v < self.minimum or self.maximum is not None and v > self.maximum:
            raise ConfigError(f"--{name} must be in [{self.minimum}, {self.maximum}]; got {v}")
        return v

    def to_json(self) -> dict:
        d = {"name": self.name, "type": self.type, "default": self.default, "help": self.help}
        if self.minimum is not None:
            d["min"] = self.minimum
        if self.maximum is not None:
            d["max"] = self.maximum
        if self.choices:
            d["choices"] = list(self.choices)
        if isinstance(d["default"], tuple):
            d["default"] = list(d["default"])
        return d


# Default file suffix per port kind: where the Python graph caches outputs and where host plugins write.
PORT_SUFFIX = {"frames": ".####.exr", "track": ".h2h.npz", "checkpoint": ".pt", "run": ""}


@dataclass(frozen=True)
class Port:
    """An input or output file of a node. ``kind`` says what it holds (``frames``: a movie or image
    sequence; ``track``; ``checkpoint``; ``run``: a training run folder). ``flag`` None = positional."""

    name: str
    kind: str
    help: str
    flag: str | None = None
    optional: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "help": self.help, "flag": self.flag,
                "optional": self.optional, "suffix": PORT_SUFFIX.get(self.kind, "")}


@dataclass(frozen=True)
class NodeSpec:
    """A node: what it reads, what it writes, its knobs, and the function that runs it.

    ``run(**inputs, **outputs, **knobs, progress=callable)``; ``progress(done, total, what)``.
    """

    name: str
    help: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    knobs: tuple[Knob, ...]
    run: Callable[..., Any] = field(compare=False)

    @property
    def cli_name(self) -> str:
        return self.name.replace("_", "-")

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise KeyError(f"node {self.name} has no knob {name!r}")

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults, check every knob, reject unknown names; returns the full knob dict."""
        ports = {p.name for p in self.inputs + self.outputs}
        unknown = set(values) - ports - {k.name for k in self.knobs}
        if unknown:
            raise ConfigError(f"node {self.name} has no knob(s) {', '.join(sorted(unknown))}; known: "
                              f"{', '.join(k.name for k in self.knobs)}")
        out = {k.name: k.parse(values.get(k.name, k.default)) for k in self.knobs}
        for p in self.inputs + self.outputs:
            if p.name in values:
                out[p.name] = values[p.name]
            elif not p.optional:
                raise ConfigError(f"node {self.name} needs {p.name} ({p.help})")
        return out

    def __call__(self, progress: Callable[[int, int, str], None] | None = None, **values: Any) -> Any:
        """Run the node from Python with validated knobs, each output file claimed first
        (:func:`~h2h_engine.io.outputs.claim_output`: never an input, locked, kept unless ``force``); a run
        folder (kind ``run``) is the node's own to claim (the trainer locks ``RUN/checkpoint.pt``)."""
        checked = self.validate(values)
        inputs = [str(checked[p.name]) for p in self.inputs if checked.get(p.name) is not None]
        with contextlib.ExitStack() as claims:
            for port in self.outputs:
                if checked.get(port.name) is not None and port.kind != "run":
                    claims.enter_context(claim_output(str(checked[port.name]), inputs, bool(checked.get("force"))))
            return self.run(**checked, progress=progress or _no_progress)

    def to_json(self) -> dict:
        return {"name": self.name, "cli": self.cli_name, "help": self.help,
                "inputs": [p.to_json() for p in self.inputs], "outputs": [p.to_json() for p in self.outputs],
                "knobs": [k.to_json() for k in self.knobs]}


def _no_progress(done: int, total: int, what: str = "") -> None:
    return None


def stderr_json_progress(done: int, total: int, what: str = "") -> None:
    """Progress as JSON lines on stderr (what the Nuke plugin reads from the engine process)."""
    sys.stderr.write(json.dumps({"progress": done, "total": total, "what": what}) + "\n")
    sys.stderr.flush()


def stdout_plain_progress(done: int, total: int, what: str = "") -> None:
    """Progress as ``PROGRESS: 42%`` lines on stdout, one per step (the line Deadline's and OpenCue's
    progress handlers parse); nothing while the total is unknown (``total`` 0: a stream)."""
    if total > 0:
        sys.stdout.write(f"PROGRESS: {min(100, 100 * done // total)}%\n")
        sys.stdout.flush()


PROGRESS_LINES: dict[str, Callable[[int, int, str], None]] = {"json": stderr_json_progress,
                                                               "plain": stdout_plain_progress}
