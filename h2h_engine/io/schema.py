"""Versioned file schemas: every head2head file carries a tag ``"<Name>.<version>"`` (``"H2HTrack.1"``) that its
loader parses. An older version is brought up to date by upgrade functions registered per step (the
OpenTimelineIO pattern: ``Name`` version ``n`` -> ``n + 1``); a newer one is refused with a message that says
so, as is a tag of another kind of file.

A document is what the file holds as a dict: the JSON object of a sidecar or checkpoint, or for the ``.npz``
files the header with the arrays under ``"arrays"``.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ..errors import H2HError, InputError

Document = dict[str, Any]
Upgrade = Callable[[Document], Document]

_TAG = re.compile(r"([A-Za-z][A-Za-z0-9]*)\.([1-9][0-9]*)")
_UPGRADES: dict[tuple[str, int], Upgrade] = {}


def parse(tag: Any) -> tuple[str, int] | None:
    """``"H2HTrack.1"`` -> ``("H2HTrack", 1)``; None for anything that is not such a tag."""
    m = _TAG.fullmatch(tag) if isinstance(tag, str) else None
    return (m.group(1), int(m.group(2))) if m else None


def register_upgrade(name: str, from_version: int) -> Callable[[Upgrade], Upgrade]:
    """Decorator: ``fn(document) -> document`` turns a ``name.from_version`` document into
    ``name.(from_version + 1)`` (the caller sets the new tag)."""
    def add(fn: Upgrade) -> Upgrade:
        if (name, from_version) in _UPGRADES:
            raise ValueError(f"an upgrade of {name}.{from_version} is registered twice")
        _UPGRADES[(name, from_version)] = fn
        return fn

    return add


def upgrade(document: Document, current: str, what: str, error: type[H2HError] = InputError) -> Document:
    """``document`` brought to schema ``current`` (its ``"schema"`` tag parsed; older versions upgraded step by
    step, the tag updated); ``error`` names ``what`` when the tag is missing, of another kind, newer than
    ``current`` or has no upgrade path."""
    name, version = parse(current) or (None, 0)
    if name is None:
        raise ValueError(f"{current!r} is not a schema tag Name.N")
    found = parse(document.get("schema"))
    if found is None or found[0] != name:
        raise error(f"{what} has schema {document.get('schema')!r}; this engine reads {current}")
    if found[1] > version:
        raise error(f"{what} is {name}.{found[1]}, written by a newer head2head; this engine reads up to "
                    f"{current}: upgrade h2h-engine")
    for v in range(found[1], version):
        step = _UPGRADES.get((name, v))
        if step is None:
            raise error(f"{what} is {name}.{v} and this engine has no upgrade from it to {current}")
        document = {**step(document), "schema": f"{name}.{v + 1}"}
    return document
