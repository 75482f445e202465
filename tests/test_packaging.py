"""How the engine installs: the trainer's top-level ``training/`` folder becomes ``h2h_engine.training`` (no
top-level ``training`` module in site-packages), and every node but train runs where the trainer is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h2h_engine

REPO = Path(__file__).resolve().parents[1]
# Put first on PYTHONPATH (as sitecustomize.py), this makes the trainer unimportable: an engine without it.
NO_TRAINER = '''
import sys

class _NoTrainer:
    def find_spec(self, name, path=None, target=None):
        if name == "h2h_engine.training" or name.startswith("h2h_engine.training."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, _NoTrainer())
'''


def _python(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, timeout=600)


def test_a_build_puts_the_trainer_inside_the_engine(tmp_path):
    """What a wheel holds (setup.py's build_py: the pure-Python part of the wheel), imported from there."""
    lib = tmp_path / "lib"
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in lib.iterdir()) == ["h2h_engine"]  # no top-level training package
    trainer = lib / "h2h_engine" / "training"
    assert {"__init__.py", "train.py", "config.py", "cli.py"} <= {p.name for p in trainer.glob("*.py")}
    presets = sorted(p.stem for p in (trainer / "configs").glob("*.yaml"))
    assert presets == sorted(p.stem for p in (REPO / "training" / "configs").glob("*.yaml")) and "tiny" in presets
    native = next(Path(h2h_engine.__file__).parent.glob("_native*.so"))  # the built extension, as the wheel has
    shutil.copy(native, lib / "h2h_engine" / native.name)
    got = _python(f"""
        import sys
        sys.path.insert(0, {str(lib)!r})
        import h2h_engine.training.config as c
        assert c.__file__.startswith({str(lib)!r}), c.__file__
        print(c.load_config("tiny").model.size)
        """, tmp_path)
    assert got.returncode == 0 and got.stdout.split() == ["64"], got.stderr[-2000:]


def test_the_installed_engine_has_no_top_level_training_module(tmp_path):
    got = _python("""
        import importlib.util
        print(importlib.util.find_spec("training") is None, importlib.util.find_spec("h2h_engine.training").origin)
        """, tmp_path)  # outside the checkout: only what is installed
    assert got.returncode == 0, got.stderr[-2000:]
    absent, origin = got.stdout.split()
    assert absent == "True" and Path(origin).parts[-2:] == ("training", "__init__.py")  # editable: the checkout's


def test_every_node_but_train_runs_without_the_trainer(tmp_path, clip, checkpoint):
    """With h2h_engine.training unimportable: the CLI and every spec load, track, retarget, render-nmfc and
    synthesize run on a real clip, and h2h train and h2h eval fail in one line naming the trainer."""
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "sitecustomize.py").write_text(NO_TRAINER)
    video = clip("GRID_bbaf2n")
    got = _python(f"""
        import contextlib, io, sys
        from h2h_engine.cli import main
        from h2h_engine.nodes import SPECS
        assert "train" in SPECS and "h2h_engine.training" not in sys.modules
        def h2h(*args):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                status = main(["--progress", "none", *args])
            return status, err.getvalue().strip()
        assert h2h("track", {str(video)!r}, "-o", "t.h2h.npz", "--frames", "0-4") == (0, "")
        assert h2h("retarget", "--source", "t.h2h.npz", "--target", "t.h2h.npz", "-o", "r.h2h.npz") == (0, "")
        assert h2h("render-nmfc", "r.h2h.npz", "-o", "c.####.png", "--size", "64x64", "--what", "nmfc") == (0, "")
        assert h2h("synthesize", "--checkpoint", {str(checkpoint)!r}, "--track", "r.h2h.npz",
                   "-o", "s.####.png") == (0, "")
        for command in (["train", "--target", {str(video)!r}, "--track", "t.h2h.npz", "-o", "run"],
                        ["eval", "self-reenactment", "run"]):
            status, err = h2h(*command)
            assert status == 2 and len(err.splitlines()) == 1 and "needs the trainer" in err, (command, err)
        assert "h2h_engine.training" not in sys.modules
        print("ok")
        """, tmp_path, {"PYTHONPATH": str(tmp_path / "block")})
    assert got.returncode == 0 and got.stdout.strip() == "ok", got.stdout[-2000:] + got.stderr[-3000:]
    assert len(list(tmp_path.glob("s.*.png"))) == 5 and len(list(tmp_path.glob("c.*.png"))) == 5
