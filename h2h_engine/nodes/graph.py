"""Nodes chained in Python, with an on-disk cache keyed by content, so a re-run recomputes only what changed.

Example::

    from h2h_engine.nodes.graph import Graph

    g = Graph(".h2h_cache")
    src = g.add("track", input="source.mp4")
    tgt = g.add("track", input="target.mp4", frames="0-99")
    drv = g.add("retarget", source=src, target=tgt, mode="head")
    nmfc = g.add("render_nmfc", track=drv)
    g.run(nmfc)              # runs all four nodes
    nmfc.set(size="512x512")
    g.run(nmfc)              # runs render_nmfc only; the tracks and the retarget come from the cache
    print(nmfc.path())       # .h2h_cache/render_nmfc-<key>/output.####.exr

A node's cache key (:func:`~.cache.content_key`, the engine's one key scheme) hashes its name, the engine
version, its validated knob values (defaults filled; knobs with ``keyed=False``, such as ``force``, left
out) and its inputs: an upstream node's output by that node's key (so keys chain), a file by its content
(SHA-256, remembered per size+mtime in ``<cache>/hashes.json``), an image sequence or folder by each file's
name, size and mtime. Outputs not given explicitly go to ``<cache>/<node>-<key>/<port><suffix>``; a node
counts as done when its ``<node>-<key>.done.json`` marker exists and its outputs are on disk (a node whose
``force`` knob is on always runs). During :meth:`Graph.run` every track file is loaded once
(:func:`~h2h_engine.track.shared_loads`): the nodes that read one track share the first load.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from ..io.atomic import atomic_path
from ..io.frames import FramePattern, is_pattern
from ..track import shared_loads
from .cache import HASHES, Upstream, content_key, fingerprint
from .registry import get_spec
from .spec import PORT_SUFFIX, NodeSpec


@dataclass(frozen=True)
class Output:
    """One output port of a graph node, usable as another node's input."""

    node: "Node"
    port: str


@dataclass(eq=False)
class Node:
    """A node in a :class:`Graph`: a spec plus its input/knob values (paths, numbers or upstream outputs)."""

    graph: "Graph"
    spec: NodeSpec
    values: dict[str, Any] = field(default_factory=dict)

    def set(self, **values: Any) -> "Node":
        """Change knob or input values (checked now; takes effect at the next run)."""
        new = {**self.values, **values}
        self.spec.validate(_placeholders(self.spec, new))
        self.values = new
        return self

    def __getitem__(self, port: str) -> Output:
        if port not in {p.name for p in self.spec.outputs}:
            raise ConfigError(f"node {self.spec.name} has no output {port!r}; outputs: "
                              f"{', '.join(p.name for p in self.spec.outputs)}")
        return Output(self, port)

    def path(self, port: str | None = None) -> str:
        """Where an output is (or will be) written."""
        return self.graph.output_paths(self)[port or self.spec.outputs[0].name]

    def key(self) -> str:
        return self.graph.key(self)


