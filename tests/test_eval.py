"""Evaluation summaries: held-out success per env, unbiased pass@k over repeated samples, format errors."""

from __future__ import annotations

import pytest

from mmrl.config import EvalConfig
from mmrl.distributed import DistContext
from mmrl.eval import eval_requests, summarize
from mmrl.metrics import pass_at_k
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn


def _episode(env_index: int, group: int, success: bool, tokens: int = 3, format_error: bool = False) -> Episode:
    info = {"success": success, "format_error": format_error, "reward/answer": float(success), "iou": 0.5}
    turn = Turn(prompt=None, completion=Completion([1] * tokens, "x", True), reward=float(success), info=info)
    return Episode(EpisodeRequest(env_index, 1_000_000 + group, group), {}, [turn])


def test_summary_counts_success_pass_at_k_per_env_and_format_errors():
    cfg = EvalConfig(episodes=2, samples_per_episode=4, pass_k=[1, 2, 4])
    outcomes = {(0, 0): [1, 0, 0, 0], (0, 1): [0, 0, 0, 0], (1, 2): [1, 1, 1, 1], (1, 3): [1, 0, 1, 0]}
    episodes = [_episode(env, group, bool(s), format_error=not s) for (env, group), wins in outcomes.items()
                for s in wins]
    out = summarize(episodes, ["a/A-v0", "b/B-v0"], cfg, DistContext())
    per_group = [sum(w) / 4 for w in outcomes.values()]
    assert out["eval/success_rate"] == pytest.approx(sum(per_group) / 4)
    assert out["eval/a/A-v0/success_rate"] == pytest.approx((0.25 + 0.0) / 2)
    assert out["eval/b/B-v0/success_rate"] == pytest.approx((1.0 + 0.5) / 2)
    for k in (1, 2, 4):
        expected = sum(pass_at_k(4, sum(w), k) for w in outcomes.values()) / 4
        assert out[f"eval/pass@{k}"] == pytest.approx(expected)
    assert out["eval/pass@4"] == pytest.approx(0.75)  # 3 of 4 groups solved at least once
    assert out["eval/format_error_rate"] == pytest.approx(9 / 16)  # every failed sample
    assert out["eval/response_length"] == 3
    assert out["eval/reward/answer"] == pytest.approx(sum(map(sum, outcomes.values())) / 16)  # reward components
    assert out["eval/iou"] == pytest.approx(0.5)


def test_eval_requests_split_held_out_seeds_between_processes():
    cfg = EvalConfig(episodes=5, samples_per_episode=2)
    ranks = [eval_requests(2, cfg, DistContext(rank=r, world_size=2)) for r in range(2)]
    seeds = [{(q.env_index, q.seed) for q in reqs} for reqs in ranks]
    assert not seeds[0] & seeds[1]
    assert seeds[0] | seeds[1] == {(e, 1_000_000 + j) for e in range(2) for j in range(5)}
    assert all(q.seed >= cfg.seed_offset for reqs in ranks for q in reqs)


def _multi_turn(group: int, successes: list[bool], error: str | None = None) -> Episode:
    turns = [Turn(prompt=None, completion=Completion([1], "x", True), reward=float(s), info={"success": s})
             for s in successes]
    return Episode(EpisodeRequest(0, 1_000_000 + group, group), {}, turns, error=error)


def test_summary_reports_succ_at_k_next_to_pass_at_k():
    """succ@k counts a sampled episode solved when its first successful turn is < k (UFO's metric); pass@k stays
    the single-turn estimator over a group's samples (here: whether each episode ended successfully)."""
    cfg = EvalConfig(episodes=2, samples_per_episode=2, pass_k=[1, 2], succ_k=[1, 2, 3])
    episodes = [
        _multi_turn(0, [True]),                 # solved at turn 0
        _multi_turn(0, [False, True]),          # solved at turn 1
        _multi_turn(1, [False, False, True]),   # solved at turn 2
        _multi_turn(1, [False, False, False]),  # never solved
    ]
    out = summarize(episodes, ["a/A-v0"], cfg, DistContext())
    assert out["eval/succ@1"] == pytest.approx(1 / 4)
    assert out["eval/succ@2"] == pytest.approx(2 / 4)
    assert out["eval/succ@3"] == pytest.approx(3 / 4)
    assert out["eval/pass@1"] == pytest.approx((1.0 + 0.5) / 2)
    assert out["eval/pass@2"] == pytest.approx(1.0)
    crashed = summarize([_multi_turn(0, [True], error="env crashed")] * 2, ["a/A-v0"], cfg, DistContext())
    assert crashed["eval/succ@3"] == 0.0


def _answered(group: int, text: str, success: bool) -> Episode:
    turn = Turn(prompt=None, completion=Completion([1, 2], text, True), reward=float(success), info={"success": success})
    return Episode(EpisodeRequest(0, 1_000_000 + group, group), {}, [turn])


def test_pass_at_k_curve_and_cot_pass_at_k_count_only_judged_reasoning():
    """Four samples per prompt: the curve reports k = 1, 2, 4; CoT-pass@k counts a success only when its reasoning
    was judged right; the rule judge checks the thought's equations."""
    from mmrl.formats import THINK_ANSWER
    from mmrl.judges import RuleJudge

    cfg = EvalConfig(episodes=1, samples_per_episode=4, pass_k=[1])
    texts = ["<think>2 + 2 = 4</think><answer>4</answer>", "<think>2 + 2 = 5</think><answer>4</answer>",
             "<think>guess</think><answer>4</answer>", "<think>2 + 2 = 4</think><answer>3</answer>"]
    successes = [True, True, True, False]
    episodes = [_answered(0, t, s) for t, s in zip(texts, successes)]
    judged = [RuleJudge().judge("", t, {}, THINK_ANSWER) for t in texts]
    assert judged == [True, False, False, True]
    out = summarize(episodes, ["a/A-v0"], cfg, DistContext(), judged)
    assert {k for k in out if k.startswith("eval/pass@")} == {"eval/pass@1", "eval/pass@2", "eval/pass@4"}
    assert out["eval/pass@1"] == pytest.approx(3 / 4)
    assert out["eval/cot_pass@1"] == pytest.approx(1 / 4)  # only the first sample: right answer, right equation
    assert out["eval/cot_pass@2"] == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert out["eval/answer_distinct_1"] == pytest.approx(2 / 4)  # answers 4, 4, 4, 3
