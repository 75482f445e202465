"""Every node spec must match the snapshot in tests/node_specs.json (saved Nuke scripts and farm jobs use it)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from h2h_engine.nodes import NODE_MODULES, SPECS
from h2h_engine.nodes import snapshot
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


@pytest.mark.parametrize("first", ["h2h_engine.nodes.reenact", "h2h_engine.nodes.synthesize",
                                   "h2h_engine.hosts.ffmpeg_filter"])
def test_registration_does_not_depend_on_import_order(first):
    """Whichever module a program imports first, the nodes come in the snapshot's (pipeline) order."""
    code = f"import {first}\nfrom h2h_engine.nodes import SPECS\nprint(','.join(SPECS))"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip().split(",") == list(snapshot.load(SNAPSHOT)) == list(SPECS)
    assert len(NODE_MODULES) == len(SPECS)


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
