"""Farm chunks: a shot rendered in separate per-chunk processes equals one whole run, bit for bit."""
import subprocess

import numpy as np

from h2h_engine.io import read_image


def _render(h2h_exe, env, track, out, frames, *extra):
    cmd = [h2h_exe, "--progress", "none", "render-nmfc", str(track), "-o", str(out), "--frames", frames,
           "--what", "nmfc,eyes,mask,flow", "--size", "128x128", *extra]
    subprocess.run(cmd, check=True, env=env)


def test_chunks_equal_whole_and_resume(tmp_path, track_file, h2h_exe, env_threads):
    whole, chunked = tmp_path / "whole" / "c.####.exr", tmp_path / "chunks" / "c.####.exr"
    _render(h2h_exe, env_threads, track_file, whole, "0-11")
    for a, b in ((0, 4), (5, 5), (6, 11)):  # uneven chunks, as a farm with retries might cut them
        _render(h2h_exe, env_threads, track_file, chunked, f"{a}-{b}")
    for f in range(12):
        px_w, meta_w = read_image(tmp_path / "whole" / f"c.{f:04d}.exr", with_meta=True)
        px_c, meta_c = read_image(tmp_path / "chunks" / f"c.{f:04d}.exr", with_meta=True)
        assert meta_w.channels == meta_c.channels and "forward.u" in meta_c.channels
        assert np.array_equal(px_w.view(np.uint16), px_c.view(np.uint16)), f"frame {f} differs"
        assert {k: v for k, v in meta_w.attributes.items() if k != "DateTime"} == \
            {k: v for k, v in meta_c.attributes.items() if k != "DateTime"}
    # a retried chunk keeps what is on disk and only fills the holes
    files = {f: tmp_path / "chunks" / f"c.{f:04d}.exr" for f in range(6, 12)}
    stamps = {f: p.stat().st_mtime_ns for f, p in files.items()}
    files[9].unlink()
    _render(h2h_exe, env_threads, track_file, chunked, "6-11")
    assert all(files[f].stat().st_mtime_ns == stamps[f] for f in files if f != 9)
    assert np.array_equal(read_image(files[9]).view(np.uint16),
                          read_image(tmp_path / "whole" / "c.0009.exr").view(np.uint16))
    # resuming with other settings never keeps stale frames: the frames' stamps differ, all are redone
    _render(h2h_exe, env_threads, track_file, chunked, "6-11", "--margin", "2.0")
    assert all(p.stat().st_mtime_ns != stamps[f] for f, p in files.items() if f != 9)
    assert not np.array_equal(read_image(files[6]), read_image(tmp_path / "whole" / "c.0006.exr"))


def test_synthesize_chunks_equal_whole(tmp_path, clip, track_file, checkpoint, h2h_exe, env_threads):
    """The reenacted comp, farmed in two chunks, equals the whole run; a retry keeps finished frames."""
    def synth(out, frames, *extra):
        subprocess.run([h2h_exe, "--progress", "none", "synthesize", "--checkpoint", str(checkpoint), "--track",
                        str(track_file), "--plate", str(clip("W009_front_neutral")), "-o", str(out), "--frames",
                        frames, "--device", "cpu", *extra], check=True, env=env_threads)

    synth(tmp_path / "whole" / "c.####.exr", "0-11")
    for chunk in ("0-6", "7-11"):
        synth(tmp_path / "chunks" / "c.####.exr", chunk)
    for f in range(12):
        a = read_image(tmp_path / "whole" / f"c.{f:04d}.exr")
        b = read_image(tmp_path / "chunks" / f"c.{f:04d}.exr")
        assert np.array_equal(a.view(np.uint16), b.view(np.uint16)), f
    stamp = (tmp_path / "chunks" / "c.0003.exr").stat().st_mtime_ns
    synth(tmp_path / "chunks" / "c.####.exr", "0-6")
    assert (tmp_path / "chunks" / "c.0003.exr").stat().st_mtime_ns == stamp


