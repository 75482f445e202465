"""Everything the Nuke plugin decides, as plain Python importable without Nuke.

The engine's node specs, shipped with the plugin as ``specs.json`` (written from the engine by
``python -m h2h_engine.nodes.snapshot tests/node_specs.json --plugin plugin/nuke/h2h_nuke/specs.json --update``), are the only source of knobs: each spec becomes a Group
with one Nuke knob per input/output file and per spec knob, typed after the knob type; the command that
renders a node is built from the same specs. Nothing here imports or runs the engine until a render, so
Nuke's own Python only needs this folder; renders run an ``h2h`` executable (``$H2H_EXECUTABLE``, default
``h2h`` on ``$PATH``) in an environment cleaned of Nuke's Python settings.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

# Spec knob type -> Nuke knob class.
NUKE_KNOB_CLASS = {
    "int": "Int_Knob",
    "float": "Double_Knob",
    "bool": "Boolean_Knob",
    "str": "String_Knob",
    "choice": "Enumeration_Knob",
    "multichoice": "String_Knob",  # comma-separated subset; the tooltip lists the choices
    "frames": "String_Knob",       # "A-B"; empty = the script's frame range
    "size": "String_Knob",         # "WxH"; empty = the script's format
    "path": "File_Knob",
    "list": "Multiline_Eval_String_Knob",  # one item per line; each becomes one repetition of the flag
}

# Knobs every Nuke node (and Group) already has: a spec knob of one of these names cannot become a knob.
NUKE_RESERVED = frozenset({
    "name", "label", "help", "note_font", "note_font_size", "note_font_color", "selected", "hide_input",
    "cached", "disable", "dope_sheet", "bookmark", "tile_color", "gl_color", "postage_stamp",
    "postage_stamp_frame", "xpos", "ypos", "icon", "indicators", "lifetimeStart", "lifetimeEnd",
    "useLifetime", "onCreate", "onDestroy", "knobChanged", "updateUI", "autolabel", "panel", "process_mask",
    "file", "format", "proxy", "first", "last", "reload", "channels", "maskChannelInput", "mix",
})

ENGINE_PREFIX = "h2h_"  # the plugin's own knobs (render button, status...) carry this prefix


@dataclass(frozen=True)
class KnobDesc:
    """One Nuke knob of a Head2Head Group: ``nuke.<nuke_class>(name, label)`` plus its settings."""

    name: str
    nuke_class: str
    label: str
    tooltip: str
    default: Any = None                 # value set after creation ("" for empty strings/paths)
    values: tuple[str, ...] = ()        # Enumeration_Knob items
    range: tuple[float, float] | None = None  # Int/Double knob slider range (setRange)
    role: str = "knob"                  # "input", "output" or "knob" (which spec field it comes from)
    kind: str = ""                      # port kind or spec knob type


SPECS_FILE = Path(__file__).resolve().with_name("specs.json")
SPECS_SCHEMA = "H2HNodeSpecs.1"  # {"schema": ..., "nodes": {name: NodeSpec.to_json()}}

# Variables Nuke sets for its own Python; inherited, they would make the engine's Python import Nuke's.
NUKE_PYTHON_ENV = ("PYTHONPATH", "PYTHONHOME")


class EngineNotFound(RuntimeError):
    """The ``h2h`` executable cannot be started."""


def load_specs(path: str | Path = SPECS_FILE) -> dict[str, dict]:
    """Every node spec, from the specs JSON shipped with the plugin (never runs the engine)."""
    d = json.loads(Path(path).read_text())
    if not isinstance(d, dict) or d.get("schema") != SPECS_SCHEMA:
        got = d.get("schema") if isinstance(d, dict) else None
        raise ValueError(f"{path} is not a {SPECS_SCHEMA} file (got schema {got!r}): reinstall the plugin folder "
                         "from the engine it belongs to")
    return d["nodes"]


def engine_executable() -> str:
    """The ``h2h`` command the plugin runs (``$H2H_EXECUTABLE`` or ``h2h`` on ``$PATH``)."""
    return os.environ.get("H2H_EXECUTABLE", "h2h")


def engine_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The engine's environment: ``base`` (default: this process's) without Nuke's Python variables."""
    return {k: v for k, v in (os.environ if base is None else base).items() if k not in NUKE_PYTHON_ENV}


