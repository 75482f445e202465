"""Snapshot of every node spec, so a saved Nuke script or farm job never breaks silently.

A snapshot file holds ``{node: spec.to_json()}`` for every registered node. The repository keeps one in
``tests/node_specs.json``, and ``tests/test_node_specs.py`` fails when a spec changes without it being
regenerated on purpose (the snapshot's path is always given; the package never reads the checkout)::

    python -m h2h_engine.nodes.snapshot tests/node_specs.json --plugin plugin/nuke/h2h_nuke/specs.json
        # list the differences (and a stale plugin file), exit 1 if any
    python -m h2h_engine.nodes.snapshot tests/node_specs.json --plugin plugin/nuke/h2h_nuke/specs.json --update
        # accept the current specs (review the differences first)

``--plugin`` names the specs JSON the Nuke plugin ships (``{"schema": "H2HNodeSpecs.1", "nodes": ...}``): the
plugin builds its menu and Groups from it without running the engine; ``--update`` rewrites it too.

Removing or renaming a knob, changing its type or narrowing its choices breaks saved scripts; those
changes are reported as ``BREAKING``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_path
from .registry import load_specs

PLUGIN_SCHEMA = "H2HNodeSpecs.1"


def current() -> dict[str, Any]:
    """``{node name: spec JSON}`` of every registered node, in registration order."""
    return {name: spec.to_json() for name, spec in load_specs().items()}


def plugin_specs() -> dict[str, Any]:
    """What the plugin's specs JSON must hold: the current specs under a schema tag."""
    return {"schema": PLUGIN_SCHEMA, "nodes": current()}


def _write_json(path: Path, d: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(d, indent=1, sort_keys=False) + "\n")


def load(path: Path) -> dict[str, Any]:
    """The stored snapshot (empty when the file does not exist yet)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two snapshots; breaking ones start with ``BREAKING``."""
    out: list[str] = []
    for name in old.keys() - new.keys():
        out.append(f"BREAKING: node {name} was removed")
    for name in new.keys() - old.keys():
        out.append(f"added node {name}")
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        for group in ("inputs", "outputs", "knobs"):
            olds = {d["name"]: d for d in a[group]}
            news = {d["name"]: d for d in b[group]}
            for k in olds.keys() - news.keys():
                out.append(f"BREAKING: {name}: {group[:-1]} {k} was removed or renamed")
            for k in news.keys() - olds.keys():
                optional = group == "knobs" or news[k].get("optional")
                out.append(f"{'added' if optional else 'BREAKING: added required'} {name}: {group[:-1]} {k}")
            for k in sorted(olds.keys() & news.keys()):
                o, n = olds[k], news[k]
                if o.get("type", o.get("kind")) != n.get("type", n.get("kind")):
                    out.append(f"BREAKING: {name}: {k} changed type {o.get('type', o.get('kind'))} -> "
                               f"{n.get('type', n.get('kind'))}")
                if set(o.get("choices", ())) - set(n.get("choices", ())):
                    out.append(f"BREAKING: {name}: {k} lost choices "
                               f"{sorted(set(o['choices']) - set(n.get('choices', ())))}")
                for field in sorted((o.keys() | n.keys()) - {"name", "type", "kind", "choices"}):
                    if o.get(field) != n.get(field):
                        out.append(f"changed {name}: {k}.{field} {o.get(field)!r} -> {n.get(field)!r}")
        for field in ("cli", "help"):
            if a.get(field) != b.get(field):
                out.append(f"changed {name}: {field}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m h2h_engine.nodes.snapshot", description=__doc__.splitlines()[0])
    p.add_argument("snapshot", type=Path, help="the snapshot JSON file (the repository's: tests/node_specs.json)")
    p.add_argument("--plugin", type=Path, help="the Nuke plugin's specs JSON (plugin/nuke/h2h_nuke/specs.json)")
    p.add_argument("--update", action="store_true", help="rewrite the snapshot (and --plugin) from the current specs")
    args = p.parse_args(argv)
    old, new = load(args.snapshot), current()
    diffs = differences(old, new)
    if args.update:
        _write_json(args.snapshot, new)
        if args.plugin:
            _write_json(args.plugin, plugin_specs())
        print(f"wrote {args.snapshot}{f' and {args.plugin}' if args.plugin else ''} ({len(new)} nodes)"
              + "".join(f"\n  {d}" for d in diffs))
        return 0
    if args.plugin and (not args.plugin.is_file() or json.loads(args.plugin.read_text()) != plugin_specs()):
        diffs.append(f"{args.plugin} is stale")
    for d in diffs:
        print(d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
