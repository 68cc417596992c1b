"""`rollout.backend=vllm` end to end, as a user runs it: train (one-step VL and multi-turn text episodes), then
`mmrl eval` with either backend on the same checkpoint."""

from __future__ import annotations

import json

import pytest

from mmrl.logger import read_jsonl
from tests.trainer.helpers import SMALL, run_mmrl
from tests.vllm_support import require_vllm

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def _eval(run_dir, backend: str) -> dict:
    done = run_mmrl("eval", str(run_dir), f"rollout.backend={backend}", "eval.episodes=24")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout[done.stdout.index("{"):])


def test_multi_turn_text_run_with_vllm_and_eval_equal_to_hf(tmp_path):
    """NumberLine (text, up to 4 turns): vLLM generates every turn; greedy eval of the checkpoint is identical
    with either backend (the text model's numbers agree to ~1e-6)."""
    require_vllm()
    run = tmp_path / "numberline"
    done = run_mmrl("train", "configs/numberline_ppo.yaml", "rollout.backend=vllm", "rollout.groups_per_step=4",
                    "rollout.max_episode_steps=4", "rollout.max_new_tokens=24", "train.sft_steps=20",
                    "train.sft_batch_size=8", "train.total_steps=3", "train.eval_every=0", "eval.episodes=8",
                    "algo.minibatch_size=16", "train.progress=false", f"train.output_dir={run}", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = [r for r in read_jsonl(run / "metrics.jsonl") if "train/episodes" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert any(r["train/response_length"] > 0 for r in steps)
    by_vllm, by_hf = _eval(run, "vllm"), _eval(run, "hf")
    assert by_vllm["success_rate"] == by_hf["success_rate"]
    assert by_vllm["return_mean"] == pytest.approx(by_hf["return_mean"], abs=1e-9)
    assert by_vllm["response_length"] == by_hf["response_length"]


def test_vl_quickstart_with_vllm_trains_and_evaluates(tmp_path):
    """The quickstart's image task through vLLM: training steps run and evaluation agrees with HF's on the same
    checkpoint within the image path's small numeric gap (greedy answers of a 4-way choice)."""
    require_vllm()
    run = tmp_path / "quickstart"
    done = run_mmrl("train", "configs/quickstart.yaml", "rollout.backend=vllm", *SMALL, "train.sft_steps=20",
                    "train.sft_batch_size=16", "train.total_steps=4", "train.eval_every=2",
                    f"train.output_dir={run}", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in records if "eval/success_rate" in r][-2:] == [2, 4]
    by_vllm, by_hf = _eval(run, "vllm"), _eval(run, "hf")
    assert abs(by_vllm["success_rate"] - by_hf["success_rate"]) <= 1 / 24 + 1e-9
