"""`mmrl iterate`: rounds of SFT <-> RL on tiny Countdown, with ASTRO's search traces as round 0's data."""

from __future__ import annotations

import json

import yaml

from mmrl.iterate import iterate


def test_two_rounds_with_search_traces_chain_their_policies(tmp_path):
    overrides = ["envs=[{id: mmrl/Countdown-v0, kwargs: {count: 2, low: 1, high: 4}}]", "model.tiny=text",
                 "rollout.group_size=2", "rollout.groups_per_step=2", "rollout.max_new_tokens=8",
                 "train.total_steps=1", "train.eval_every=0", "train.save_every=0", "train.progress=false",
                 "eval.episodes=2", "eval.samples_per_episode=1", "train.sft_batch_size=4"]
    rows = iterate(None, [*overrides, "train.sft_steps=2"], rounds=2, sft_steps=2, astro=True, astro_puzzles=6,
                   out=str(tmp_path))
    assert [r["round"] for r in rows] == [0, 1]
    assert rows[0]["sft_pairs"] == 6 and rows[0]["after_sft"] is not None  # the traces trained round 0
    round1 = yaml.safe_load((tmp_path / "round1" / "config.yaml").read_text())
    assert round1["model"]["path"].startswith(str(tmp_path / "round0" / "checkpoints"))  # from the current policy
    assert json.loads((tmp_path / "iterate.json").read_text()) == rows
    assert (tmp_path / "iterate.png").is_file() and "| 1 |" in (tmp_path / "iterate.md").read_text()
