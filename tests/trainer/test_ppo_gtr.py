"""PPO (value head, per-step GAE) and GTR (oracle corrections, thought cloning, DAgger) in the real trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from mmrl.config import ConfigError, load_config
from mmrl.logger import read_jsonl
from mmrl.models.value_head import VALUE_HEAD_FILE
from mmrl.trainer import Trainer
from tests.fixtures import toy_envs  # noqa: F401  (registers mmrltest/*)


def _gtr_config(tmp_path, *overrides):
    return load_config(None, [
        "envs=[{id: mmrl/NumberLine-v0, kwargs: {render_image: false, max_position: 3}}]",
        "model.tiny=text", "algo.name=ppo", "gtr.corrector=oracle", "gtr.buffer_batch=4",
        "rollout.group_size=1", "rollout.groups_per_step=4", "rollout.max_episode_steps=3",
        "rollout.max_new_tokens=40", "rollout.history_turns=0", "algo.minibatch_size=8", "train.sft_steps=60",
        "train.sft_lr=3e-3",
        "train.sft_target=random_admissible", "train.log_samples=4", "eval.episodes=4", "train.progress=false",
        "train.eval_every=0", "train.save_every=1", f"train.output_dir={tmp_path}", *overrides,
    ])


def test_ppo_with_the_oracle_corrector_logs_gtr_metrics_samples_and_checkpoints(tmp_path):
    Trainer(_gtr_config(tmp_path, "train.total_steps=2")).train()
    rows = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 2]
    metrics = {k: v for r in rows for k, v in r.items()}
    for key in ["gtr/correction_rate", "gtr/wrong_rate", "gtr/thought_distinct_2", "gtr/thought_duplicate_fraction",
                "gtr/success_rate", "gtr/buffer_size", "losses/value_loss", "losses/cloning_loss",
                "eval/thought_distinct_2", "eval/success_rate"]:
        assert key in metrics, key
    assert 0.0 <= metrics["gtr/correction_rate"] <= 1.0
    assert metrics["gtr/buffer_size"] > 0  # a barely trained policy errs: its corrections are kept
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    corrected = [t for s in samples for t in s["turns"] if "gtr_corrected_thought" in t["info"]]
    assert corrected, "samples.jsonl shows no corrected thought"
    assert all(t["info"]["gtr_thought"] != t["info"]["gtr_corrected_thought"] for t in corrected)
    ckpt = tmp_path / "checkpoints" / "step_2"
    assert set(load_file(ckpt / VALUE_HEAD_FILE)) == {"weight", "bias"}
    assert (ckpt / "gtr_buffer_rank0.pt").is_file()
    # The checkpoint is still a plain Hugging Face model: no value-head weights inside it.
    assert not any(k.startswith("value_head") for k in load_file(ckpt / "model.safetensors"))


def test_a_resumed_ppo_gtr_run_continues_its_value_head_and_dagger_buffer(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    Trainer(_gtr_config(straight, "train.total_steps=3")).train()
    Trainer(_gtr_config(resumed, "train.total_steps=2")).train()
    Trainer(_gtr_config(resumed, "train.total_steps=3")).train()
    pick = lambda d: {r["step"]: (r["train/return_mean"], r["gtr/buffer_size"])  # noqa: E731
                      for r in read_jsonl(d / "metrics.jsonl") if "train/return_mean" in r}
    assert pick(straight) == pick(resumed)
    a = load_file(straight / "checkpoints" / "step_3" / VALUE_HEAD_FILE)
    b = load_file(resumed / "checkpoints" / "step_3" / VALUE_HEAD_FILE)
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6) for k in a)


@pytest.mark.slow
def test_ppo_raises_the_reward_of_a_multi_turn_task(tmp_path):
    """Three turns per episode, each rewarded only for 'apple'; after a warm-start that answers a random word
    (reward ~0.25 per turn), PPO's per-step advantages teach the answer."""
    cfg = load_config(None, [
        "envs=[{id: mmrltest/Echo-v0, kwargs: {length: 3, asked: [apple]}}]", "model.tiny=text",
        "algo.name=ppo", "algo.gamma=0.5", "rollout.group_size=1", "rollout.groups_per_step=16",
        "rollout.max_episode_steps=3", "rollout.max_new_tokens=4", "algo.minibatch_size=48",
        "train.sft_steps=40", "train.sft_lr=3e-3", "train.sft_target=random_admissible", "optim.lr=3e-4",
        "eval.episodes=16", "eval.temperature=1.0", "train.progress=false", "train.eval_every=0",
        "train.save_every=0", "train.total_steps=40", f"train.output_dir={tmp_path}",
    ])
    Trainer(cfg).train()
    rows = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if "train/return_mean" in r]
    first = np.mean([r["train/return_mean"] for r in rows[:5]])
    last = np.mean([r["train/return_mean"] for r in rows[-5:]])
    assert first < 1.8, f"the warm-start should leave the task unsolved (first returns {first:.2f} of 3)"
    assert last > first + 0.9, f"return did not rise: first 5 steps {first:.2f}, last 5 steps {last:.2f}"
    values = [r["train/value_mean"] for r in rows]
    assert np.mean(values[-5:]) > np.mean(values[:5])  # the critic follows the rising returns


