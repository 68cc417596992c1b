"""``mmrl/Hanoi-v0``: gather scattered disks onto one peg in the fewest legal moves (Tower of Hanoi)."""

from __future__ import annotations

import re

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

PEGS = "ABC"
_MOVE = re.compile(r"([ABC])\s*(?:->|to|-|>)\s*([ABC])", re.IGNORECASE)
#: A state: ``state[d]`` is the peg of disk ``d`` (disk 0 the smallest).
State = tuple[str, ...]


def apply_moves(state: State, moves: list[tuple[str, str]]) -> State | None:
    """The state after ``moves`` (each moves the top disk of one peg onto another), or ``None`` at the first
    illegal move: an empty source peg, or a disk put on a smaller one."""
    pegs = list(state)
    for source, target in moves:
        on_source = [d for d, p in enumerate(pegs) if p == source]
        if not on_source or source == target:
            return None
        disk = min(on_source)
        if any(d < disk for d, p in enumerate(pegs) if p == target):
            return None
        pegs[disk] = target
    return tuple(pegs)


def optimal_moves(state: State, target: str) -> list[tuple[str, str]]:
    """A shortest move list gathering every disk on ``target``: the largest disk not yet there goes straight
    to it after the smaller disks are gathered on the third peg (the classic recursion, optimal)."""
    moves: list[tuple[str, str]] = []
    pegs = list(state)

    def gather(disks: int, goal: str) -> None:  # move disks 0..disks-1 onto goal
        if disks == 0:
            return
        largest = disks - 1
        if pegs[largest] == goal:
            gather(largest, goal)
            return
        spare = next(p for p in PEGS if p not in (pegs[largest], goal))
        gather(largest, spare)
        moves.append((pegs[largest], goal))
        pegs[largest] = goal
        gather(largest, goal)

    gather(len(state), target)
    return moves


def parse_moves(text: str) -> list[tuple[str, str]] | None:
    """Moves written ``A->C, A->B`` (or ``A to C``); ``None`` if anything else is there."""
    moves = [(s.upper(), t.upper()) for s, t in _MOVE.findall(text)]
    leftover = _MOVE.sub("", text)
    return moves if moves and not re.sub(r"[\s,;.]", "", leftover) else None


class HanoiEnv(TextTaskEnv):
    """Gather ``disks`` disks, scattered over pegs A, B, C, onto peg C in as few moves as possible.

    ## Description
    Each disk starts on a random peg (smaller disks above larger ones). One move takes the top disk of a peg to
    another peg, never onto a smaller disk. The prompt states the fewest moves needed, computed by the classic
    recursion (and checked against breadth-first search in the tests).

    ## Action Space
    ``text_space(8192)``: ``<answer>A->C, B->C</answer>``; anything else inside the tag is a format error.

    ## Observation Space
    ``Dict(text=Text)``: the disks on each peg and the move budget.

    ## Rewards
    1.0 iff every move is legal, all disks end on C and there are no more moves than the budget, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer``, ``expert_action``, ``expert_thought``; ``step`` info:
    ``success``, ``format_error``, ``answer``, ``reward/*``.

    ## Arguments
    ``disks`` (1-8, default 3): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 600

    def __init__(self, disks: int = 3, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("disks", disks, 1, 8)
        self.disks = disks
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        state = tuple(PEGS[int(i)] for i in rng.integers(0, 3, size=self.disks))
        while all(p == "C" for p in state):  # nothing to do: re-draw
            state = tuple(PEGS[int(i)] for i in rng.integers(0, 3, size=self.disks))
        moves = optimal_moves(state, "C")
        lines = [f"Peg {peg}: " + (", ".join(str(d + 1) for d in reversed(range(self.disks)) if state[d] == peg)
                                   or "empty") for peg in PEGS]
        question = ("Disks are numbered by size (1 is the smallest); listed bottom to top:\n" + "\n".join(lines)
                    + f"\nMove one top disk at a time, never onto a smaller disk. Put every disk on peg C in at "
                    f"most {len(moves)} moves. Answer with the moves, like: A->C, B->C.")
        answer = ", ".join(f"{s}->{t}" for s, t in moves)
        return Problem(question=question, answer=answer, expert_answer=answer,
                       expert_thought="Gather the smaller disks on the spare peg, then move each largest disk.",
                       data={"state": list(state), "budget": len(moves)})

    def check(self, answer: str, problem: Problem) -> bool | None:
        moves = parse_moves(answer)
        if moves is None:
            return None
        if len(moves) > problem.data["budget"]:
            return False
        final = apply_moves(tuple(problem.data["state"]), moves)
        return final is not None and all(p == "C" for p in final)
