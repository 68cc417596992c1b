"""An env's reward as a weighted sum of registered reward functions, named in `reward_weights`.

Every env builds one :class:`RewardWeights` from its default weights and the user's ``reward_weights`` kwarg
(merged over the defaults: a new name adds a reward, a weight of 0 turns one off but it is still computed and
reported, so a comparison run can watch what it no longer rewards). A name is a registered reward
(:func:`mmrl.rewards.register_reward`) or ``module:name``, which imports ``module`` first (it registers ``name``),
as Gymnasium does for env ids. At each step the env calls :meth:`RewardWeights.score` with the response and the
columns it knows (the reference answer, the game's own reward, ...): every reward function receives all of them,
TRL-style, and takes what it needs.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from typing import Any

from mmrl.rewards import RewardFn, call_reward_checked, get_reward


def resolve_reward(name: str) -> tuple[str, RewardFn]:
    """(registered name, function) of `name`: ``exact_match`` or ``theirmodule:their_reward`` (the module is
    imported first). ValueError naming the problem for a module that cannot be imported or an unknown name."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a reward name must be a non-empty string, got {name!r}")
    module, sep, short = name.rpartition(":")
    if sep:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(f"reward {name!r}: cannot import module {module!r} ({error})") from None
    try:
        return short, get_reward(short)
    except KeyError as error:
        raise ValueError(str(error)) from None


REWARD_TIMEOUT_S = 10.0
"""Default time limit of one reward function on one response: past it the reward counts 0 (and is counted)."""


class Components(dict):
    """The unweighted value of every reward component of one response, plus the names of those that failed
    (raised, timed out, returned a malformed or non-finite value) and count 0."""

    def __init__(self, values: Mapping[str, float], failed: tuple[str, ...] = ()):
        super().__init__(values)
        self.failed = failed


class RewardWeights:
    """Weights of named reward functions: the user's `overrides` merged over an env's `defaults`. Each function
    runs on a thread of its own with a time limit (`timeout_s`, None runs it inline without one)."""

    def __init__(self, defaults: Mapping[str, float], overrides: Mapping[str, float] | None = None,
                 timeout_s: float | None = REWARD_TIMEOUT_S):
        self.timeout_s = timeout_s
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ValueError(f"reward_weights must map reward names to weights, got {overrides!r}")
        self.weights: dict[str, float] = {}
        self.functions: dict[str, RewardFn] = {}
        for name, weight in {**defaults, **(overrides or {})}.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise ValueError(f"reward_weights[{name!r}] must be a finite number, got {weight!r}")
            short, fn = resolve_reward(name)
            self.weights[short] = float(weight)
            self.functions[short] = fn

    def score(self, response: str, **columns: Any) -> tuple[float, Components]:
        """(weighted total, unweighted value of every component) of one response; a reward that is not applicable
        (None), raises, hangs past `timeout_s` or returns garbage counts 0, and is named in the components'
        `failed` (so `info` reports it)."""
        values: dict[str, float] = {}
        failed = []
        rows = {key: [value] for key, value in columns.items()}
        for name, fn in self.functions.items():
            result, problem = call_reward_checked(fn, [response], timeout_s=self.timeout_s, **rows)
            values[name] = 0.0 if result[0] is None else float(result[0])
            if problem is not None:
                failed.append(name)
        return sum(self.weights[n] * v for n, v in values.items()), Components(values, tuple(failed))

    @staticmethod
    def info(values: Mapping[str, float]) -> dict[str, float]:
        """The components as step-info entries ``reward/<name>`` (logged per component by the trainer), plus
        ``reward_errors``: how many reward functions failed on this step (counted as `train/reward_errors`)."""
        info = {f"reward/{name}": value for name, value in values.items()}
        failed = getattr(values, "failed", ())
        if failed:
            info["reward_errors"] = float(len(failed))
        return info
