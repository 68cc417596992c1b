"""pass@k against brute-force enumeration, and the diversity metrics."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmrl.metrics import distinct_n, duplicate_fraction, mean_pass_at_k, pass_at_k


def brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12)


@given(n=st.integers(1, 300), data=st.data())
def test_pass_at_k_matches_binomial_formula(n, data):
    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    expected = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= pass_at_k(n, c, k) <= 1.0


def test_pass_at_k_special_cases():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 = c / n
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c < k
    assert pass_at_k(5000, 1, 2500) == pytest.approx(0.5)  # large n: no overflow


def test_pass_at_k_errors():
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(3, 1, 0)
    with pytest.raises(ValueError, match="c <= n"):
        pass_at_k(3, 4, 1)


def test_mean_pass_at_k():
    assert mean_pass_at_k([0, 2, 4], n=4, k=1) == pytest.approx((0 + 0.5 + 1) / 3)
    assert mean_pass_at_k([1, 1], n=2, k=2) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        mean_pass_at_k([], n=4, k=1)


def test_distinct_n():
    texts = ["a b a b", "a b c"]
    # unigrams: a b a b a b c -> 3 distinct / 7
    assert distinct_n(texts, 1) == pytest.approx(3 / 7)
    # bigrams: (a b) (b a) (a b) | (a b) (b c) -> 3 distinct / 5; none crosses the text boundary
    assert distinct_n(texts, 2) == pytest.approx(3 / 5)
    assert distinct_n(["one two", "three"], 3) == 0.0
    assert distinct_n([], 1) == 0.0
    assert distinct_n(["x  y\n z"], 1) == 1.0
    with pytest.raises(ValueError):
        distinct_n(texts, 0)


def test_duplicate_fraction():
    assert duplicate_fraction(["a", "a", "b", "a"]) == 0.5
    assert duplicate_fraction(["a", "b"]) == 0.0
    assert duplicate_fraction([]) == 0.0
    assert duplicate_fraction(["same"] * 4) == 0.75


def test_pass_k_curve_doubles_up_to_n():
    from mmrl.metrics import pass_k_curve

    assert pass_k_curve(64) == [1, 2, 4, 8, 16, 32, 64]
    assert pass_k_curve(6, [3]) == [1, 2, 3, 4, 6]
    assert pass_k_curve(1) == [1]


def test_mutual_information_between_prompts_and_responses():
    import math

    from mmrl.metrics import prompt_response_mutual_information as mi

    # Two prompts, each answered with its own fixed response: H(Y) = ln 2, H(Y|X) = 0, I = ln 2.
    out = mi(["a", "a", "b", "b"], ["x", "x", "y", "y"])
    assert out["response_mi"] == pytest.approx(math.log(2)) and out["response_cond_entropy"] == 0.0
    # Template collapse: the same two answers for both prompts, half and half: I = 0, H(Y|X) = ln 2.
    out = mi(["a", "a", "b", "b"], ["x", "y", "x", "y"])
    assert out["response_mi"] == pytest.approx(0.0) and out["response_cond_entropy"] == pytest.approx(math.log(2))
    # Prompt a: x, x; prompt b: x, y. H(Y) = H(3/4, 1/4); H(Y|X) = (0 + ln 2) / 2.
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert mi(["a", "a", "b", "b"], ["x", "x", "x", "y"])["response_mi"] == pytest.approx(h - math.log(2) / 2)
