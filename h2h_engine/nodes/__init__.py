"""The node registry: one NodeSpec per node, shared by the CLI, the Python graph and the host plugins."""
from __future__ import annotations

from .spec import Knob, NodeSpec, Port

SPECS: dict[str, NodeSpec] = {}


def register(spec: NodeSpec) -> NodeSpec:
    """Add a spec to the registry (called once by each node module)."""
    if spec.name in SPECS:
        raise ValueError(f"node {spec.name} registered twice")
    SPECS[spec.name] = spec
    return spec


def get_spec(name: str) -> NodeSpec:
    """A node's spec by name (``track``) or CLI name (``render-nmfc``)."""
    key = name.replace("-", "_")
    if key not in SPECS:
        raise KeyError(f"no node {name!r}; nodes: {', '.join(sorted(SPECS))}")
    return SPECS[key]


# Node modules register themselves on import; keep this list in pipeline order.
from . import track  # noqa: E402,F401
from . import retarget  # noqa: E402,F401
from . import render_nmfc  # noqa: E402,F401
from . import synthesize  # noqa: E402,F401
from . import reenact  # noqa: E402,F401

__all__ = ["Knob", "NodeSpec", "Port", "SPECS", "get_spec", "register"]
