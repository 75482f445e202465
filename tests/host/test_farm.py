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
        assert meta_w.channels == meta_c.channels and "flow.X" in meta_c.channels
        assert np.array_equal(px_w.view(np.uint16), px_c.view(np.uint16)), f"frame {f} differs"
        assert {k: v for k, v in meta_w.attributes.items() if k != "DateTime"} == \
            {k: v for k, v in meta_c.attributes.items() if k != "DateTime"}
    # a retried chunk keeps what is on disk and only fills the holes
    files = {f: tmp_path / "chunks" / f"c.{f:04d}.exr" for f in range(6, 12)}
    stamps = {f: p.stat().st_mtime_ns for f, p in files.items()}
    files[9].unlink()
    _render(h2h_exe, env_threads, track_file, chunked, "6-11", "--resume")
    assert all(files[f].stat().st_mtime_ns == stamps[f] for f in files if f != 9)
    assert np.array_equal(read_image(files[9]).view(np.uint16),
                          read_image(tmp_path / "whole" / "c.0009.exr").view(np.uint16))