FRAME_TOKEN = re.compile(r"%0?\d*d|#+")  # a sequence path's frame number (Nuke also writes %04d for ####)


def _frame_text(token: str, frame: int) -> str:
    return f"{frame:0{len(token)}d}" if token.startswith("#") else token % frame


def keep_frame_tokens(raw: str, evaluated: str, frame: int) -> str:
    """A file knob's path with its TCL evaluated and its frame tokens kept.

    ``raw`` is the knob's text and ``evaluated`` its ``evaluate()`` at ``frame`` (TCL such as
    ``[value root.name]`` expanded, frame tokens replaced by ``frame``). ValueError when a frame token sits
    inside a TCL expression (the engine needs the sequence pattern, not one frame's file).
    """
    cut = raw.rfind("]") + 1  # tokens must follow the last TCL expression
    tail = raw[cut:]
    if FRAME_TOKEN.search(raw[:cut]):
        raise ValueError(f"{raw!r}: put the frame number (####) after the TCL expressions of the path")
    if not FRAME_TOKEN.search(tail):
        return evaluated
    done = FRAME_TOKEN.sub(lambda m: _frame_text(m.group(0), frame), tail)
    if not evaluated.endswith(done):
        raise ValueError(f"{raw!r} evaluates to {evaluated!r}: its frame number cannot be located")
    return evaluated[:len(evaluated) - len(done)] + tail


def _label(name: str) -> str:
    return name.replace("_", " ")


def knob_descs(spec: dict) -> list[KnobDesc]:
    """Nuke knobs for one node spec (the JSON of ``NodeSpec.to_json()``): inputs, outputs, then knobs."""
    out: list[KnobDesc] = []
    for port in spec["inputs"]:
        out.append(KnobDesc(port["name"], "File_Knob", _label(port["name"]),
                            port["help"] + (" (optional)" if port["optional"] else ""), "", role="input",
                            kind=port["kind"]))
    for port in spec["outputs"]:
        out.append(KnobDesc(port["name"], "File_Knob", _label(port["name"]), port["help"], "", role="output",
                            kind=port["kind"]))
    for k in spec["knobs"]:
        if k["name"] in NUKE_RESERVED or k["name"].startswith(ENGINE_PREFIX):
            raise ValueError(f"node {spec['name']}: knob {k['name']!r} clashes with a Nuke knob; rename it")
        t = k["type"]
        tip = k["help"]
        if t == "multichoice":
            tip += f" (comma-separated, from: {', '.join(k['choices'])})"
        elif t == "frames":
            tip += " (A-B; empty: the script's frame range)"
        elif t == "list":
            tip += " (one per line)"
        elif t == "size":
            tip += " (WxH; empty: the script's format, scaled in proxy mode)"
        default = k["default"]
        if t == "size" and isinstance(default, list):
            default = f"{default[0]}x{default[1]}"
        elif t == "frames" and isinstance(default, list):
            default = f"{default[0]}-{default[1]}"
        elif t == "list":
            default = "\n".join(default or ())
        elif default is None:
            default = "" if t in ("str", "path", "frames", "size", "multichoice") else None
        rng = (k["min"], k["max"]) if "min" in k and "max" in k else None
        # a choice whose engine default is unset gets an empty first entry (the command then leaves it out)
        values = (("",) if default is None else ()) + tuple(k.get("choices", ())) if t == "choice" else ()
        out.append(KnobDesc(k["name"], NUKE_KNOB_CLASS[t], _label(k["name"]), tip, default, values, rng, "knob", t))
    return out


@dataclass(frozen=True)
class HostContext:
    """What the script says about where and how to render: frame range, format, proxy mode, script path."""

    first: int
    last: int
    width: int
    height: int
    proxy: bool = False
    proxy_scale: float = 1.0
    script: str = ""  # path of the .nk script ("" when unsaved)


