"""A stand-in for the parts of Nuke's ``nuke`` module the plugin calls (Nuke itself cannot run here).

It records what the plugin does (menus, Groups, knobs, Read settings, progress) so tests can check
``plugin/nuke/h2h_nuke/host.py`` end to end with the real engine behind it.
"""
from __future__ import annotations

import types
from typing import Any


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
        read_knobs = ("file", "proxy", "first", "last", "origfirst", "origlast", "on_error", "reload", "colorspace")
        for k in read_knobs if cls == "Read" else ():
            self.knobs_[k] = Knob(k)

    def __getitem__(self, k: str) -> Knob:
        return self.knobs_[k]

    def addKnob(self, k: Knob) -> None:  # noqa: N802
        self.knobs_[k.name()] = k

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
    def __init__(self, title: str) -> None:
        self.title, self.progress, self.messages = title, [], []
        STATE.tasks.append(self)

    def setMessage(self, m: str) -> None:  # noqa: N802
        self.messages.append(m)

    def setProgress(self, p: int) -> None:  # noqa: N802
        self.progress.append(p)

    def isCancelled(self) -> bool:  # noqa: N802
        return False


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
    STATE = types.SimpleNamespace(context=[], tasks=[], menus={}, messages=[], created=[])
    m = types.ModuleType("nuke")
    for cls in ("Int_Knob", "Double_Knob", "Boolean_Knob", "String_Knob", "Enumeration_Knob", "File_Knob",
                "Tab_Knob", "Text_Knob", "PyScript_Knob"):
        setattr(m, cls, _knob_class(cls))
    root = Node("Root", script or "Root")
    for k, v in (("first_frame", first), ("last_frame", last), ("proxy", proxy), ("proxy_type", "scale"),
                 ("proxy_scale", proxy_scale)):
        root.addKnob(Knob(k, value=v))
    root.format = lambda: Format(width, height)

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
    m.nodes = types.SimpleNamespace(Input=in_context("Input"), Read=in_context("Read"), Output=in_context("Output"))
    m.toNode = lambda name: STATE.context[-1].children[name]
    m.ProgressTask = ProgressTask
    m.executeInMainThread = lambda f, args=(): f(*args)
    m.message = STATE.messages.append
    return m


STATE = types.SimpleNamespace()
