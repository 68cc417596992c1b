"""DAPO's soft overlong punishment, by hand."""

from __future__ import annotations

import pytest

from mmrl.algos.shaping import overlong_penalty


def test_overlong_penalty_is_zero_then_linear_down_to_minus_one_at_the_limit():
    # L_max 8, L_cache 4: free up to 4 tokens, then -(len - 4) / 4
    assert [overlong_penalty(n, 8, 4) for n in (1, 4, 5, 6, 8, 9)] == [0.0, 0.0, -0.25, -0.5, -1.0, -1.0]
    assert overlong_penalty(8, 8, 0) == 0.0  # buffer 0: off
    with pytest.raises(ValueError, match="overlong buffer"):
        overlong_penalty(3, 8, 9)
