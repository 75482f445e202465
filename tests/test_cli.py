"""The generated command line: every node's --help renders (spec help texts may hold %04d patterns)."""
import pytest

from h2h_engine.cli import main
from h2h_engine.nodes import SPECS


@pytest.mark.parametrize("node", sorted(s.cli_name for s in SPECS.values()))
def test_every_node_help_renders(node, capsys):
    with pytest.raises(SystemExit) as e:
        main([node, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: h2h {node}" in out
    for knob in SPECS[node.replace("-", "_")].knobs:
        assert knob.flag in out


def test_bad_knob_value_is_one_line_error(capsys, tmp_path):
    assert main(["track", str(tmp_path / "x.mp4"), "-o", str(tmp_path / "x.h2h.npz"), "--frames", "9-3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("h2h: error:") and "ends before it starts" in err and "\n" not in err
