"""Issue 14 C: every failure ends as one line and a non-zero exit, never a traceback (disk full, bad paths,
bad settings, huge sizes, Ctrl-C, a closed pipe, corrupt or crafted track files); global options anywhere."""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from h2h_engine import __version__
from h2h_engine.cli import main
from h2h_engine.nodes.spec import stderr_json_progress
from h2h_engine.training.config import dump_config, load_config

REPO = Path(__file__).resolve().parents[2]


def _file_size_limit(limit: int):
    """preexec_fn: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored), as a full disk fails them."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(h2h_process, one_line, fingerprint, shot, tmp_path):
    _, track = shot
    out = tmp_path / "r.h2h.npz"
    proc = h2h_process("--progress", "none", "retarget", "--source", track, "--target", track, "-o", out,
                       preexec=_file_size_limit(4096))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "File too large" in one_line(err)
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary
    proc = h2h_process("--progress", "none", "render-nmfc", track, "-o", tmp_path / "n.mp4", "--size", "64x64",
                       "--what", "nmfc", preexec=_file_size_limit(2048))  # a movie, streamed through PyAV
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "File too large" in one_line(err)
    assert list(tmp_path.iterdir()) == []
    # torch.save hides the OS error in a RuntimeError (a training checkpoint on a full disk)
    save = ("import sys, torch; from h2h_engine.errors import report_errors; from h2h_engine.io import atomic_path\n"
            "def save():\n    with atomic_path(sys.argv[1]) as tmp:\n        torch.save(torch.zeros(10000), tmp)\n"
            "sys.exit(report_errors(save))")
    ckpt = tmp_path / "checkpoint.pt"
    proc = subprocess.run([sys.executable, "-c", save, str(ckpt)], capture_output=True, text=True, timeout=120,
                          preexec_fn=_file_size_limit(4096), env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1 and "File too large" in one_line(proc.stderr)
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_and_settings_fail_before_any_work(h2h, one_line, fingerprint, shot, tmp_path):
    video, track = shot
    (tmp_path / "file").write_text("x")
    (tmp_path / "nan.yaml").write_text("smoothness: .nan\n")
    before = fingerprint(tmp_path)
    cases = [
        (("track", video, "-o", tmp_path / "file" / "t.h2h.npz"), "is not a folder"),
        (("track", video, "-o", tmp_path / "t.h2h.npz", "--face", "bogus"), "face must be 'largest'"),
        (("track", video, "-o", tmp_path / "t.h2h.npz", "--config", tmp_path / "nan.yaml"),
         "smoothness must be a finite number"),
        (("render-nmfc", track, "-o", tmp_path / "n.####.exr", "--size", "100000x100000"), "up to 8192x8192"),
        (("render-nmfc", track, "-o", tmp_path / "n.####.exr", "--margin", "nan"), "--margin must be a finite"),
        (("train", "--target", video, "--track", track, "-o", tmp_path / "run", "--set", "epochs=[1"),
         "not valid YAML"),
        (("train", "--target", video, "--track", track, "-o", tmp_path / "run", "--set", "lr=.nan"),
         "lr must be a finite number"),
    ]
    for args, message in cases:
        status, err = h2h(*args)
        assert status == 2 and message in one_line(err), args
    assert fingerprint(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["file", "nan.yaml"]


def test_resume_keeps_the_runs_own_config(h2h, one_line, fingerprint, shot, tmp_path):
    video, track = shot
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(load_config("tiny", overrides={"lambda_vgg": 0.0})))
    (run / "checkpoint.pt").write_bytes(b"a checkpoint cut short")
    before = fingerprint(run)
    base = ("train", "--target", video, "--track", track, "-o", run, "--resume")
    for extra, message in ((("--set", "model.ngf=32"), "--set model.ngf=32 differs from the run's config.yaml (16)"),
                           (("--preset", "paper"), "drop --preset/--config")):
        status, err = h2h(*base, *extra)
        assert status == 2 and message in one_line(err), extra
    assert fingerprint(run) == before
    # a resume with its own settings goes ahead (here to the corrupt checkpoint), clearing a killed save's temp
    (run / ".checkpoint.pt.k1ll3d_x.pt").write_bytes(b"half a checkpoint")
    status, err = h2h(*base, "--set", "log_every=1")
    assert status == 2 and "is corrupt" in one_line(err)
    assert not (run / ".checkpoint.pt.k1ll3d_x.pt").exists()
    assert {k: v for k, v in fingerprint(run).items() if k in before} == before  # config.yaml as it was


def test_ctrl_c_in_train_is_one_line(h2h_process, one_line, shot, tmp_path):
    video, track = shot
    run = tmp_path / "run"
    proc = h2h_process("train", "--target", video, "--track", track, "-o", run, "--set", "lambda_vgg=0",
                       "--set", "epochs=1000", "--progress", "none",
                       preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal starts it
    for _ in range(600):  # config.yaml comes before the data preparation, then training runs for long
        if (run / "config.yaml").exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT and "interrupted" in one_line(err), (proc.returncode, err[-2000:])
    assert not list(run.glob(".checkpoint.pt.*"))


_INTERRUPTED = {  # where Ctrl-C can land, as the body of a command
    "in Python code": "interrupt()",
    # CPython 3.11 ends a process by SIGINT when Ctrl-C lands in exec() of a string even if it is caught
    "in exec of a string (dataclasses building a class)": "exec('interrupt()', {'interrupt': interrupt})",
    # an extension module whose init Ctrl-C cuts short raises ImportError from it (pybind11), which a
    # missing-package check turns into MissingPackageError
    "in an extension module's import": (
        "try:\n        try:\n            interrupt()\n        except KeyboardInterrupt as k:\n"
        "            raise ImportError('initialization failed') from k\n    except ImportError:\n"
        "        raise MissingPackageError('colour conversion needs opencolorio') from None"),
}


@pytest.mark.parametrize("where", list(_INTERRUPTED))
def test_ctrl_c_ends_by_sigint_with_one_line_wherever_it_lands(one_line, where):
    script = ("import os, signal, sys, time\n"
              "from h2h_engine.errors import MissingPackageError, report_errors\n"
              "def interrupt():\n    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(30)\n"
              f"def command():\n    {_INTERRUPTED[where]}\n    return 0\n"
              "sys.exit(report_errors(command))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)},
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not an ignored SIGINT
    assert proc.returncode == -signal.SIGINT and "interrupted" in one_line(proc.stderr), (where, proc.stderr)


def test_a_closed_pipe_is_silent(h2h_process, shot):
    _, track = shot
    read, write = os.pipe()
    os.close(read)  # `| head` that has already exited
    proc = h2h_process("info", track, "--json", stdout=write)
    os.close(write)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and err == ""


def _crafted(path: Path, track: Path, member: str, data: bytes) -> Path:
    """A copy of ``track`` with one member's bytes replaced."""
    with zipfile.ZipFile(track) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, data if info.filename == member else src.read(info.filename))
    return path


