"""A stand-in for the parts of Nuke's ``nuke`` module the plugin calls (Nuke itself cannot run here).

It records what the plugin does (menus, Groups, knobs, Read settings, progress) so tests can check
``plugin/nuke/h2h_nuke/host.py`` end to end with the real engine behind it.
"""
from __future__ import annotations

import re
import types
import weakref
from pathlib import Path
from typing import Any

import numpy as np


class Knob:
    def __init__(self, name: str, label: str = "", value: Any = None) -> None:
        self._name, self.label, self._value = name, label, value
        self.tooltip, self.range, self.visible, self.executed = "", None, True, 0
        self.values = list(value) if isinstance(value, list) else []
        if self.values:
            self._value = self.values[0]

    def name(self) -> str:
        return self._name

    def value(self) -> Any:
        return self._value

    def setValue(self, v: Any) -> None:  # noqa: N802 - Nuke's spelling
        self._value = v

    def setTooltip(self, t: str) -> None:  # noqa: N802
        self.tooltip = t

    def setRange(self, a: float, b: float) -> None:  # noqa: N802
        self.range = (a, b)

    def setVisible(self, v: bool) -> None:  # noqa: N802
        self.visible = v

    def execute(self) -> None:
        self.executed += 1

    def evaluate(self) -> str:
        """Nuke's substitutions: TCL ``[value NODE.KNOB]`` / ``[file dirname|tail|rootname X]`` (innermost
        first), then frame tokens (``####``, ``%04d``) -> the current frame."""
        text, inner = str(self._value), re.compile(r"\[([^\[\]]*)\]")
        while inner.search(text):
            text = inner.sub(lambda m: _tcl(m.group(1).split()), text)
        return re.sub(r"%0?\d*d|#+", lambda m: f"{STATE.frame:0{len(m.group(0))}d}" if m.group(0)[0] == "#"
                      else m.group(0) % STATE.frame, text)


def _tcl(words: list[str]) -> str:
    if words[0] == "value":
        node, _, knob = words[1].rpartition(".")
        target = STATE.root if node == "root" else STATE.root.children[node]
        return str(target[knob].value() if knob != "name" else target.name())
    if words[0] == "file":
        p = Path(words[2])
        return {"dirname": str(p.parent), "tail": p.name, "rootname": str(p.with_suffix(""))}[words[1]]
    raise NotImplementedError(f"the stand-in evaluates [value ...] and [file ...] only, not {words}")


def _knob_class(cls_name: str) -> type:
    return type(cls_name, (Knob,), {})


class Format:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h

    def width(self) -> int:
        return self.w

    def height(self) -> int:
        return self.h


class Node:
    def __init__(self, cls: str, name: str = "") -> None:
        self.cls, self._name, self.knobs_, self.inputs_ = cls, name, {}, []
        self.children: dict[str, Node] = {}
        own = {"Read": ("file", "proxy", "first", "last", "origfirst", "origlast", "on_error", "reload", "frame",
                        "colorspace"),
               "Write": ("file", "file_type", "create_directories"), "Grade": ("multiply",)}
        for k in own.get(cls, ()):
            self.knobs_[k] = Knob(k, value="" if k == "frame" else None)

    def __getitem__(self, k: str) -> Knob:
        return self.knobs_[k]

    def addKnob(self, k: Knob) -> None:  # noqa: N802
        self.knobs_[k.name()] = k

    def knobs(self) -> dict[str, Knob]:
        return dict(self.knobs_)

    def name(self) -> str:
        return self._name

    def setName(self, n: str) -> None:  # noqa: N802
        self._name = n

    def Class(self) -> str:  # noqa: N802
        return self.cls

    def input(self, i: int) -> "Node | None":
        return self.inputs_[i] if i < len(self.inputs_) else None

    def __enter__(self) -> "Node":
        STATE.context.append(self)
        return self

    def __exit__(self, *a: Any) -> None:
        STATE.context.pop()


