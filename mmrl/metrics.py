"""Evaluation metrics: unbiased pass@k (and its curve), succ@k, response-diversity measures and the prompt/response
mutual information. Plain Python, no tensors."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
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


def pass_k_curve(n: int, requested: Sequence[int] = ()) -> list[int]:
    """The k values of a pass@k curve over n samples: 1, 2, 4, ... up to n, n itself, and any `requested` k."""
    ks = {k for k in requested if 1 <= k <= n} | {n}
    k = 1
    while k <= n:
        ks.add(k)
        k *= 2
    return sorted(ks)


def _entropy(counts: Sequence[int]) -> float:
    total = sum(counts)
    return -sum(c / total * math.log(c / total) for c in counts if c) if total else 0.0


def prompt_response_mutual_information(prompts: Sequence[str], responses: Sequence[str]) -> dict[str, float]:
    """How much the responses depend on the prompt, within one batch (a collapse diagnostic in the spirit of
    RAGEN-2's mutual-information proxy: Wang et al. 2025, "RAGEN: Understanding Self-Evolution in LLM Agents via
    Multi-Turn Reinforcement Learning", arXiv:2504.20073, on "template collapse").

    On the empirical joint distribution of (prompt, response) pairs, with responses compared as exact strings:

        H(Y)      entropy of the responses over the whole batch      (nats)
        H(Y | X)  mean over prompts of the entropy of their responses
        I(X; Y) = H(Y) - H(Y | X)   in [0, H(X)]

    A policy that answers every prompt the same way has I = 0 however varied its answers are ("template
    collapse"); one whose answers are fixed per prompt has H(Y | X) = 0 (no exploration within a group). Returns
    'response_entropy', 'response_cond_entropy' and 'response_mi' (0 for an empty batch).
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if not prompts:
        return {"response_entropy": 0.0, "response_cond_entropy": 0.0, "response_mi": 0.0}
    per_prompt: dict[str, Counter] = defaultdict(Counter)
    for p, r in zip(prompts, responses):
        per_prompt[p][r] += 1
    h_y = _entropy(list(Counter(responses).values()))
    h_y_x = sum(sum(c.values()) * _entropy(list(c.values())) for c in per_prompt.values()) / len(prompts)
    return {"response_entropy": h_y, "response_cond_entropy": h_y_x, "response_mi": max(h_y - h_y_x, 0.0)}