def default_output(ctx: HostContext, node_name: str, port: dict) -> str:
    """Where a node writes an output by default: ``<script dir>/h2h/<node>/<port><suffix>``."""
    base = Path(ctx.script).parent if ctx.script else Path(tempfile.gettempdir())
    return str(base / "h2h" / node_name / (port["name"] + port["suffix"]))


def render_range(spec: dict, values: dict[str, Any], ctx: HostContext) -> tuple[int, int]:
    """First and last frame a node renders: its frames knob, else the script's range."""
    for k in spec["knobs"]:
        if k["type"] == "frames" and values.get(k["name"]):
            a, _, b = str(values[k["name"]]).partition("-")
            return int(a), int(b or a)
    return ctx.first, ctx.last


def precomp_path(ctx: HostContext, node_name: str, port: dict) -> str:
    """Where an input that is not a bare Read is precomped: ``<script dir>/h2h/<node>/precomp/<port>.####.exr``."""
    base = Path(ctx.script).parent if ctx.script else Path(tempfile.gettempdir())
    return str(base / "h2h" / node_name / "precomp" / f"{port['name']}.####.exr")


def proxy_path(path: str) -> str:
    """The proxy-resolution twin of an output sequence: ``.../proxy/<name>``."""
    p = Path(path)
    return str(p.parent / "proxy" / p.name)


def frames_text(ctx: HostContext) -> str:
    return f"{ctx.first}-{ctx.last}"


def resolved_values(spec: dict, values: dict[str, Any], ctx: HostContext) -> dict[str, Any]:
    """Knob values as the engine gets them: empty frame ranges -> the script's range, empty sizes -> the
    script's format (times the proxy scale in proxy mode), frame outputs -> their proxy twin in proxy mode."""
    out = dict(values)
    for k in spec["knobs"]:
        v = out.get(k["name"], "")
        if k["type"] == "frames" and v in ("", None):
            out[k["name"]] = frames_text(ctx)
        elif k["type"] == "size" and v in ("", None):
            s = ctx.proxy_scale if ctx.proxy else 1.0
            out[k["name"]] = f"{max(1, round(ctx.width * s))}x{max(1, round(ctx.height * s))}"
    if ctx.proxy:
        for port in spec["outputs"]:
            if port["kind"] == "frames" and out.get(port["name"]):
                out[port["name"]] = proxy_path(out[port["name"]])
    return out


def build_command(spec: dict, values: dict[str, Any], ctx: HostContext, executable: str | None = None
                  ) -> list[str]:
    """The engine command that renders one node: ``h2h --progress json <node> <inputs> -o <out> --knobs``.

    ``values`` maps port and knob names to the Group's knob values (missing knobs: spec defaults).
    """
    v = resolved_values(spec, values, ctx)
    cmd = [executable or engine_executable(), "--progress", "json", spec["cli"]]
    for port in spec["inputs"]:
        value = v.get(port["name"], "")
        if value in ("", None):
            if port["optional"]:
                continue
            raise ValueError(f"{spec['name']}: set the {port['name']} file ({port['help']})")
        cmd += [str(value)] if port["flag"] is None else [port["flag"], str(value)]
    for port in spec["outputs"]:
        value = v.get(port["name"], "")
        if value in ("", None):
            if port["optional"]:
                continue
            raise ValueError(f"{spec['name']}: set the {port['name']} path ({port['help']})")
        cmd += ["-o" if port["flag"] in (None, "-o") else port["flag"], str(value)]
    for k in spec["knobs"]:
        flag = "--" + k["name"].replace("_", "-")
        value = v.get(k["name"], k["default"])
        if k["type"] == "bool":
            cmd.append(flag if value else "--no-" + flag[2:])
            continue
        if k["type"] == "list":  # a multi-line knob's text or a list: the flag once per item
            items = value.splitlines() if isinstance(value, str) else list(value or ())
            cmd += [a for item in items if str(item).strip() for a in (flag, str(item).strip())]
            continue
        if value is None or value == "" or (isinstance(value, list) and not value):
            continue
        if k["type"] == "size" and isinstance(value, (list, tuple)):
            value = f"{value[0]}x{value[1]}"
        elif k["type"] == "frames" and isinstance(value, (list, tuple)):
            value = f"{value[0]}-{value[1]}"
        elif k["type"] == "int":
            value = int(value)
        cmd += [flag, str(value)]
    return cmd


