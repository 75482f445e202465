"""Every node spec must match the snapshot in tests/node_specs.json (saved Nuke scripts and farm jobs use it)."""
import json

from h2h_engine.nodes import SPECS
from h2h_engine.nodes import snapshot
from h2h_engine.nodes.spec import KNOB_TYPES


def test_specs_match_snapshot():
    diffs = snapshot.differences(snapshot.load(), snapshot.current())
    assert not diffs, ("node specs changed; if on purpose run `python -m h2h_engine.nodes.snapshot --update`:\n"
                       + "\n".join(diffs))


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
