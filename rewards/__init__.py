"""Reward functions: plain callables ``fn(completions, **columns) -> list[float | None]``.

The shape is TRL's: ``completions`` is a list of model responses and every keyword column is a list with one entry
per completion (e.g. ``answer=[...]``). ``None`` means "not applicable to this completion". Every reward function
must accept unknown columns through ``**kwargs``. Functions are registered by name only so that YAML configs and
envs can refer to them; trainers never special-case a reward.
"""

from __future__ import annotations

import difflib
import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

RewardFn = Callable[..., list[float | None]]

logger = logging.getLogger("mmrl.rewards")

_REGISTRY: dict[str, RewardFn] = {}


class UnknownRewardError(KeyError):
    """Raised by :func:`get_reward` for a name that is not registered."""

    def __str__(self) -> str:  # KeyError would print the message wrapped in quotes
        return str(self.args[0])


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    """Decorator registering a reward function under ``name`` (returns the function unchanged)."""

    def decorator(fn: RewardFn) -> RewardFn:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(
                f"reward {name!r} is already registered (by {existing.__module__}.{existing.__qualname__})"
            )
        _REGISTRY[name] = fn
        return fn

    return decorator


def reward_names() -> list[str]:
    """Sorted names of all registered reward functions."""
    return sorted(_REGISTRY)


def get_reward(name: str) -> RewardFn:
    """The reward function registered as ``name``; an unknown name raises :class:`UnknownRewardError`."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownRewardError(
            f"unknown reward {name!r}.{hint} Known rewards: {', '.join(reward_names())}"
        ) from None


def call_reward(
    fn: RewardFn | str, completions: Sequence[Any], *, timeout_s: float | None = 10.0, **columns: Any
) -> list[float | None]:
    """Run a reward function defensively: a crash, a hang or a malformed result never stops training.

    ``fn`` runs in a fresh daemon thread (so a hung reward cannot block interpreter exit either). If it raises,
    takes longer than ``timeout_s`` seconds, or returns something that is not one number-or-None per completion,
    a warning goes to the ``mmrl.rewards`` logger and the result is ``[None] * len(completions)``. Non-finite
    values become ``None``. ``timeout_s=None`` calls ``fn`` inline, without a thread or a time limit.
    """
    return call_reward_checked(fn, completions, timeout_s=timeout_s, **columns)[0]


def call_reward_checked(
    fn: RewardFn | str, completions: Sequence[Any], *, timeout_s: float | None = 10.0, **columns: Any
) -> tuple[list[float | None], str | None]:
    """:func:`call_reward`'s values, and why they are not the function's own (it raised, timed out, returned
    something malformed or a non-finite number), or None when they are."""
    if isinstance(fn, str):
        fn = get_reward(fn)
    completions = list(completions)
    n = len(completions)
    name = getattr(fn, "__name__", repr(fn))
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(completions, **columns)
        except Exception as error:  # noqa: BLE001 - any failure of user code becomes "no reward"
            outcome["error"] = error

    if timeout_s is None:
        target()
    else:
        worker = threading.Thread(target=target, name=f"mmrl-reward-{name}", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            logger.warning(
                "reward %s timed out after %.3g s; returning None for %d completions", name, timeout_s, n
            )
            return [None] * n, "timeout"
    if "error" in outcome:
        error = outcome["error"]
        logger.warning(
            "reward %s raised %s: %s; returning None for %d completions", name, type(error).__name__, error, n
        )
        return [None] * n, "exception"
    return _validated(name, outcome.get("value"), n)


def _validated(name: str, values: Any, n: int) -> tuple[list[float | None], str | None]:
    try:
        if isinstance(values, (str, bytes)):
            raise TypeError
        values = list(values)
    except TypeError:
        logger.warning("reward %s returned %s, not a list; returning None", name, type(values).__name__)
        return [None] * n, "malformed"
    if len(values) != n:
        logger.warning(
            "reward %s returned %d values for %d completions; returning None", name, len(values), n
        )
        return [None] * n, "malformed"
    out: list[float | None] = []
    problem = None
    for value in values:
        if value is None:
            out.append(None)
            continue
        try:
            if isinstance(value, (str, bytes)):
                raise TypeError
            number = float(value)
        except (TypeError, ValueError):
            logger.warning("reward %s returned a non-number %r; returning None", name, value)
            return [None] * n, "malformed"
        if not math.isfinite(number):
            logger.warning("reward %s returned %r; counting it as None", name, number)
            out.append(None)
            problem = "non_finite"
        else:
            out.append(number)
    return out, problem


# Importing the submodules registers their rewards.
from mmrl.rewards import accuracy, caption, format, grounding, length, math_answer, satori, signals  # noqa: E402, F401, I001
from mmrl.rewards import instructions, judge, safety, segment, svg  # noqa: E402, F401, I001

__all__ = [
    "RewardFn",
    "UnknownRewardError",
    "call_reward",
    "call_reward_checked",
    "get_reward",
    "register_reward",
    "reward_names",
]
