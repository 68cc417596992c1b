"""Depth-first search traces (ASTRO's round-0 data) of Countdown puzzles, worked out by hand."""

from __future__ import annotations

from mmrl.envs.text.countdown import check_countdown
from mmrl.envs.text.search_trace import numbers_search_trace
from mmrl.rewards.reasoning import equations_hold


def test_trace_tries_backtracks_and_answers():
    thought, answer = numbers_search_trace([3, 2], 6)
    assert thought == "Try 3 + 2 = 5. Not 6; go back. Try 3 - 2 = 1. Not 6; go back. Try 3 * 2 = 6. That reaches 6."
    assert answer == "3 * 2"
    assert numbers_search_trace([2, 2], 7) is None  # 4, 0 (not made), 4, 1: no way


def test_long_searches_are_cut_after_the_dead_ends_and_follow_the_working_path():
    thought, answer = numbers_search_trace([3, 7, 25, 5], 67, max_dead_ends=3)
    assert thought.count("go back") == 3 and "Let me try another way." in thought
    assert thought.endswith("Try 25 - 5 = 20. Try 20 * 3 = 60. Try 60 + 7 = 67. That reaches 67.")
    assert check_countdown(answer, [3, 7, 25, 5], 67) and equations_hold(thought)
