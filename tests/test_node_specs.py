"""Every node spec must match the snapshot in tests/node_specs.json (saved Nuke scripts and farm jobs use it)."""
import json
import sys
from pathlib import Path

from h2h_engine import nodes
from h2h_engine.nodes import NODE_MODULES, SPECS, registry, snapshot
from h2h_engine.nodes.spec import KNOB_TYPES

SNAPSHOT = Path(__file__).with_name("node_specs.json")


def test_specs_match_snapshot():
    diffs = snapshot.differences(snapshot.load(SNAPSHOT), snapshot.current())
    assert not diffs, ("node specs changed; if on purpose run "
                       f"`python -m h2h_engine.nodes.snapshot {SNAPSHOT} --update`:\n" + "\n".join(diffs))


def test_specs_are_self_consistent():
    for name, spec in SPECS.items():
        names = [p.name for p in spec.inputs + spec.outputs] + [k.name for k in spec.knobs]
        assert len(names) == len(set(names)), f"{name}: a port and a knob share a name"
        for k in spec.knobs:
            assert k.type in KNOB_TYPES and k.help.strip(), f"{name}.{k.name} needs a type and help"
            # defaults must pass their own validation and survive JSON (saved scripts store them)
            assert k.parse(k.default) == k.parse(json.loads(json.dumps(k.to_json()))["default"])


def test_differences_flags_breaking_changes():
    old = {"n": {"cli": "n", "help": "h", "inputs": [], "outputs": [],
                 "knobs": [{"name": "a", "type": "int", "default": 1, "help": "x"},
                           {"name": "c", "type": "choice", "default": "p", "help": "x", "choices": ["p", "q"]}]}}
    new = json.loads(json.dumps(old))
    assert snapshot.differences(old, new) == []
    new["n"]["knobs"][0]["name"] = "b"
    new["n"]["knobs"][1]["choices"] = ["p"]
    diffs = snapshot.differences(old, new)
    assert any(d.startswith("BREAKING") and " a " in d for d in diffs)
    assert any("lost choices ['q']" in d for d in diffs)
    assert "added n: knob b" in diffs


def test_registration_does_not_depend_on_import_order(monkeypatch):
    """Node modules define a SPEC and import the specs they reuse; NODE_MODULES only sets the listing order,
    so loading them in any order (here reversed, each module executed afresh) gives the same specs."""
    for m in NODE_MODULES:  # restored afterwards: the package attribute and sys.modules entry of each module
        monkeypatch.setattr(nodes, m, getattr(nodes, m))
        monkeypatch.delitem(sys.modules, f"h2h_engine.nodes.{m}")
    monkeypatch.setattr(registry, "NODE_MODULES", tuple(reversed(NODE_MODULES)))
    monkeypatch.setattr(registry, "SPECS", {})
    fresh = registry.load_specs()
    assert list(fresh) == list(reversed(list(SPECS))) == list(reversed(list(snapshot.load(SNAPSHOT))))
    assert {n: s.to_json() for n, s in fresh.items()} == snapshot.load(SNAPSHOT)
    assert all(fresh[n] is not SPECS[n] for n in SPECS)  # really executed again, not the cached modules


def test_snapshot_cli_checks_and_updates_the_file_it_is_given(tmp_path, capsys):
    path = tmp_path / "specs.json"
    stale = snapshot.current()
    stale["track"]["knobs"] = [k for k in stale["track"]["knobs"] if k["name"] != "face"]
    path.write_text(json.dumps(stale))
    assert snapshot.main([str(path)]) == 1
    assert "BREAKING" not in capsys.readouterr().out  # an added knob is not breaking
    assert snapshot.main([str(path), "--update"]) == 0
    assert "added track: knob face" in capsys.readouterr().out
    assert snapshot.load(path) == snapshot.current() and snapshot.main([str(path)]) == 0
