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
