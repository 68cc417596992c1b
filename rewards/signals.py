"""Rewards that pass on what an env's rules decided about a step (a game's outcome, a verifier's verdict), so
those signals are registered rewards too and an env's whole reward is a weighted sum of names.

Each reads one column the env provides and returns 0.0 where the column is absent.
"""

from __future__ import annotations

from typing import Any

from mmrl.rewards import register_reward


def _flag(values: list[Any] | None, n: int) -> list[float | None]:
    return [0.0] * n if values is None else [float(bool(v)) for v in values]


@register_reward("game")
def game(completions: list[Any], *, game: list[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """The game's own reward for the step (the card games' rules), from the ``game`` column."""
    return [0.0] * len(completions) if game is None else [float(v) for v in game]


@register_reward("format_error")
def format_error(completions: list[Any], *, format_error: list[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """1.0 when the env could not read an action from the response (the ``format_error`` column); give it a
    negative weight to penalise malformed responses."""
    return _flag(format_error, len(completions))


@register_reward("accuracy")
def accuracy(completions: list[Any], *, verdict: list[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """1.0 when the env's verifier judged the answer right (the ``verdict`` column is True), else 0.0."""
    return [0.0] * len(completions) if verdict is None else [float(v is True) for v in verdict]


@register_reward("won")
def won(completions: list[Any], *, won: list[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """1.0 on the step that wins the game (the ``won`` column)."""
    return _flag(won, len(completions))


@register_reward("goal_condition")
def goal_condition(completions: list[Any], *, goal_condition_gain: list[Any] | None = None,
                   **kwargs: Any) -> list[float | None]:
    """The increase of the share of the task's sub-goals met at this step (ALFWorld's goal-condition rate)."""
    return [0.0] * len(completions) if goal_condition_gain is None else [float(v) for v in goal_condition_gain]


@register_reward("invalid_action")
def invalid_action(completions: list[Any], *, invalid_action: list[Any] | None = None,
                   **kwargs: Any) -> list[float | None]:
    """1.0 when the action was not admissible (the ``invalid_action`` column); weight it negative."""
    return _flag(invalid_action, len(completions))


@register_reward("solved")
def solved(completions: list[Any], *, solved_discount: list[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """UFO's reward for a right answer at turn t: ``gamma**t`` (the ``solved_discount`` column), 0 when wrong."""
    return [0.0] * len(completions) if solved_discount is None else [float(v) for v in solved_discount]


@register_reward("repetition")
def repetition(completions: list[Any], *, repetition: list[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """UFO's share of repeated answers over an episode, ``1 - unique / answers`` (the ``repetition`` column, set at
    the last turn); weight it negative."""
    return [0.0] * len(completions) if repetition is None else [float(v) for v in repetition]