class ProgressTask:
    """Nuke shows the progress bar while the task object lives; ``STATE.tasks`` keeps what it showed
    (``released``: the object is gone). ``STATE.cancel`` is the bar's cancel button."""

    def __init__(self, title: str) -> None:
        self.record = types.SimpleNamespace(title=title, progress=[], messages=[], released=False)
        STATE.tasks.append(self.record)
        weakref.finalize(self, setattr, self.record, "released", True)

    def setMessage(self, m: str) -> None:  # noqa: N802
        self.record.messages.append(m)

    def setProgress(self, p: int) -> None:  # noqa: N802
        self.record.progress.append(p)

    def isCancelled(self) -> bool:  # noqa: N802
        return STATE.cancel


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _pixels(node: Node, frame: int) -> np.ndarray:
    """(H, W, 3) float32 linear pixels of ``node`` at ``frame``: what Nuke computes for a Read (sRGB movie
    frames, linearised) and a Grade (its multiply) over it."""  # noqa: D401
    from h2h_engine.io import open_frames

    if node.Class() == "Read":  # a movie; ``frame``: an offset (frame f shows the movie's f - offset)
        f = frame - int(node["frame"].value() or 0)
        _, rgb = next(iter(open_frames(node["file"].evaluate(), (f, f))))
        return _srgb_to_linear(rgb.astype(np.float32) / 255.0).astype(np.float32)
    if node.Class() == "Grade":
        return _pixels(node.input(0), frame) * float(node["multiply"].value())
    raise NotImplementedError(f"the stand-in renders Read and Grade only, not {node.Class()}")


def execute(write: Node, first: int, last: int) -> None:
    """``nuke.execute`` of a Write: renders its input to ``file`` (EXR, half) for frames first..last."""
    from h2h_engine.io import write_image

    STATE.executed.append((write["file"].value(), first, last))
    for f in range(first, last + 1):
        path = Path(re.sub(r"#+", lambda m: f"{f:0{len(m.group(0))}d}", write["file"].value()))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, _pixels(write.input(0), f), dtype="half")


class Menu:
    def __init__(self, name: str) -> None:
        self.name, self.items, self.menus = name, [], {}

    def addMenu(self, name: str) -> "Menu":  # noqa: N802
        return self.menus.setdefault(name, Menu(name))

    def addCommand(self, label: str, script: str) -> None:  # noqa: N802
        self.items.append((label, script))


def make_module(first: int, last: int, width: int, height: int, script: str = "", proxy: bool = False,
                proxy_scale: float = 0.5) -> types.ModuleType:
    """A fresh ``nuke`` module whose root has this frame range, format and proxy settings."""
    global STATE
    STATE = types.SimpleNamespace(context=[], tasks=[], menus={}, messages=[], created=[], executed=[],
                                  deleted=[], frame=first, cancel=False, opened=[])
    m = types.ModuleType("nuke")
    for cls in ("Int_Knob", "Double_Knob", "Boolean_Knob", "String_Knob", "Enumeration_Knob", "File_Knob",
                "Multiline_Eval_String_Knob", "Tab_Knob", "Text_Knob", "PyScript_Knob"):
        setattr(m, cls, _knob_class(cls))
    root = Node("Root", script or "Root")
    for k, v in (("first_frame", first), ("last_frame", last), ("proxy", proxy), ("proxy_type", "scale"),
                 ("proxy_scale", proxy_scale)):
        root.addKnob(Knob(k, value=v))
    root.format = lambda: Format(width, height)
    STATE.root = root

    def create(cls: str, inpanel: bool = True) -> Node:
        n = Node(cls, f"{cls}1")
        STATE.created.append(n)
        return n

    def in_context(cls: str) -> Any:
        def make(name: str = "", inputs: list | None = None) -> Node:
            n = Node(cls, name or cls)
            n.inputs_ = list(inputs or [])
            STATE.context[-1].children[n.name()] = n
            return n
        return make

    m.STATE = STATE
    m.root = lambda: root
    m.menu = lambda name: STATE.menus.setdefault(name, Menu(name))
    m.createNode = create
    m.nodes = types.SimpleNamespace(**{c: in_context(c) for c in ("Input", "Read", "Output", "Write", "Grade")})
    def to_node(name: str) -> Node | None:
        here = (STATE.context[-1] if STATE.context else root).children
        return here.get(name) or next((n for n in STATE.created if n.name() == name and not STATE.context), None)
    m.toNode = to_node
    m.scriptOpen = STATE.opened.append  # a .nk cannot be parsed here: tests build the script's nodes themselves
    m.frame = lambda: STATE.frame
    m.execute = execute

    def delete(node: Node) -> None:
        STATE.deleted.append(node.name())
        for parent in [root, *STATE.created]:
            parent.children.pop(node.name(), None)
    m.delete = delete
    m.ProgressTask = ProgressTask
    m.executeInMainThread = lambda f, args=(): f(*args)
    m.message = STATE.messages.append
    return m


STATE = types.SimpleNamespace()
