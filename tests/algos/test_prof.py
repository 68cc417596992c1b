"""PROF's process-consistency filter, worked out by hand."""

from __future__ import annotations

import pytest
import torch

from mmrl.algos.advantages import group_relative_advantages
from mmrl.algos.base import Sample
from mmrl.algos.prof import balanced_drop_counts, process_score_gap, prof_keep_mask
from mmrl.algos.registry import make_algorithm
from mmrl.config import ConfigError, load_config
from mmrl.formats import THINK_ANSWER
from mmrl.models.policy import Prompt
from mmrl.rewards.reasoning import equation_share
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn


def test_drop_counts_take_from_the_larger_side_first():
    assert balanced_drop_counts(5, 3, 2) == (2, 0)  # keeps 3 right, 3 wrong
    assert balanced_drop_counts(1, 7, 2) == (0, 2)
    assert balanced_drop_counts(4, 4, 2) == (1, 1)
    assert balanced_drop_counts(4, 4, 3) == (2, 1)  # the odd one off the correct side
    assert balanced_drop_counts(5, 3, 4) == (3, 1)  # 2 to balance, then one each
    assert balanced_drop_counts(8, 0, 2) == (2, 0)
    assert balanced_drop_counts(1, 1, 5) == (1, 1)  # never more than the group


def test_keep_mask_drops_correct_with_low_and_wrong_with_high_process_scores():
    correct = torch.tensor([True, True, True, True, True, False, False, False])
    process = torch.tensor([1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5])
    keep = prof_keep_mask(correct, process, 2)  # drops 2 correct: scores 0.0 (index 2) and 0.5 (index 1)
    assert keep.tolist() == [True, False, False, True, True, True, True, True]
    keep = prof_keep_mask(~correct, process, 2)  # now 3 right, 5 wrong: drop the 2 wrong with the highest scores
    assert keep.tolist() == [True, True, True, False, False, True, True, True]  # three 1.0s: the later two go


def test_advantages_over_the_kept_samples_only():
    returns = torch.tensor([1.0, 1.0, 0.0, 0.0])
    keep = torch.tensor([True, False, True, True])
    # kept returns 1, 0, 0: mean 1/3, population std sqrt(2)/3
    adv = group_relative_advantages(returns, 4, keep=keep)
    s = (2 ** 0.5) / 3
    assert adv.tolist() == pytest.approx([(2 / 3) / s, 0.0, (-1 / 3) / s, (-1 / 3) / s], abs=1e-4)
    assert group_relative_advantages(returns, 4, normalize_std=False, keep=keep).tolist() == pytest.approx(
        [2 / 3, 0.0, -1 / 3, -1 / 3])


def test_process_gap_and_equation_share():
    process = torch.tensor([1.0, 0.5, 0.0, 1.0])
    correct = torch.tensor([True, True, False, False])
    assert process_score_gap(process, correct, torch.ones(4, dtype=torch.bool)) == pytest.approx(0.25)
    assert process_score_gap(process, correct, torch.tensor([True, True, False, True])) == 0.0 + (0.75 - 1.0)
    assert process_score_gap(process, correct, torch.tensor([True, False, False, False])) == 0.0
    assert equation_share("3 + 2 = 5, then 5 * 2 = 11") == 0.5
    assert equation_share("no equations here") == 0.0


def _countdown_episode(thought: str, success: bool) -> Episode:
    text = f"<think>{thought}</think><answer>x</answer>"
    prompt = Prompt([{"role": "user", "content": "q"}], "q", torch.tensor([1]))
    turn = Turn(prompt, Completion([5, 5], text, True), float(success), {"success": success})
    return Episode(EpisodeRequest(0, 0, 0), {}, [turn], response_format=THINK_ANSWER)


def test_prof_algorithm_weights_dropped_rollouts_zero_and_logs_the_filter():
    algorithm = make_algorithm(load_config(None, ["algo.name=prof", "rollout.group_size=4", "algo.prof_drop=2"]))
    episodes = [_countdown_episode("1 + 2 = 3", True), _countdown_episode("1 + 2 = 4", True),
                _countdown_episode("2 + 2 = 4", True), _countdown_episode("1 * 2 = 3", False)]
    samples = [Sample(ep.turns[0].prompt, [5, 5], i) for i, ep in enumerate(episodes)]
    stats = algorithm.advantages(episodes, samples)
    # 3 right (process 1, 0, 1), 1 wrong (0): drop 2 correct -> the 0 one, then the later of the 1s
    assert [s.weight for s in samples] == [1.0, 0.0, 0.0, 1.0]
    assert samples[0].advantage == pytest.approx(1.0, abs=1e-4) and samples[3].advantage == pytest.approx(-1.0, abs=1e-4)
    assert stats["prof/dropped"] == 2 and stats["prof/dropped_correct"] == 2
    assert stats["prof/process_gap_before"] == pytest.approx(2 / 3) and stats["prof/process_gap_after"] == 1.0


def test_prof_config_errors_name_their_keys():
    with pytest.raises(ConfigError, match="algo.prof_scorer"):
        load_config(None, ["algo.name=prof", "algo.prof_scorer=prm"])
    with pytest.raises(ConfigError, match="algo.prof_scorer"):
        load_config(None, ["algo.name=prof", "algo.prof_scorer=corrector"])
    with pytest.raises(ConfigError, match="algo.prof_drop"):
        load_config(None, ["algo.name=grpo", "algo.prof_drop=3"])


def test_prof_with_a_corrector_model_scores_by_its_verdict():
    cfg = load_config(None, ["algo.name=prof", "algo.prof_scorer=corrector", "gtr.corrector=oracle"])
    scorer = make_algorithm(cfg).scorer  # the oracle stands in for a model behind the corrector endpoints
    info = {"expert_action": "<think>3 * 2 = 6</think><answer>3 * 2</answer>", "expert_thought": "3 * 2 = 6"}
    assert scorer.score("q", "<think>so 3 * 2</think><answer>3 * 2</answer>", info, THINK_ANSWER) == 1.0
    assert scorer.score("q", "<think>so 3 + 2</think><answer>3 + 2</answer>", info, THINK_ANSWER) == 0.0