def test_ppo_with_lora_trains_the_value_head_beside_the_adapter(tmp_path):
    cfg = _gtr_config(tmp_path, "train.total_steps=1", "model.lora.r=4", "gtr.corrector=none", "train.sft_steps=0",
                      "algo.value_coef=1.0", "gtr.buffer_batch=16")  # the default: no GTR setting without GTR
    trainer = Trainer(cfg)
    head = trainer.policy.model.get_submodule("value_head")
    assert all(p.requires_grad for p in head.parameters())
    optimised = {id(p) for g in trainer.updater.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in optimised for p in head.parameters())
    trainer.train()
    ckpt = tmp_path / "checkpoints" / "step_1"
    assert (ckpt / "adapter_config.json").is_file()
    assert load_file(ckpt / VALUE_HEAD_FILE)["bias"].abs().item() > 0  # it moved off its zero initialisation


def test_gtr_corrects_and_clones_think_answer_responses(tmp_path):
    """PPO + GTR with the oracle on a `<think>/<answer>` env: the oracle reads thought and answer through the env's
    format, so wrong steps get corrected thoughts in samples.jsonl and clones in the DAgger buffer."""
    cfg = _gtr_config(tmp_path, "envs=[{id: mmrltest/ThinkEcho-v0}]", "rollout.max_episode_steps=2",
                      "train.total_steps=2")
    Trainer(cfg).train()
    metrics = {k: v for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 2 for k, v in r.items()}
    assert metrics["gtr/buffer_size"] > 0 and metrics["gtr/correction_rate"] > 0
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    turns = [t for s in samples if s["kind"] == "train" for t in s["turns"]]  # eval episodes are not corrected
    assert {t["info"].get("gtr_verdict") for t in turns} <= {"YES", "NO"}
    corrected = [t for t in turns if "gtr_corrected_thought" in t["info"]]
    assert corrected, "samples.jsonl shows no corrected thought"
    for t in corrected:
        assert t["info"]["gtr_corrected_thought"].startswith("The word to say is ")
        assert t["info"]["gtr_thought"] != t["info"]["gtr_corrected_thought"]
    assert any(t["info"].get("gtr_cloned_tokens", 0) > 0 for t in corrected)  # cloned: thought tokens, action masked


def test_gtr_refuses_an_env_whose_format_has_no_thought(tmp_path):
    cfg = _gtr_config(tmp_path, "envs=[{id: mmrl/Classification-v0, kwargs: {style: no_think}}]", "model.tiny=vl")
    with pytest.raises(ConfigError, match="mmrl/Classification-v0 answers in the 'plain' response format"):
        Trainer(cfg)
