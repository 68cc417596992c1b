"""The algorithm objects of the seam (mmrl.algos.registry): advantages set on samples, worked out by hand."""

from __future__ import annotations

import pytest
import torch

from mmrl.algos.base import Sample
from mmrl.algos.registry import ALGORITHMS, make_algorithm
from mmrl.config import load_config
from mmrl.models.policy import Prompt
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn


def _prompt(observation: str) -> Prompt:
    return Prompt([{"role": "user", "content": observation}], observation, torch.tensor([1]))


def _episode(group: int, observations: list[str], rewards: list[float], tokens: int = 3) -> Episode:
    turns = [Turn(_prompt(o), Completion([5] * tokens, "x", True), r, {}) for o, r in zip(observations, rewards)]
    return Episode(EpisodeRequest(0, 0, group), {}, turns)


def _samples(episodes: list[Episode]) -> list[Sample]:
    return [Sample(t.prompt, t.completion.token_ids, i, j) for i, ep in enumerate(episodes)
            for j, t in enumerate(ep.turns)]


def _run(overrides: list[str], episodes: list[Episode]) -> tuple[list[float], dict]:
    algorithm = make_algorithm(load_config(None, overrides))
    samples = _samples(episodes)
    stats = algorithm.advantages(episodes, samples)
    return [s.advantage for s in samples], stats


def test_every_registered_name_builds_its_algorithm():
    for name in ALGORITHMS:
        assert make_algorithm(load_config(None, [f"algo.name={name}"])).name == name


def test_rloo_gives_every_turn_its_episodes_leave_one_out_advantage():
    eps = [_episode(0, ["a", "b"], [1.0, 1.0]), _episode(0, ["a"], [0.0]), _episode(0, ["a"], [1.0])]
    adv, _ = _run(["algo.name=rloo", "rollout.group_size=3"], eps)
    # returns 2, 0, 1: 2 - 0.5 = 1.5 (both turns), 0 - 1.5, 1 - 1
    assert adv == pytest.approx([1.5, 1.5, -1.5, 0.0])


@pytest.mark.parametrize("name", ["grpo", "drgrpo", "rloo", "dapo", "gigpo", "rlplus", "rise", "spark"])
def test_an_episode_whose_env_failed_is_out_of_its_groups_baseline(name):
    """Returns 1, 0, 0 and a failed episode with a partial return of 0: the baseline is that of the three healthy
    episodes (what the same group gives without the failed one), and the failed episode's advantage is 0."""
    failed = _episode(0, ["a"], [0.0])
    failed.error = "env worker crashed"
    healthy = [_episode(0, ["a"], [1.0]), _episode(0, ["a"], [0.0]), _episode(0, ["a"], [0.0])]
    adv, _ = _run([f"algo.name={name}", "rollout.group_size=4", "algo.kl_coef=0"], healthy + [failed])
    alone, _ = _run([f"algo.name={name}", "rollout.group_size=3", "algo.kl_coef=0"], healthy)
    assert adv[:3] == pytest.approx(alone, abs=1e-5) and adv[3] == 0.0
    assert adv[0] > 0 > adv[1]


def test_drgrpo_is_mean_only_with_sequence_sums_and_grpo_divides_by_the_std():
    eps = [_episode(0, ["a"], [3.0]), _episode(0, ["a"], [1.0])]
    adv, _ = _run(["algo.name=drgrpo", "rollout.group_size=2"], eps)
    assert adv == pytest.approx([1.0, -1.0 * 1.0])  # 3 - 2, 1 - 2
    adv_big, _ = _run(["algo.name=drgrpo", "rollout.group_size=2"],
                      [_episode(0, ["a"], [6.0]), _episode(0, ["a"], [2.0])])
    assert adv_big == pytest.approx([2.0, -2.0])  # not normalised: scales with the rewards
    grpo, _ = _run(["algo.name=grpo", "rollout.group_size=2"], [_episode(0, ["a"], [6.0]), _episode(0, ["a"], [2.0])])
    assert grpo == pytest.approx([1.0, -1.0], abs=1e-5)  # (6 - 4) / 2
    assert make_algorithm(load_config(None, ["algo.name=drgrpo"])).loss_agg == "seq-mean-token-sum"


def test_dapo_defaults_and_overlong_shaping():
    dapo = make_algorithm(load_config(None, ["algo.name=dapo", "rollout.max_new_tokens=8"]))
    assert (dapo.clip_low, dapo.clip_high, dapo.loss_agg, dapo.dynamic_sampling, dapo.overlong_buffer) == \
        (0.2, 0.28, "token-mean", True, 2)
    # buffer 2 of 8: 7 tokens cost (6 - 7) / 2 = -0.5; returns 1 - 0.5 = 0.5 and 0 -> +1, -1 after std division
    eps = [_episode(0, ["a"], [1.0], tokens=7), _episode(0, ["a"], [0.0], tokens=3)]
    adv, stats = _run(["algo.name=dapo", "rollout.max_new_tokens=8", "rollout.group_size=2"], eps)
    assert adv == pytest.approx([1.0, -1.0], abs=1e-4)
    assert stats["train/overlong_penalty_mean"] == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="algo.kl_coef"):
        load_config(None, ["algo.name=dapo", "algo.kl_coef=0.1"])


def test_gigpo_adds_the_anchor_state_step_advantage_to_the_episode_advantage():
    # Two episodes from one reset state s0; gamma 0.5. Returns 1 and 0 -> episode advantages +0.5, -0.5.
    # Step returns: A = [0 + 0.5 * 1, 1], B = [0, 0]. Step group s0 = {0.5, 0} (mean 0.25); s1, s2 are singletons.
    eps = [_episode(0, ["s0", "s1"], [0.0, 1.0]), _episode(0, ["s0", "s2"], [0.0, 0.0])]
    adv, stats = _run(["algo.name=gigpo", "algo.gamma=0.5", "rollout.group_size=2"], eps)
    assert adv == pytest.approx([0.5 + 0.25, 0.5 + 0.0, -0.5 - 0.25, -0.5 + 0.0])
    assert stats["train/step_groups_gt1"] == pytest.approx(1 / 3)
    half, _ = _run(["algo.name=gigpo", "algo.gamma=0.5", "algo.gigpo_omega=2.0", "rollout.group_size=2"], eps)
    assert half[0] == pytest.approx(0.5 + 2 * 0.25)


def test_gigpo_never_groups_states_of_different_episode_groups():
    eps = [_episode(0, ["s0"], [1.0]), _episode(0, ["s0"], [0.0]), _episode(1, ["s0"], [1.0]),
           _episode(1, ["s0"], [1.0])]
    _, stats = _run(["algo.name=gigpo", "rollout.group_size=2"], eps)
    assert stats["train/step_group_size_mean"] == 2.0  # two groups of two, not one of four
