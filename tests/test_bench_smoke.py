"""One-step run of benchmarks/bench_step.py: both trainers run the shared job and the ratio comes out a number."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")  # the `bench` extra

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_step.py"


@pytest.mark.slow
def test_bench_step_one_step_gives_a_finite_ratio(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_step", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_step", bench)  # dataclasses look their module up there
    spec.loader.exec_module(bench)

    result = bench.run(str(BENCH.parent.parent / "configs" / "quickstart.yaml"), steps=1, warmup=0)

    assert math.isfinite(result["ratio_median"]) and result["ratio_median"] > 0
    for name in ("mmrl", "trl"):
        assert result[name]["steps"] == 1
        assert 1 <= result[name]["completion_tokens_mean"] <= result["job"]["max_new_tokens"]
