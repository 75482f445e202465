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


def test_train_command_comes_from_its_spec():
    """h2h train is generated like every node: repeatable --set (a list knob), --resume/--no-resume, and the
    trainer's old --no-progress spelling as the global --progress none."""
    from h2h_engine.cli import build_parser, hoist_global_options, node_argv

    front, rest = hoist_global_options(["train", "--target", "t.mp4", "--track", "t.h2h.npz", "-o", "run",
                                        "--set", "epochs=2", "--no-progress", "--set", "model.ngf=8", "--resume"])
    args = build_parser().parse_args([*front, *rest])
    assert args.progress == "none" and args._spec is SPECS["train"]
    values = {k: v for k, v in vars(args).items() if k in {"target", "track", "output", "set", "resume"}}
    assert SPECS["train"].validate(values)["set"] == ("epochs=2", "model.ngf=8")
    assert node_argv(SPECS["train"], values)[-5:] == ["--set", "epochs=2", "--set", "model.ngf=8", "--resume"]
