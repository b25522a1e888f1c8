"""A small run of bench/scale.py, so that it cannot rot. Generous bounds only:
its targets are judged by ``python bench/scale.py`` on a quiet machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_quick_scale_benchmark_reports_the_state_cost_and_the_worker_scaling(tmp_path):
    out = tmp_path / "scale.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    state, workers = report["state"], report["workers"]
    assert all(value > 0 for value in state["cpu_us_per_event"].values())
    assert state["ratio"] < 3  # the target is 1.15x
    # One script per request, plus a share of the journal's batches: never one per token (50 a stream).
    assert 1 <= state["redis_round_trips_per_request"] < 3
    assert workers["events_per_second"]["1"] > 0 and workers["events_per_second"]["2"] > 0
    assert "Redis round trips per request" in done.stdout
