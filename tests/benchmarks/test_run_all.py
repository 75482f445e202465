"""``benchmarks/run_all.py`` on one real node (the render-nmfc bench, --quick): the machine header, the table with
the ratio first, the JSON; and the row arithmetic of benchmarks/report.py. No timing thresholds: only that the
figures are there, positive and consistent with each other."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from benchlib import Row, format_scaling, format_table  # noqa: E402


def test_ratio_means_ours_wins_above_one() -> None:
    rate = Row("fit", "a", 300.0, peer="p", peer_value=100.0)
    time = Row("fit", "b", 2.0, unit="ms", peer="p", peer_value=50.0)
    assert rate.ratio == 3.0 and time.ratio == 25.0 and Row("fit", "c", 1.0).ratio is None
    assert Row.from_dict(time.to_dict()) == time
    table = format_table([rate, time]).splitlines()
    assert table[0].split()[:3] == ["ratio", "node", "case"] and table[2].lstrip().startswith("x3.00")
    assert format_table([rate], markdown=True).splitlines()[2].startswith("| x3.00 | fit | a | 300 |")
    scaling = format_scaling([Row("fit", "1,000 frames", 500.0), Row("fit", "10,000 frames", 400.0)])
    assert scaling.splitlines()[-1].rstrip().endswith("x1.25")  # 2.5 ms a frame against 2.0


def test_quick_run_of_one_node(tmp_path: Path, clip) -> None:
    clip("German_20s")  # the render bench's poses come from this clip (skips without the shared clips)
    out = tmp_path / "bench.json"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "OMP_NUM_THREADS": "2"}
    p = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--quick", "--only", "render-nmfc",
                        "--json", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.splitlines()
    assert lines[0].startswith("Machine: ") and "torch threads" in lines[0]
    assert any(line.startswith("Command: python benchmarks/run_all.py --quick") for line in lines)
    head = next(line for line in lines if line.lstrip().startswith("ratio"))  # right-aligned: wide ratios indent it
    assert head.split()[:3] == ["ratio", "node", "case"]
    doc = json.loads(out.read_text())
    assert doc["schema"] == "H2HBench.1" and not doc["skipped"] and doc["scaling"] == []
    m = doc["machine"]
    assert m["cpu"] and m["logical_cpus"] >= 1 and m["torch_threads"] >= 1 and m["versions"]["numpy"]
    rows = [Row.from_dict(r) for r in doc["rows"]]
    assert [r.node for r in rows] == ["render-nmfc", "render-nmfc"]
    assert "conditioning" in rows[1].case and rows[1].peer.startswith("all-numpy reference")
    for r, d in zip(rows, doc["rows"]):
        assert r.value > 0 and r.peak_mib > 0 and r.extra["bench process peak RSS MiB"] > 0
        if r.peer_value is not None:
            assert math.isclose(d["ratio"], r.value / r.peer_value)
    assert rows[1].extra["CPU ms/frame"] > 0 and rows[1].extra["new arrays frames/s"] > 0


@pytest.mark.parametrize("argv", [["--only", "nonsense"]])
def test_bad_arguments(argv: list[str]) -> None:
    p = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run_all.py"), *argv], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "unknown node(s) ['nonsense']" in p.stderr
