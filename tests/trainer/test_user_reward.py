"""A reward the user registers in their own module joins any env's reward by config alone (`module:name`)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from mmrl.config import load_config
from mmrl.logger import read_jsonl
from mmrl.trainer import Trainer

USER_REWARDS = '''
from mmrl.rewards import register_reward


@register_reward("politeness_bonus")
def politeness_bonus(completions, **columns):
    """10 for every response: easy to see in the training reward."""
    return [10.0 for _ in completions]
'''


def _step_one(run_dir, env: str, extra: str = "") -> dict:
    cfg = load_config(None, [
        f"envs=[{{id: {env}, kwargs: {{{extra}}}}}]", "model.tiny=text", "rollout.group_size=2",
        "rollout.groups_per_step=2", "rollout.max_new_tokens=4", "rollout.max_episode_steps=2", "eval.episodes=2",
        "train.total_steps=1", "train.progress=false", "train.eval_every=0", f"train.output_dir={run_dir}",
    ])
    Trainer(cfg).train()
    return next(r for r in read_jsonl(run_dir / "metrics.jsonl") if "train/return_mean" in r)


@pytest.mark.parametrize("env, kwargs", [("mmrl/NumberLine-v0", "render_image: false, "),
                                         ("mmrl/Countdown-v0", "")])
def test_a_user_reward_added_by_config_changes_the_training_reward(tmp_path, monkeypatch, env, kwargs):
    import mmrl.rewards

    # The user's reward (10 per response, outside the [0, 1] of mmrl's own) stays registered for this test only.
    monkeypatch.setattr(mmrl.rewards, "_REGISTRY", dict(mmrl.rewards._REGISTRY))
    monkeypatch.delitem(sys.modules, "theirrewards", raising=False)  # imported afresh: it registers again
    (tmp_path / "theirrewards.py").write_text(textwrap.dedent(USER_REWARDS))
    monkeypatch.syspath_prepend(str(tmp_path))
    plain = _step_one(tmp_path / "plain", env, kwargs)
    bonus = _step_one(tmp_path / "bonus", env, kwargs + "reward_weights: {'theirrewards:politeness_bonus': 1.0}")
    # A component is summed over an episode's turns, like the return (mmrl/episode_metrics.py): 10 per turn.
    assert bonus["train/reward/politeness_bonus"] == pytest.approx(10.0 * bonus["train/turns_mean"])
    assert "train/reward/politeness_bonus" not in plain
    # Same seed, same samples: every step of every episode earns 10 more.
    assert bonus["train/return_mean"] - plain["train/return_mean"] >= 10.0 - 1e-6
    assert bonus["train/success_rate"] == plain["train/success_rate"]