def _placeholders(spec: NodeSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Values with upstream references replaced by a placeholder string, for validation before running."""
    out = {k: ("<upstream>" if isinstance(v, (Node, Output)) else v) for k, v in values.items()}
    for p in spec.outputs:  # outputs default to the cache
        out.setdefault(p.name, "<cache>")
    return out


class Graph:
    """A set of nodes whose results are cached on disk under ``cache_dir``.

    ``progress(done, total, what)`` receives every node's frame progress. After :meth:`run`, ``ran`` lists
    the nodes that were executed (the others came from the cache).
    """

    def __init__(self, cache_dir: str | Path = ".h2h_cache",
                 progress: Callable[[int, int, str], None] | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.progress = progress
        self.nodes: list[Node] = []
        self.ran: list[Node] = []
        self._hashes_path = self.cache_dir / "hashes.json"
        HASHES.read(self._hashes_path)

    def add(self, node: str, **values: Any) -> Node:
        """Add a node by spec name (``track``, ``render_nmfc``...); inputs may be paths or other nodes."""
        spec = get_spec(node)
        n = Node(self, spec)
        n.set(**values)
        self.nodes.append(n)
        return n

    # -- keys ---------------------------------------------------------------------------------------------
    def fingerprint(self, value: str | os.PathLike) -> str:
        """Content fingerprint of an input file, image sequence or folder (:func:`~.cache.fingerprint`)."""
        return fingerprint(value)

    def key(self, node: Node) -> str:
        """The node's cache key (see the module docstring)."""
        spec = node.spec
        knobs = spec.validate(_placeholders(spec, node.values))
        settings: dict[str, Any] = {"knobs": {k.name: knobs[k.name] for k in spec.knobs if k.keyed}}
        inputs: dict[str, Any] = {}
        for k in spec.knobs:  # a file named by a path knob counts by its content too
            if k.keyed and k.type == "path" and knobs[k.name] and Path(str(knobs[k.name])).exists():
                inputs[f"knob:{k.name}"] = knobs[k.name]
        for p in spec.inputs:
            v = node.values.get(p.name)
            if isinstance(v, Node):
                v = Output(v, v.spec.outputs[0].name)
            inputs[p.name] = Upstream(v.node.key(), v.port) if isinstance(v, Output) else v
        for p in spec.outputs:  # outputs the user placed explicitly are part of what the node does
            if node.values.get(p.name) is not None:
                settings[f"output:{p.name}"] = str(Path(node.values[p.name]).absolute())
        return content_key(spec.name, settings, inputs)

    def output_paths(self, node: Node) -> dict[str, str]:
        """Every output of ``node``: as given, or inside its cache folder."""
        folder = self.cache_dir / f"{node.spec.name}-{node.key()}"
        return {p.name: str(node.values.get(p.name) or folder / (p.name + PORT_SUFFIX.get(p.kind, "")))
                for p in node.spec.outputs}

    # -- running ------------------------------------------------------------------------------------------
    def _marker(self, node: Node) -> Path:
        return self.cache_dir / f"{node.spec.name}-{node.key()}.done.json"

    def is_cached(self, node: Node) -> bool:
        """True when the node's marker and all its outputs are on disk."""
        return self._marker(node).is_file() and all(
            _exists(path) for name, path in self.output_paths(node).items()
            if not next(p for p in node.spec.outputs if p.name == name).optional)

    def run(self, *targets: Node) -> dict[str, Any]:
        """Bring ``targets`` (default: every node) and their upstream nodes up to date.

        Returns the last target's result (``{"outputs": {port: path}, "result": what the node returned}``).
        """
        self.ran = []
        done: dict[int, dict[str, Any]] = {}
        result: dict[str, Any] = {}
        try:
            with shared_loads():
                for t in targets or tuple(self.nodes):
                    result = self._run(t, done, ())
        finally:
            HASHES.write(self._hashes_path)
        return result

    def _run(self, node: Node, done: dict[int, dict[str, Any]], stack: tuple[int, ...]) -> dict[str, Any]:
        if id(node) in done:
            return done[id(node)]
        if id(node) in stack:
            raise ConfigError(f"graph has a cycle through node {node.spec.name}")
        values = {}
        for k, v in node.values.items():
            if isinstance(v, Node):
                v = Output(v, v.spec.outputs[0].name)
            if isinstance(v, Output):
                up = self._run(v.node, done, stack + (id(node),))
                v = up["outputs"][v.port]
            values[k] = v
        outputs = self.output_paths(node)
        marker = self._marker(node)
        if self.is_cached(node) and not node.spec.validate(_placeholders(node.spec, node.values)).get("force"):
            record = {**json.loads(marker.read_text()), "outputs": outputs}  # where they are now (a moved cache)
        else:
            for name, path in outputs.items():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if name not in node.values and not is_pattern(path) and Path(path).is_file():
                    Path(path).unlink()  # the cache's own file of a run killed before its marker: stale
            value = node.spec(progress=self.progress, **{**values, **outputs})
            record = {"node": node.spec.name, "key": node.key(), "outputs": outputs,
                      "values": {k: str(v) for k, v in values.items()}, "result": value}
            with atomic_path(marker) as tmp:
                tmp.write_text(json.dumps(record, indent=1, default=str))
            self.ran.append(node)
        done[id(node)] = record
        return record


def _exists(path: str) -> bool:
    if is_pattern(path):
        return bool(FramePattern.parse(path).existing_frames())
    return Path(path).exists()

