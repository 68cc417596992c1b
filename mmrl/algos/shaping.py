"""Reward shaping on response lengths: pure functions.

- DAPO's overlong reward shaping (Yu et al. 2025, arXiv:2503.14476, Eq. 13, "Soft Overlong Punishment").
"""

from __future__ import annotations


def overlong_penalty(length: int, max_length: int, buffer: int) -> float:
    """DAPO's soft overlong punishment of a response of `length` tokens, with L_max = `max_length` and
    L_cache = `buffer`:

        0                                   if length <= L_max - L_cache
        ((L_max - L_cache) - length) / L_cache   if L_max - L_cache < length <= L_max   (from 0 down to -1)
        -1                                  if length > L_max

    `buffer` 0 turns it off (always 0).
    """
    if buffer < 0 or buffer > max_length:
        raise ValueError(f"overlong buffer must be in [0, max_length={max_length}], got {buffer}")
    if buffer == 0:
        return 0.0
    free = max_length - buffer
    if length <= free:
        return 0.0
    if length > max_length:
        return -1.0
    return (free - length) / buffer
