"""The nodes: one NodeSpec per node, shared by the CLI, the Python graph and the host plugins
(:mod:`.registry` lists them in pipeline order)."""
from __future__ import annotations

from .registry import NODE_MODULES, SPECS, get_spec, load_specs
from .spec import Knob, NodeSpec, Port

load_specs()

__all__ = ["Knob", "NODE_MODULES", "NodeSpec", "Port", "SPECS", "get_spec", "load_specs"]