def test_submit_writes_deadline_and_opencue_jobs_that_render_the_shot(tmp_path, track_file, h2h_exe, env_threads,
                                                                      monkeypatch, capsys):
    """``h2h submit``: Deadline job_info/plugin_info and an OpenCue spec over the same chunks; each task's
    command (the queues' tokens replaced as they replace them) renders its frames from any directory, with
    ``PROGRESS: N%`` lines on stdout; together the tasks render the shot."""
    import json
    import shlex
    import shutil
    import xml.etree.ElementTree as ET

    from h2h_engine.cli import main
    from h2h_engine.hosts.farm import chunk_ranges

    work = tmp_path / "shot dir"  # a space in the paths: quoted in both job formats
    work.mkdir()
    shutil.copyfile(track_file, work / "t.h2h.npz")
    monkeypatch.chdir(work)  # relative paths in the node command become absolute in the jobs
    node = ["render-nmfc", "t.h2h.npz", "-o", "out/c.####.exr", "--size", "64x64", "--what", "nmfc,mask", "--no-force"]
    capsys.readouterr()
    assert main(["--json", "submit", "--frames", "0-11", "--chunk", "5", "--name", "sh010 nmfc", "--deadline", "job",
                 "--opencue", "job.xml", "--executable", h2h_exe, "--user", "comp", "--", *node]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tasks"] == [[0, 4], [5, 9], [10, 11]] == [list(t) for t in chunk_ranges((0, 11), 5)]

    job = dict(line.split("=", 1) for line in (work / "job" / "job_info.job").read_text().splitlines())
    plugin = dict(line.split("=", 1) for line in (work / "job" / "plugin_info.job").read_text().splitlines())
    assert job == {"Plugin": "CommandLine", "Name": "sh010 nmfc", "Frames": "0-11", "ChunkSize": "5",
                   "OutputDirectory0": str(work / "out"), "OutputFilename0": "c.####.exr"}
    assert plugin["Executable"] == h2h_exe and plugin["ShellExecute"] == "False"
    args = shlex.split(plugin["Arguments"])  # double quotes group words, as in Deadline's argument line
    assert args == ["--progress", "plain", "render-nmfc", str(work / "t.h2h.npz"), "-o", str(work / "out/c.####.exr"),
                    "--size", "64x64", "--what", "nmfc,mask", "--no-force", "--frames", "<STARTFRAME>-<ENDFRAME>"]

    spec = ET.parse(work / "job.xml").getroot()
    layer = spec.find("job/layers/layer")
    assert spec.findtext("user") == "comp" and spec.find("job").get("name") == "sh010_nmfc"
    assert layer.get("name") == "render-nmfc" and layer.findtext("services/service") == "shell"
    assert layer.findtext("range") == "0-11" and layer.findtext("chunk") == "5"
    cue = shlex.split(layer.findtext("cmd"))
    assert cue == [h2h_exe, *args[:-1], "#FRAME_START#-#FRAME_END#"]

    monkeypatch.chdir(tmp_path)  # workers start elsewhere
    for (a, b), command in zip(summary["tasks"], summary["commands"]):
        deadline = [plugin["Executable"], *args[:-1], args[-1].replace("<STARTFRAME>", str(a)).replace(
            "<ENDFRAME>", str(b))]
        opencue = [w.replace("#FRAME_START#", str(a)).replace("#FRAME_END#", str(b)) for w in cue]
        assert deadline == opencue == command
        done = subprocess.run(command, env=env_threads, capture_output=True, text=True, check=True)
        assert done.stdout.splitlines()[-1] == "PROGRESS: 100%", done.stdout
    assert sorted(p.name for p in (work / "out").glob("c.*.exr")) == [f"c.{f:04d}.exr" for f in range(12)]


def test_submit_refuses_what_cannot_be_farmed(tmp_path, track_file, capsys):
    from h2h_engine.cli import main

    job = tmp_path / "job"
    base = ["--progress", "none", "submit", "--frames", "0-11", "--deadline", str(job), "--"]
    render = ["render-nmfc", str(track_file), "--size", "64x64"]
    cases = [([*render, "-o", str(tmp_path / "n.mp4")], "is not a frame sequence"),
             ([*render, "-o", str(tmp_path / "n.####.exr"), "--frames", "0-3"], "drop --frames"),
             ([*render, "-o", str(tmp_path / "n.####.exr"), "--margin", "nan"], "--margin must be a finite"),
             (["info", str(track_file)], "needs a node command after --")]
    for node, message in cases:
        capsys.readouterr()
        assert main([*base, *node]) == 2, node
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (node, err)
    assert not job.exists()
    ok = [*base, *render, "-o", str(tmp_path / "n.####.exr")]
    assert main(ok) == 0 and main(ok) == 2  # existing job files are kept unless --force
    assert "job_info.job exists: pass --force" in capsys.readouterr().err
    assert main([*ok[:3], "--force", *ok[3:]]) == 0
