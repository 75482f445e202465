"""Benchmark of the render-nmfc node's core: NMFC frames/s for the ICT face region at 256 and 1024 px.

Compares, in one run on this machine: the native C++ rasterizer (fused NMFC render, output buffers reused
and freshly allocated), the numpy reference (a few frames), OpenGL on the CPU (Mesa llvmpipe through
moderngl + EGL, drawing the same mesh with the same per-vertex NMFC colours and reading the image back;
skipped when moderngl or EGL is missing), and the whole conditioning pipeline (model shapes, projection,
NMFC + eye image + mask + mouth boxes) from a track. The poses come from a real track (the Track node on 25
frames of a shared 512 px clip, cycled). Prints frames/s, ratios and peak memory.

    python benchmarks/bench_render_nmfc.py [--frames 256] [--sizes 256,1024]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from h2h_engine import _native  # noqa: E402
from h2h_engine.morphable import load_model  # noqa: E402
from h2h_engine.render import raster  # noqa: E402
from h2h_engine.render.conditioning import render_conditioning  # noqa: E402
from h2h_engine.render.crop import crop_box_for_track  # noqa: E402
from h2h_engine.render.nmfc import project_track, render_mesh  # noqa: E402
from h2h_engine.track import Track  # noqa: E402

CLIP = REPO.parent / "shared" / "videos" / "yerfor__MimicTalk__data_raw_examples_German_20s.mp4"


def real_track(frames: int) -> Track:
    """A real track (the Track node on 25 frames of a 512 px news clip), repeated to ``frames`` frames."""
    from h2h_engine.nodes import get_spec  # noqa: PLC0415

    path = Path(tempfile.mkdtemp()) / "bench.h2h.npz"
    get_spec("track")(input=str(CLIP), output=str(path), frames="0-24")
    t = Track.load(path)
    rows = np.arange(frames) % len(t)
    per_frame = {n: getattr(t, n)[rows] for n in ("landmarks", "pupils", "confidence", "flags", "expression",
                                                  "rotation", "translation", "scale", "rmse")}
    return dataclasses.replace(t, frames=np.arange(frames), **per_frame)


CPU_MS: dict[str, float] = {}  # CPU time per frame (all threads of this process) of the last _best_fps call


def _best_fps(fn, frames: int, repeats: int = 3) -> float:
    """Best wall-clock frames/s over ``repeats`` runs; records the CPU ms per frame of that run in CPU_MS."""
    best, cpu = float("inf"), 0.0
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    CPU_MS["last"] = 1000 * cpu / frames
    return frames / best


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=256, help="frames per measurement at 256 px (1024 px: /4)")
    ap.add_argument("--sizes", default="256,1024")
    args = ap.parse_args()
    model = load_model()
    mesh = render_mesh(model, ("face",))
    print(f"ICT face region: {len(mesh.triangles)} triangles, {len(mesh.vertices)} vertices; "
          f"{os.cpu_count()} CPU cores, OpenMP threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    for size in (int(s) for s in args.sizes.split(",")):
        n = max(8, args.frames * 256 // size)
        track = real_track(n)
        box = crop_box_for_track(model, track)
        pos = project_track(model, track, box, (size, size), mesh.vertices)  # (n, K, 3)
        img = np.empty((n, size, size, 3), np.float32)
        tid = np.empty((n, size, size), np.int32)

        def fused() -> None:
            _native.render_fwd(pos, mesh.triangles, mesh.colours, size, size, True, image=img, tri_id=tid)

        fps_native = _best_fps(fused, n)
        cpu_native = CPU_MS["last"]
        fps_api = _best_fps(lambda: raster.render(pos, mesh.triangles, mesh.colours, (size, size)), n)
        chunk = max(1, min(64, (1 << 23) // (size * size)))  # as the node renders

        def conditioning() -> None:
            for a in range(0, n, chunk):
                render_conditioning(model, track.slice(int(track.frames[a]), int(track.frames[min(n, a + chunk) - 1])),
                                    (size, size), crop=box)

        fps_cond = _best_fps(conditioning, n, repeats=2)
        n_ref = 2
        fps_ref = _best_fps(lambda: raster.render(pos[:n_ref], mesh.triangles, mesh.colours, (size, size),
                                                  impl="ref"), n_ref, repeats=1)
        print(f"\n{size} x {size} px, {n} frames (face covers {np.mean(tid >= 0):.0%} of the raster)")
        print(f"  native fused NMFC, buffers reused : {fps_native:9.1f} frames/s  ({cpu_native:.2f} CPU ms/frame)")
        print(f"  native fused NMFC, new arrays     : {fps_api:9.1f} frames/s")
        print(f"  conditioning (nmfc+eyes+mask)     : {fps_cond:9.1f} frames/s  (model shape + projection + all)")
        print(f"  numpy reference ({n_ref} frames)        : {fps_ref:9.2f} frames/s  -> native is "
              f"{fps_native / fps_ref:,.0f}x faster")
        try:
            peer = GLPeer(mesh.triangles, mesh.colours, (size, size), zscale=float(np.abs(pos[..., 2]).max() * 2))
        except Exception as e:  # noqa: BLE001 - any missing piece of the optional GL stack skips the peer
            print(f"  OpenGL peer skipped ({type(e).__name__}: {e})")
            continue
        gl = peer.render(pos[:4])
        drawn = np.any(gl > 0, axis=-1) | (tid[:4] >= 0)
        agree = np.mean(np.all(np.abs(gl - img[:4]) < 0.02, axis=-1)[drawn])
        fps_gl = _best_fps(lambda: peer.render(pos), n)
        cpu_gl = CPU_MS["last"]
        print(f"  OpenGL {peer.renderer[:28]:28s}: {fps_gl:9.1f} frames/s  -> native is "
              f"{fps_native / fps_gl:.2f}x ({fps_api / fps_gl:.2f}x with new arrays); images agree on "
              f"{agree:.2%} of drawn pixels")
        print(f"  CPU time per frame: native {cpu_native:.2f} ms, llvmpipe {cpu_gl:.2f} ms -> "
              f"{cpu_gl / cpu_native:.2f}x less CPU (robust to other load on the machine)")
    print(f"\npeak memory (max RSS): {_peak_mib():.0f} MiB")


if __name__ == "__main__":
    main()