def test_corrupt_and_crafted_track_files(h2h, one_line, fingerprint, shot, tmp_path):
    _, track = shot
    data = track.read_bytes()
    (tmp_path / "cut.h2h.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.h2h.npz").write_bytes(os.urandom(4096))
    huge = io.BytesIO()
    np.lib.format.write_array_header_1_0(huge, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 9, 68, 2)})
    _crafted(tmp_path / "huge.h2h.npz", track, "landmarks.npy", huge.getvalue() + b"\0" * 64)
    _crafted(tmp_path / "nohead.h2h.npz", track, "header.npy", _npy(json.dumps({"schema": "H2HTrack.1"}).encode()))
    before = fingerprint(tmp_path)
    for name, message in (("cut", "is not a head2head track file"), ("junk", "is not a head2head track file"),
                          ("huge", "declares (1000000000, 68, 2) float32"), ("nohead", "image_size must be")):
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        status, err = h2h("info", tmp_path / f"{name}.h2h.npz")
        assert status == 2 and message in one_line(err), name
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start < 200_000  # KiB: nothing huge allocated
    assert fingerprint(tmp_path) == before


def _npy(raw: bytes) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(raw, np.uint8))
    return buf.getvalue()


def test_global_options_before_or_after_any_command(h2h, one_line, shot, checkpoint, tmp_path, capsys):
    video, track = shot
    for args in (("info", track, "--progress", "none", "--json"), ("--json", "info", track)):
        capsys.readouterr()
        assert main(["--progress", "none", *map(str, args)]) == 0
        assert json.loads(capsys.readouterr().out)["frames"] == 6, args  # --json: one spelling, either place
    missing = tmp_path / "missing.h2h.npz"
    for args in (("train", "--target", video, "--track", missing, "-o", tmp_path / "r", "--progress", "json"),
                 ("--progress", "json", "train", "--target", video, "--track", missing, "-o", tmp_path / "r")):
        status, err = h2h(*args)
        assert status == 2 and "does not exist" in one_line(err), args

    capsys.readouterr()  # --json after a trainer command reaches the trainer (here: export-generator)
    assert main(["export-generator", str(checkpoint), "-o", str(tmp_path / "g.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": str(tmp_path / "g.pt"), "format": "torchscript",
                                                       "size": 64}


def test_version_and_progress_lines(h2h_process, shot, tmp_path, capsys):
    """``h2h --version``; ``--progress plain``: one ``PROGRESS: N%`` line per step on stdout (what Deadline
    and OpenCue parse), rising to 100; ``--progress json``: JSON lines on stderr, even for odd stage names."""
    proc = h2h_process("--version", stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == f"h2h {__version__}"
    _, track = shot
    proc = h2h_process("render-nmfc", track, "-o", tmp_path / "p.####.png", "--size", "64x64", "--what", "nmfc",
                       "--progress", "plain", stdout=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    steps = [int(line[len("PROGRESS: "):-1]) for line in out.splitlines()]
    assert out.splitlines() == [f"PROGRESS: {p}%" for p in steps] and steps[-1] == 100 and steps == sorted(steps)
    capsys.readouterr()
    stderr_json_progress(3, 7, 'stage "b"\n')  # a name that only json.dumps writes as valid JSON
    assert json.loads(capsys.readouterr().err) == {"progress": 3, "total": 7, "what": 'stage "b"\n'}
    proc = h2h_process("render-nmfc", track, "-o", tmp_path / "j.####.png", "--size", "64x64", "--what", "nmfc",
                       "--progress", "json", stdout=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    lines = [json.loads(line) for line in err.splitlines()]
    assert proc.returncode == 0 and out == "" and lines[-1]["progress"] == lines[-1]["total"] > 0
