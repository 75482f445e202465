"""The node registry: which modules define nodes, in pipeline order, and their specs by name.

Each node module exports one ``SPEC`` (a :class:`~.spec.NodeSpec`) and registers nothing itself; the registry
imports the modules of :data:`NODE_MODULES` in that order, so the order of :data:`SPECS` (and of the CLI's
sub-commands, the Nuke menu and ``h2h specs``) is the same whichever module a program imports first.
"""
from __future__ import annotations

import importlib

from .spec import NodeSpec

NODE_MODULES = ("track", "retarget", "render_nmfc", "train", "synthesize", "reenact")  # pipeline order
SPECS: dict[str, NodeSpec] = {}


def load_specs() -> dict[str, NodeSpec]:
    """Fill :data:`SPECS` from every module of :data:`NODE_MODULES` (once) and return it."""
    if not SPECS:
        found: dict[str, NodeSpec] = {}
        for module in NODE_MODULES:
            spec = importlib.import_module(f"{__package__}.{module}").SPEC
            if spec.name in found:
                raise ValueError(f"node {spec.name} is defined twice (modules of NODE_MODULES: {NODE_MODULES})")
            found[spec.name] = spec
        SPECS.update(found)
    return SPECS


def get_spec(name: str) -> NodeSpec:
    """A node's spec by name (``track``) or CLI name (``render-nmfc``)."""
    specs = load_specs()
    key = name.replace("-", "_")
    if key not in specs:
        raise KeyError(f"no node {name!r}; nodes: {', '.join(sorted(specs))}")
    return specs[key]
