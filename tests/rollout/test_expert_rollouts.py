"""Whole-trajectory warm-start data: expert rollouts label every state, with the prompts RL builds."""

from __future__ import annotations

import numpy as np

from mmrl.config import EnvSpec, RolloutConfig, load_config
from mmrl.distributed import DistContext
from mmrl.rollout.backends import HFBackend, SamplingParams
from mmrl.rollout.runner import EnvPool, EpisodeRequest, EpisodeRunner
from mmrl.warm_start import ExpertRollouts
from tests.fixtures import toy_envs  # noqa: F401  (registers mmrltest/*)

PARAMS = SamplingParams(max_new_tokens=4, temperature=1.0, seed=0)
SPEC = EnvSpec(id="mmrltest/ThinkEcho-v0", kwargs={"length": 3})


def _runner(policy, specs):
    cfg = RolloutConfig(max_episode_steps=5, history_turns=2, max_new_tokens=4)
    return EpisodeRunner(EnvPool(specs), policy, HFBackend(policy), cfg)


def test_expert_rollouts_label_every_state_with_the_rl_prompt(tiny_text):
    runner = _runner(tiny_text, [SPEC])
    (episode,) = runner.run([EpisodeRequest(0, 5)], PARAMS, expert_beta=1.0, rng=np.random.default_rng(0))
    assert len(episode.turns) == 3 and episode.success and episode.total_reward == 3.0
    for turn in episode.turns:  # the expert acted, and its response is the label of the state it answered
        assert turn.label is not None and turn.completion.text == turn.label
        word = turn.prompt.messages[-1]["content"].split("say ")[-1]
        assert turn.label.endswith(f"<answer>{word}</answer>")
    # The third prompt carries the first two (observation, expert response) turns, as in RL.
    assert [m["content"] for m in episode.turns[2].prompt.messages[:4:2]] == [
        t.prompt.messages[-1]["content"] for t in episode.turns[:2]]
    pairs = runner.warm_start_pairs([EpisodeRequest(0, 5), EpisodeRequest(0, 6)], "expert",
                                    np.random.default_rng(0), PARAMS)
    assert len(pairs) == 6  # whole trajectories: 3 labelled states per episode, not the first one only
    assert [p.text for p, _ in pairs[:3]] == [t.prompt.text for t in episode.turns]
    runner.close()


def test_dagger_mix_lets_the_policy_act_and_still_labels_its_states(tiny_text):
    runner = _runner(tiny_text, [SPEC])
    episodes = runner.run([EpisodeRequest(0, s) for s in range(4)], PARAMS, expert_beta=0.5,
                          rng=np.random.default_rng(1))
    turns = [t for ep in episodes for t in ep.turns]
    by_policy = [t for t in turns if t.completion.text != t.label]
    assert by_policy and len(by_policy) < len(turns)  # both acted
    assert all(t.label is not None for t in turns)  # the expert labels the states the policy reached too
    runner.close()


def test_warm_start_batches_carry_pairs_over_and_count_labels_per_episode(tiny_text, tmp_path):
    cfg = load_config(None, ["envs=[{id: mmrltest/ThinkEcho-v0, kwargs: {length: 3}}]", "train.sft_batch_size=4",
                             f"train.output_dir={tmp_path}"])
    source = ExpertRollouts(cfg, _runner(tiny_text, cfg.envs), DistContext())
    first, second = source.batch(0), source.batch(1)
    assert len(first) == len(second) == 4
    assert source.episodes == 4  # one round of 4 episodes gave 12 pairs: the second step used the leftovers
    assert source.stats()["sft/labels_per_episode"] == 3.0
