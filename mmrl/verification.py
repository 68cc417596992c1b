"""Verification prompts built from a step's own rollouts: the policy judging solutions (RISE's online
self-verification, SPARK's pointwise and pairwise generative verification).

A verification prompt shows the problem as the policy saw it (its last turn's messages, image included) and a
solution; the policy answers in the `<think>...</think><answer>...</answer>` format with a verdict, and the
outcome verifier's label of that solution says whether the verdict is right. Verdicts are read from the answer
tag only (`mmrl.formats.THINK_ANSWER`); model text is never executed.
"""

from __future__ import annotations

from mmrl.formats import THINK_ANSWER

POINTWISE_INSTRUCTION = ("Is the proposed solution correct? Check its steps, then answer <answer>1</answer> if it is "
                         "correct or <answer>0</answer> if it is not.")
PAIRWISE_INSTRUCTION = ("Exactly one of the two proposed solutions is correct. Check both, then answer "
                        "<answer>1</answer> or <answer>2</answer>: the number of the correct one.")
_YES = {"1", "yes", "correct", "true", "right"}
_NO = {"0", "no", "incorrect", "wrong", "false"}


def _problem_text(messages: list[dict]) -> tuple[list[dict], str, list[dict]]:
    """(the messages before the last user turn, the last user turn's text, its non-text parts such as images)."""
    last = messages[-1]
    content = last["content"]
    if isinstance(content, str):
        return messages[:-1], content, []
    text = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return messages[:-1], text, [p for p in content if p.get("type") != "text"]


def _with_user_text(messages: list[dict], text: str) -> list[dict]:
    before, _, parts = _problem_text(messages)
    content = [*parts, {"type": "text", "text": text}] if parts else text
    return [*before, {"role": "user", "content": content}]


def pointwise_messages(problem_messages: list[dict], solution: str) -> list[dict]:
    """Chat messages asking whether `solution` solves the problem of `problem_messages` (the solving turn's)."""
    _, problem, _ = _problem_text(problem_messages)
    return _with_user_text(problem_messages,
                           f"Problem:\n{problem}\n\nProposed solution:\n{solution}\n\n{POINTWISE_INSTRUCTION}")


def pairwise_messages(problem_messages: list[dict], first: str, second: str) -> list[dict]:
    """Chat messages asking which of two solutions (one right, one wrong) solves the problem."""
    _, problem, _ = _problem_text(problem_messages)
    return _with_user_text(problem_messages, f"Problem:\n{problem}\n\nSolution 1:\n{first}\n\nSolution 2:\n{second}"
                                             f"\n\n{PAIRWISE_INSTRUCTION}")


def pointwise_verdict(response: str) -> bool | None:
    """The verdict of a pointwise verification response: True (correct), False (not), None (no readable verdict)."""
    answer = THINK_ANSWER.action(response)
    if answer is None:
        return None
    word = answer.strip().strip(".").lower()
    return True if word in _YES else False if word in _NO else None


def pairwise_verdict(response: str) -> int | None:
    """The solution (1 or 2) a pairwise verification response picks, or None."""
    answer = THINK_ANSWER.action(response)
    word = None if answer is None else answer.strip().strip(".").lower()
    return {"1": 1, "2": 2}.get(word) if word is not None else None


def verification_reward(verdict: bool | int | None, label: bool | int) -> float:
    """1 when the verdict matches the verifier's label, else 0 (an unreadable verdict is wrong)."""
    return float(verdict is not None and verdict == label)


def pick_balanced(right: list[int], wrong: list[int], n: int) -> list[int]:
    """Up to `n` of the indices, alternating right and wrong (right first) while both last, then the rest in order."""
    out: list[int] = []
    r, w = list(right), list(wrong)
    while len(out) < n and (r or w):
        if r and (len(out) % 2 == 0 or not w):
            out.append(r.pop(0))
        else:
            out.append(w.pop(0))
    return out
