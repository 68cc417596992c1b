"""Checks of env constructor arguments, with the error wording every env uses."""

from __future__ import annotations

from typing import Any


def int_in_range(name: str, value: Any, low: int, high: int) -> int:
    """`value` if it is an int in [low, high]; else ``ValueError("<name> must be an int in [low, high], got ...")``."""
    if not (isinstance(value, int) and low <= value <= high):
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return value
