"""Every node's benchmark in one run: one table (ratio to the peer or reference first, then our figure, the
peer's, peak memory) under the machine it ran on, written as JSON too.

    python benchmarks/run_all.py [--quick] [--scaling] [--only fit,render-nmfc] [--json PATH] [--markdown]
    python benchmarks/run_all.py --print benchmarks/results/latest.json [--markdown]

Each bench script (``bench_<node>.py``) exposes ``rows(quick)``; every one runs here in a fresh process of its
own, so its peak memory is its own and a failing bench is reported and skipped without stopping the rest.
``--quick`` runs each bench's short variant (about a minute on an idle 2-core machine; the evaluation
bench is left out). ``--scaling`` adds how cost grows with frames (the batch fit and head-mode retarget at
1,000 and 10,000 frames) and with resolution (the conditioning at 256, 512, 1024 and 2048 px), each case in a
fresh process. The JSON (default ``benchmarks/results/latest.json``, ``-`` for stdout) holds the machine, every
row with its extra figures, the scaling rows and what was skipped. ``--markdown`` also prints the tables as
Markdown, as the README pastes them; ``--print JSON [--markdown]`` prints a saved run again.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib import Row, format_scaling, format_table, header, machine, peak_rss_mib, write_json  # noqa: E402

# node -> bench module, in pipeline order
BENCHES = {
    "track": "bench_track",
    "landmarks": "bench_landmarks",
    "fit": "bench_fit",
    "retarget": "bench_retarget",
    "render-nmfc": "bench_render_nmfc",
    "synthesize": "bench_synthesize",
    "appearance": "bench_appearance",
    "filter": "bench_filter",
    "eval": "bench_eval_reenactment",
}
NOT_QUICK = {"eval": "not in --quick (it makes a reenactment first)"}
SCALING = ("fit", "retarget", "render-nmfc")  # benches with a SCALING list of (function, kwargs)
DEFAULT_JSON = HERE / "results" / "latest.json"


def _child(module: str, func: str, kwargs: str, out: str) -> None:
    """In a fresh process: ``module.func(**kwargs)`` -> JSON rows and this process's peak RSS in ``out``."""
    rows = getattr(importlib.import_module(module), func)(**json.loads(kwargs))
    Path(out).write_text(json.dumps({"rows": [r.to_dict() for r in rows], "peak_rss_mib": peak_rss_mib()}))


def run_case(module: str, func: str, kwargs: dict, label: str) -> tuple[list[Row], dict | None]:
    """Run one bench function in a fresh process; (its rows, None) or ([], a skipped entry saying why)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", module, func,
                               json.dumps(kwargs), str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, cwd=str(HERE.parent))
        seconds = time.perf_counter() - t
        if proc.returncode != 0 or not out.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"  {label}: failed after {seconds:.0f} s: {last}", file=sys.stderr)
            return [], {"bench": label, "reason": f"failed (exit {proc.returncode}): {last}"}
        doc = json.loads(out.read_text())
    rows = [Row.from_dict(d) for d in doc["rows"]]
    for r in rows:
        r.extra.setdefault("bench process peak RSS MiB", doc["peak_rss_mib"])
    print(f"  {label}: {len(rows)} row(s) in {seconds:.0f} s", file=sys.stderr)
    return rows, None


def render(info: dict, rows: list[Row], scaling: list[Row], skipped: list[dict], markdown: bool = False) -> str:
    """The machine header, the command, the table, the scaling table and what was skipped, as text or Markdown
    (the README's block)."""
    head = header(info).splitlines() + [f"Command: `{info['command']}`" if markdown else f"Command: {info['command']}"]
    parts = ["  \n".join(head) if markdown else "\n".join(head), format_table(rows, markdown)]
    if scaling:
        parts.append("Scaling (each case in a fresh process):" + ("\n\n" if markdown else "\n")
                     + format_scaling(scaling, markdown))
    if skipped:
        parts.append("\n".join(f"Skipped {s['bench']}: {s['reason']}" for s in skipped))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="each bench's short variant (about a minute)")
    ap.add_argument("--scaling", action="store_true", help="also the cost against frames and resolution (long)")
    ap.add_argument("--only", default="", help=f"comma-separated nodes among {', '.join(BENCHES)}")
    ap.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the JSON ('-': stdout)")
    ap.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    ap.add_argument("--print", metavar="JSON", help="print the tables of a saved run (with --markdown: as Markdown)")
    ap.add_argument("--child", nargs=4, metavar=("MODULE", "FUNC", "KWARGS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    if args.print:
        doc = json.loads(Path(args.print).read_text())
        rows_of = lambda key: [Row.from_dict(d) for d in doc[key]]  # noqa: E731
        print(render(doc["machine"], rows_of("rows"), rows_of("scaling"), doc["skipped"], markdown=args.markdown))
        return 0
    only = [n for n in args.only.split(",") if n]
    bad = [n for n in only if n not in BENCHES]
    if bad:
        ap.error(f"unknown node(s) {bad}; choose from {', '.join(BENCHES)}")
    nodes = only or list(BENCHES)
    info = machine()
    print(header(info), file=sys.stderr)
    rows: list[Row] = []
    skipped: list[dict] = []
    for node in nodes:
        if args.quick and node in NOT_QUICK:
            skipped.append({"bench": node, "reason": NOT_QUICK[node]})
            continue
        got, skip = run_case(BENCHES[node], "rows", {"quick": args.quick}, node)
        rows += got
        skipped += [skip] if skip else []
    scaling: list[Row] = []
    if args.scaling:
        for node in (n for n in SCALING if n in nodes):
            module = importlib.import_module(BENCHES[node])
            for func, kwargs in module.SCALING:
                got, skip = run_case(BENCHES[node], func, kwargs, f"{node} scaling {kwargs}")
                scaling += got
                skipped += [skip] if skip else []
    info["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    info["command"] = " ".join(["python benchmarks/run_all.py", *(argv if argv is not None else sys.argv[1:])])
    out = sys.stderr if args.json == "-" else sys.stdout
    print(render(info, rows, scaling, skipped), file=out)
    if args.markdown:
        print("\n" + render(info, rows, scaling, skipped, markdown=True), file=out)
    write_json(args.json, info, rows, scaling, skipped)
    if args.json != "-":
        print(f"\nJSON: {args.json}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
