"""What every benchmark reports, in one shape: rows of (node, case, ours, peer, ratio, peak memory), the machine
they were measured on, and the table / JSON that ``run_all.py`` prints and writes.

A :class:`Row` is one measurement of ours against its peer or reference in the same run. ``ratio`` is how many
times better ours is (a rate: ours / peer; a time: peer / ours), so > 1 always means ours wins. Each bench script
exposes ``rows(quick: bool = False) -> list[Row]`` (its ``main()`` prints them), and ``run_all.py`` collects them.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One measured figure of a node.

    Attributes:
        node: the pipeline node (``track``, ``landmarks``, ``fit``, ``retarget``, ``render-nmfc``, ...).
        case: what was measured (size, frames, variant).
        value: our figure, in ``unit``.
        unit: ``frames/s`` (any ``.../s``: higher is better) or a time (``s``, ``ms``, ``s/step``: lower is
            better).
        peer: the peer or reference it is compared with in the same run ("" = none).
        peer_value: the peer's figure, same unit.
        peak_mib: peak memory of ours (see ``memory``), MiB.
        memory: what ``peak_mib`` is: ``RSS`` (peak resident set of the process that ran ours), ``traced``
            (Python/numpy allocations of one run, tracemalloc) or ``RSS (fresh process)``.
        extra: other figures of the same run (CPU ms per frame, NME, ...).
    """

    node: str
    case: str
    value: float
    unit: str = "frames/s"
    peer: str = ""
    peer_value: float | None = None
    peak_mib: float | None = None
    memory: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return self.unit.endswith("/s")

    @property
    def ratio(self) -> float | None:
        """How many times better ours is than the peer (> 1: ours wins), or None without a peer."""
        if self.peer_value is None or not self.peer_value or not self.value:
            return None
        return self.value / self.peer_value if self.higher_is_better else self.peer_value / self.value

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["ratio"] = self.ratio
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Row":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """(best wall seconds, process CPU seconds of that run, its result) over ``repeats`` runs of ``fn()``."""
    best, cpu, out = float("inf"), 0.0, None
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu, out = wall, time.process_time() - c0, res
    return best, cpu, out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _physical_cores() -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo, None where it does not say."""
    try:
        cores, phys = set(), "0"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("physical id"):
                phys = line.split(":", 1)[1].strip()
            elif line.startswith("core id"):
                cores.add((phys, line.split(":", 1)[1].strip()))
        return len(cores) or None
    except OSError:
        return None


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except Exception:  # noqa: BLE001 - an optional package that is missing or broken is reported as absent
        return None
    return str(getattr(mod, "__version__", getattr(mod, "VERSION", "?")))


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict[str, Any]:
    """The machine and software a run measured: CPU model, cores, threads, load, versions."""
    import torch  # noqa: PLC0415 - the engine needs it anyway; imported late to keep `report` light

    from h2h_engine import __version__, _native  # noqa: PLC0415

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": _physical_cores(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1),
        "gpu": gpu,
        "native_cuda": bool(getattr(_native, "has_cuda", False)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"h2h_engine": __version__, "commit": _git_commit(), "numpy": _version("numpy"),
                     "torch": torch.__version__, "opencv": _version("cv2"), "dlib": _version("dlib"),
                     "scipy": _version("scipy"), "av": _version("av")},
    }


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def header(info: dict[str, Any]) -> str:
    cores = f"{info['physical_cores']} cores / " if info.get("physical_cores") else ""
    v = info["versions"]
    load = info.get("load_average")
    lines = [f"Machine: {info['cpu']}, {cores}{info['logical_cpus']} threads ({info['usable_cpus']} usable), "
             f"{info['memory_gib']} GiB; torch threads {info['torch_threads']}, OMP_NUM_THREADS "
             f"{info['omp_num_threads'] or 'unset'}; GPU {info['gpu'] or 'none'}",
             f"Software: h2h-engine {v['h2h_engine']} ({v['commit']}), Python {info['python']}, numpy {v['numpy']}, "
             f"torch {v['torch']}, OpenCV {v['opencv']}, dlib {v['dlib']}; {info['date']}"]
    if load:
        lines.append(f"Load average at the start: {load[0]} (1 min), {load[1]} (5 min)"
                     + (f"; at the end: {info['load_average_end'][0]}" if info.get("load_average_end") else ""))
    return "\n".join(lines)


def format_table(rows: Sequence[Row], markdown: bool = False) -> str:
    """Ratio column first, then node, case, ours, the peer and its figure, peak memory."""
    head = ["ratio", "node", "case", "ours", "unit", "peer", "peer's", "peak MiB"]
    body = []
    for r in rows:
        ratio = r.ratio
        body.append([f"x{_fmt(ratio)}" if ratio is not None else "", r.node, r.case, _fmt(r.value), r.unit,
                     r.peer, _fmt(r.peer_value),
                     f"{_fmt(r.peak_mib)} {r.memory}".strip() if r.peak_mib is not None else ""])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)]
    right = {0, 3, 6, 7}
    fmt = lambda row: "  ".join(c.rjust(w) if i in right else c.ljust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(row) for row in body])


def format_scaling(rows: Sequence[Row], markdown: bool = False) -> str:
    """Scaling rows: per node, each size's figure, its cost per frame and its growth against the smallest size."""
    head = ["node", "case", "frames/s", "ms/frame", "total s", "peak MiB", "cost per frame vs first"]
    body, first = [], {}
    for r in rows:
        per = 1000.0 / r.value if r.value else None
        base = first.setdefault(r.node, per)
        body.append([r.node, r.case, _fmt(r.value), _fmt(per), _fmt(r.extra.get("seconds")),
                     f"{_fmt(r.peak_mib)} {r.memory}".strip() if r.peak_mib is not None else "",
                     f"x{per / base:.2f}" if per and base else ""])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)]
    fmt = lambda row: "  ".join(c.rjust(w) if i >= 2 else c.ljust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(row) for row in body])


def print_rows(rows: Sequence[Row]) -> None:
    """What a bench script prints when run alone: its rows as the table, then their extra figures."""
    print(format_table(rows))
    for r in rows:
        if r.extra:
            figures = ", ".join(f"{k} {_fmt(v) if isinstance(v, (int, float)) else v}" for k, v in r.extra.items())
            print(f"  {r.node} / {r.case}: {figures}")


def write_json(path: str | Path, info: dict[str, Any], rows: Sequence[Row], scaling: Sequence[Row] = (),
               skipped: Sequence[dict] = ()) -> None:
    """The whole run as one JSON document (``-`` = stdout)."""
    doc = {"schema": "H2HBench.1", "machine": info, "rows": [r.to_dict() for r in rows],
           "scaling": [r.to_dict() for r in scaling], "skipped": list(skipped)}
    text = json.dumps(doc, indent=1)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")


VIDEOS = REPO.parent / "shared" / "videos"


def cached_track(clip: str, frames: str) -> Path:
    """A track of a shared clip (``VIDEOS / clip``, frame range "A-B"), made once with the Track node and kept
    under ``~/.cache/h2h/bench`` (an input of the render, retarget and fit benchmarks, not what they time)."""
    from h2h_engine.morphable.registry import cache_dir  # noqa: PLC0415
    from h2h_engine.nodes import get_spec  # noqa: PLC0415

    out = cache_dir().parent / "bench" / f"{Path(clip).stem}_{frames}.h2h.npz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        spec = get_spec("track")
        spec(**{spec.inputs[0].name: str(VIDEOS / clip), spec.outputs[0].name: str(out), "frames": frames})
    return out
