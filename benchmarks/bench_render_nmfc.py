"""Benchmark of the render-nmfc node's core: NMFC frames/s for the ICT face region at 256 and 1024 px, and the
whole conditioning (NMFC + eye image + mask) as the node renders it.

Compares, in one run on this machine: the native C++ rasterizer (fused NMFC render, output buffers reused
and freshly allocated), the numpy reference (a few frames), OpenGL on the CPU (Mesa llvmpipe through
moderngl + EGL, drawing the same mesh with the same per-vertex NMFC colours and reading the image back;
skipped when moderngl or EGL is missing), and the whole conditioning (shapes + projection in one native
pass, NMFC + eye image + mask + mouth boxes) from a track, in chunks through ``render_rows`` with the previous
chunk's arrays reused (``out=``, as the node renders) and with new arrays, against its all-numpy reference
(``impl="ref"``). The poses come from a real track (the Track node on 25 frames of a shared 512 px clip,
cycled). ``--scaling``: the conditioning's cost at 256, 512, 1024 and 2048 px.

    python benchmarks/bench_render_nmfc.py [--frames 256] [--sizes 256,1024] [--quick] [--scaling]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Row, best_of, cached_track, peak_rss_mib, print_rows  # noqa: E402

from h2h_engine import _native  # noqa: E402
from h2h_engine.morphable import load_model  # noqa: E402
from h2h_engine.render import raster  # noqa: E402
from h2h_engine.render.conditioning import render_conditioning, render_rows  # noqa: E402
from h2h_engine.render.crop import crop_box_for_track  # noqa: E402
from h2h_engine.render.nmfc import project_track, render_mesh  # noqa: E402
from h2h_engine.track import Track  # noqa: E402

CLIP = "yerfor__MimicTalk__data_raw_examples_German_20s.mp4"
NODE_PIXELS = 1 << 23  # output pixels per chunk, as the node renders (h2h_engine/nodes/render_nmfc.py)


def real_track(frames: int) -> Track:
    """A real track (the Track node on 25 frames of a 512 px news clip), repeated to ``frames`` frames."""
    t = Track.load(cached_track(CLIP, "0-24"))
    rows = np.arange(frames) % len(t)
    per_frame = {n: getattr(t, n)[rows] for n in ("landmarks", "pupils", "confidence", "flags", "expression",
                                                  "rotation", "translation", "scale", "rmse")}
    return dataclasses.replace(t, frames=np.arange(frames), **per_frame)


class GLPeer:
    """Mesa llvmpipe via moderngl: same mesh, same vertex colours, depth test, back-face culling, read-back."""

    VS = """#version 330
    uniform vec3 scale; in vec3 pos; in vec3 col; out vec3 v_col;
    void main() { v_col = col; gl_Position = vec4(pos.x * scale.x - 1.0, 1.0 - pos.y * scale.y,
                                                  -pos.z * scale.z, 1.0); }"""
    FS = """#version 330
    in vec3 v_col; out vec4 f_col; void main() { f_col = vec4(v_col, 1.0); }"""

    def __init__(self, triangles: np.ndarray, colours: np.ndarray, size: tuple[int, int], zscale: float) -> None:
        import moderngl  # noqa: PLC0415 - optional peer

        self.ctx = moderngl.create_standalone_context(backend="egl")
        self.renderer = self.ctx.info["GL_RENDERER"]
        w, h = size
        self.fbo = self.ctx.framebuffer(color_attachments=[self.ctx.renderbuffer((w, h), 4, dtype="f4")],
                                        depth_attachment=self.ctx.depth_renderbuffer((w, h)))
        prog = self.ctx.program(vertex_shader=self.VS, fragment_shader=self.FS)
        prog["scale"].value = (2.0 / w, 2.0 / h, 1.0 / zscale)
        self.pos = self.ctx.buffer(reserve=len(colours) * 12)
        col = self.ctx.buffer(np.ascontiguousarray(colours, np.float32).tobytes())
        ibo = self.ctx.buffer(np.ascontiguousarray(triangles, np.int32).tobytes())
        self.vao = self.ctx.vertex_array(prog, [(self.pos, "3f", "pos"), (col, "3f", "col")], index_buffer=ibo,
                                         index_element_size=4)
        self.ctx.enable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self.ctx.front_face = "ccw"  # y is flipped into NDC, so model-CCW stays CCW
        self.size = size

    def render(self, pos: np.ndarray) -> np.ndarray:
        """(B, K, 3) -> (B, H, W, 3) float32 read back."""
        w, h = self.size
        out = np.empty((len(pos), h, w, 3), np.float32)
        self.fbo.use()
        for b, p in enumerate(pos):
            self.pos.write(np.ascontiguousarray(p, np.float32).tobytes())
            self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            self.vao.render()
            buf = self.fbo.read(components=3, dtype="f4")
            out[b] = np.frombuffer(buf, np.float32).reshape(h, w, 3)[::-1]  # GL rows are bottom-up
        return out


def _conditioning_fps(model, track: Track, box: np.ndarray, size: int,
                      repeats: int) -> tuple[float, float, float]:
    """frames/s of the whole conditioning in node-sized chunks through ``render_rows`` with the previous chunk's
    arrays reused (as the node renders), its CPU ms per frame, and frames/s with new arrays per chunk."""
    n, chunk = len(track), max(1, min(64, NODE_PIXELS // (size * size)))

    def run(reuse: bool) -> None:
        prev = None
        for a in range(0, n, chunk):
            cond = render_rows(model, track, a, min(n, a + chunk), (size, size), crop=box, out=prev)
            prev = cond if reuse else None

    wall, cpu, _ = best_of(lambda: run(True), repeats)
    wall_new, _, _ = best_of(lambda: run(False), repeats)
    return n / wall, 1000 * cpu / n, n / wall_new


def rows(quick: bool = False, frames: int = 256, sizes: tuple[int, ...] = (256, 1024)) -> list[Row]:
    """The rasterizer against llvmpipe and numpy, the whole conditioning against its numpy reference."""
    if quick:
        frames, sizes = 64, (256,)
    model = load_model()
    mesh = render_mesh(model, ("face",))
    out: list[Row] = []
    for size in sizes:
        n = max(8, frames * 256 // size)
        track = real_track(n)
        box = crop_box_for_track(model, track)
        pos = project_track(model, track, box, (size, size), mesh.vertices)  # (n, K, 3)
        img = np.empty((n, size, size, 3), np.float32)
        tid = np.empty((n, size, size), np.int32)
        reps = 2 if quick else 3
        wall, cpu, _ = best_of(lambda: _native.render_fwd(pos, mesh.triangles, mesh.colours, size, size, True,
                                                          image=img, tri_id=tid), reps)
        fps_native, cpu_native = n / wall, 1000 * cpu / n
        fps_api = n / best_of(lambda: raster.render(pos, mesh.triangles, mesh.colours, (size, size)), reps)[0]
        n_ref = 1 if quick else 2
        fps_ref = n_ref / best_of(lambda: raster.render(pos[:n_ref], mesh.triangles, mesh.colours, (size, size),
                                                        impl="ref"), 1)[0]
        extra = {"CPU ms/frame": cpu_native, "new arrays frames/s": fps_api,
                 "face share of raster": float(np.mean(tid >= 0)), "numpy reference frames/s": fps_ref,
                 "x numpy reference": fps_native / fps_ref}
        gl_fps = None
        try:
            peer = GLPeer(mesh.triangles, mesh.colours, (size, size), zscale=float(np.abs(pos[..., 2]).max() * 2))
            gl = peer.render(pos[:4])
            drawn = np.any(gl > 0, axis=-1) | (tid[:4] >= 0)
            agree = np.all(np.abs(gl - img[:4]) < 0.02, axis=-1)[drawn]
            extra["pixels agreeing with OpenGL"] = float(np.mean(agree))
            wall_gl, cpu_gl, _ = best_of(lambda: peer.render(pos), reps)
            gl_fps = n / wall_gl
            extra["llvmpipe CPU ms/frame"] = 1000 * cpu_gl / n
            peer_name = f"OpenGL {peer.renderer.split('(')[0].strip()}"
        except Exception as e:  # noqa: BLE001 - any missing piece of the optional GL stack skips the peer
            peer_name = f"OpenGL peer skipped ({type(e).__name__})"
        out.append(Row("render-nmfc", f"NMFC raster ({len(mesh.triangles):,} triangles), {size} px, {n} frames",
                       fps_native, peer=peer_name, peer_value=gl_fps, peak_mib=peak_rss_mib(),
                       memory="RSS", extra=extra))
        fps_cond, cpu_cond, fps_cond_new = _conditioning_fps(model, track, box, size, reps)
        ref = track.slice(0, 0)
        fps_cref = 1 / best_of(lambda: render_conditioning(model, ref, (size, size), crop=box, impl="ref"), 1)[0]
        out.append(Row("render-nmfc", f"conditioning (NMFC + eyes + mask), {size} px, {n} frames", fps_cond,
                       peer="all-numpy reference (impl=ref)", peer_value=fps_cref, peak_mib=peak_rss_mib(),
                       memory="RSS", extra={"CPU ms/frame": cpu_cond, "new arrays frames/s": fps_cond_new}))
    return out


def scaling_rows(size: int) -> list[Row]:
    """The conditioning (NMFC + eyes + mask) at one output size: frames/s and this process's peak RSS."""
    model = load_model()
    n = max(16, (1 << 25) // (size * size))
    track = real_track(n)
    box = crop_box_for_track(model, track)
    fps, cpu, fps_new = _conditioning_fps(model, track, box, size, 2)
    return [Row("render-nmfc", f"conditioning {size} px ({n} frames)", fps, peak_mib=peak_rss_mib(),
                memory="RSS (fresh process)",
                extra={"seconds": n / fps, "CPU ms/frame": cpu, "new arrays frames/s": fps_new})]


SCALING = [("scaling_rows", {"size": s}) for s in (256, 512, 1024, 2048)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=256, help="frames per measurement at 256 px (1024 px: /4)")
    ap.add_argument("--sizes", default="256,1024")
    ap.add_argument("--quick", action="store_true", help="256 px only, 64 frames")
    ap.add_argument("--scaling", action="store_true", help="the conditioning at 256, 512, 1024 and 2048 px")
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPU cores, OpenMP threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    if args.scaling:
        print_rows([r for _, kw in SCALING for r in scaling_rows(**kw)])
        return
    print_rows(rows(args.quick, args.frames, tuple(int(s) for s in args.sizes.split(","))))


if __name__ == "__main__":
    main()