def read_colourspace(value: str) -> str:
    """A Read node's ``colorspace`` knob value as the engine's ``colourspace`` knob takes it (a name of the
    same OCIO config, which Nuke and the engine both take from ``$OCIO``): Nuke shows the config's default for
    the file type as ``default (NAME)``; an empty value is ``auto``."""
    value = (value or "").strip()
    if value.startswith("default (") and value.endswith(")"):
        value = value[len("default ("):-1]
    return value or "auto"


MOVIE_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".mpg", ".mxf", ".webm")


def read_first_frame(path: str, values: dict[str, Any], first: Any) -> dict[str, Any]:
    """A movie Read's frame numbering for the engine: Nuke numbers a movie's frames from the Read's ``first``
    (1 by default), the engine from its ``first_frame`` knob (default 0); a Group whose knob is still 0 takes
    the Read's, so ``--frames`` and the outputs use the numbers the artist sees. Sequences keep their own."""
    if "first_frame" not in values or values["first_frame"] or not path.lower().endswith(MOVIE_SUFFIXES):
        return values
    return {**values, "first_frame": int(first or 1)}


def nuke_sequence_path(path: str) -> str:
    """An engine sequence path as a Read node wants it (``####`` stays, ``%04d`` stays, ``$F4`` -> ####)."""
    import re  # noqa: PLC0415

    return re.sub(r"\$F(\d*)", lambda m: "#" * max(1, int(m.group(1) or 1)), path)


def parse_progress(line: str) -> tuple[int, int, str] | None:
    """One ``--progress json`` stderr line -> ``(done, total, what)``; None for other lines."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        d = json.loads(line)
        return int(d["progress"]), int(d["total"]), str(d.get("what", ""))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Job:
    """An engine process rendering one node; progress comes from its stderr JSON lines.

    ``on_progress(done, total, what)`` is called from a reader thread; ``on_done(rc, message)`` once at the
    end, with the engine's one-line error message when it failed. ``cancelled()`` (the progress bar's
    cancel button) is polled every ``poll_s`` seconds while the engine runs, progress lines or not.
    """

    command: list[str]
    on_progress: Callable[[int, int, str], None] = lambda d, t, w: None
    on_done: Callable[[int, str], None] = lambda rc, msg: None
    env: dict[str, str] | None = None  # the engine's environment (default: engine_env())
    cancelled: Callable[[], bool] = lambda: False
    poll_s: float = 0.2
    process: subprocess.Popen | None = field(default=None, repr=False)
    errors: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def start(self) -> "Job":
        """Start the engine; EngineNotFound (one line) when the executable cannot be run."""
        try:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True, bufsize=1,
                                            env=engine_env() if self.env is None else self.env)
        except OSError as e:
            raise EngineNotFound(f"Head2Head engine {self.command[0]!r} cannot be run ({e.strerror}): put h2h on "
                                 "PATH or set H2H_EXECUTABLE to its full path") from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        threading.Thread(target=self._poll_cancel, daemon=True).start()
        return self

    def _poll_cancel(self) -> None:
        while not self._stop.wait(self.poll_s):
            if self.cancelled():
                self.cancel()
                return

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            p = parse_progress(line)
            if p is not None:
                self.on_progress(*p)
            elif line.strip():
                self.errors.append(line.strip())
        rc = self.process.wait()
        self._stop.set()
        self.on_done(rc, self.errors[-1] if rc and self.errors else "")

    def cancel(self) -> None:
        """Stop the engine; frames it finished stay on disk (a re-render resumes)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the engine and for ``on_done``; returns its exit status."""
        assert self.process is not None and self._reader is not None
        rc = self.process.wait(timeout)
        self._reader.join(timeout)
        return rc

    def __str__(self) -> str:
        return " ".join(shlex.quote(c) for c in self.command)
