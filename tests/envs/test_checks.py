"""The shared constructor check: one wording for every env's integer arguments."""

from __future__ import annotations

import gymnasium as gym
import pytest

from mmrl.envs.checks import int_in_range


def test_int_in_range_keeps_the_bounds_and_names_the_argument():
    assert int_in_range("disks", 1, 1, 8) == 1 and int_in_range("disks", 8, 1, 8) == 8
    for bad in (0, 9, 3.0, "3", None):
        with pytest.raises(ValueError) as err:
            int_in_range("disks", bad, 1, 8)
        assert str(err.value) == f"disks must be an int in [1, 8], got {bad!r}"


@pytest.mark.parametrize(("env_id", "kwargs", "message"), [
    ("mmrl/Hanoi-v0", {"disks": 9}, "disks must be an int in [1, 8], got 9"),
    ("mmrl/GraphColoring-v0", {"colours": 5}, "colours must be an int in [2, 4], got 5"),
    ("mmrl/SVG-v0", {"height": 16}, "height must be an int in [32, 256], got 16"),
])
def test_envs_word_a_bad_integer_argument_the_same_way(env_id, kwargs, message):
    with pytest.raises(ValueError) as err:
        gym.make(env_id, **kwargs)
    assert message in str(err.value)
