"""Evaluation metrics: unbiased pass@k, succ@k and response-diversity measures. Plain Python, no tensors."""

from __future__ import annotations

from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, arXiv:2107.03374, Eq. 1).

        pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n-c+1}^{n} (1 - k / i)

    computed in the product form (the paper's numerically stable implementation) so no large binomials appear.
    It is the probability that a random size-k subset of the n samples holds at least one correct sample.

    Raises ValueError unless 0 <= c <= n and 1 <= k <= n.
    """
    if n < 1 or k < 1 or k > n:
        raise ValueError(f"pass@k needs 1 <= k <= n; got n={n}, k={k}")
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n; got n={n}, c={c}")
    if n - c < k:  # every size-k subset contains a correct sample
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def mean_pass_at_k(correct_counts: Sequence[int], n: int, k: int) -> float:
    """Mean of `pass_at_k(n, c, k)` over problems, each with n samples of which `correct_counts[j]` pass.

    Raises ValueError for an empty list.
    """
    if len(correct_counts) == 0:
        raise ValueError("mean_pass_at_k needs at least one problem")
    return sum(pass_at_k(n, c, k) for c in correct_counts) / len(correct_counts)


def succ_at_k(turns_solved: Sequence[int | None], k: int) -> float:
    """Fraction of episodes solved within ``k`` turns (UFO's succ@k, Liu et al. 2025, "A Simple 'Try Again' Can
    Elicit Multi-Turn LLM Reasoning"): ``turns_solved[i]`` is the turn (from 0) at which episode ``i`` was solved
    (``info["succ_turn"]`` of :class:`mmrl.envs.wrappers.TryAgain`) or ``None`` if it never was. With ``k=1`` it is
    single-turn accuracy. Raises ``ValueError`` for ``k < 1`` or no episodes."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if len(turns_solved) == 0:
        raise ValueError("succ_at_k needs at least one episode")
    return sum(turn is not None and turn < k for turn in turns_solved) / len(turns_solved)


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n (Li et al. 2016, arXiv:1510.03055): distinct n-grams / total n-grams over all texts.

    Tokens are whitespace-separated words; n-grams do not cross text boundaries. Returns 0.0 when the texts
    hold no n-gram at all. 1.0 means no n-gram repeats anywhere in the batch.
    """
    if n < 1:
        raise ValueError(f"distinct_n needs n >= 1; got {n}")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        words = text.split()
        for i in range(len(words) - n + 1):
            seen.add(tuple(words[i : i + n]))
            total += 1
    return len(seen) / total if total else 0.0


def duplicate_fraction(texts: Sequence[str]) -> float:
    """Fraction of texts that exactly equal an earlier text in the batch (0.0 for an empty batch).

    Three copies of one response and one other response give 2/4 = 0.5.
    """
    if len(texts) == 0:
        return 0.0
    return (len(texts) - len(set(texts))) / len(texts)


def thought_diversity(thoughts: Sequence[str]) -> dict[str, float]:
    """Thought-collapse indicators of a batch of thoughts (GTR): distinct-1/2 and the duplicate fraction. A
    collapsing agent writes the same thought whatever the state: distinct-n falls, duplicates rise."""
    return {"thought_distinct_1": distinct_n(thoughts, 1), "thought_distinct_2": distinct_n(thoughts, 2),
            "thought_duplicate_fraction": duplicate_fraction(thoughts)}
