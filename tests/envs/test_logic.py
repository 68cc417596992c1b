"""The SynLogic-style families added to the three older ones (knights and knaves, Sudoku, mazes): each rule
verifier agrees with a brute-force solver written here, independently of the env's code."""

from __future__ import annotations

import itertools
from collections import deque

import gymnasium as gym
import pytest

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.text import cryptarithm, dyck, graph_coloring, hanoi, ordering, sat, water_jugs

LOGIC_IDS = ["mmrl/KnightsKnaves-v0", "mmrl/Sudoku-v0", "mmrl/Maze-v0", "mmrl/Dyck-v0", "mmrl/SAT-v0",
             "mmrl/GraphColoring-v0", "mmrl/Cryptarithm-v0", "mmrl/Ordering-v0", "mmrl/Hanoi-v0",
             "mmrl/WaterJugs-v0"]


def verdict(env, seed: int, answer: str):
    env.reset(seed=seed)
    return env.unwrapped.verdict(answer)


@pytest.mark.parametrize("env_id", LOGIC_IDS[3:])
def test_the_expert_is_right_and_a_wrong_answer_is_not(env_id):
    env = gym.make(env_id)
    assert len(LOGIC_IDS) >= 10
    for seed in range(10):
        _, info = env.reset(seed=seed)
        assert env.step(info["expert_action"])[1] == 1.0
        env.reset(seed=seed)
        assert env.step("<answer>???</answer>")[4]["format_error"]


def test_dyck_verifier_accepts_exactly_the_brute_force_closings():
    def balanced(text: str) -> bool:  # the textbook pair-removal check, not a stack
        while any(p in text for p in ("()", "[]", "{}", "<>")):
            for p in ("()", "[]", "{}", "<>"):
                text = text.replace(p, "")
        return text == ""

    env = dyck.DyckEnv(length=8, depth=2)
    for seed in range(3):
        env.reset(seed=seed)
        prefix = env._problem.data["prefix"]  # noqa: SLF001
        for length in (1, 2, 3):
            for closers in itertools.product(")]}>", repeat=length):
                text = "".join(closers)
                assert env.verdict(" ".join(closers)) == (balanced(prefix + text) and length == 2)


def test_sat_and_colouring_verifiers_agree_with_enumeration():
    env = sat.SATEnv(variables=4, clauses=10)
    for seed in range(3):
        env.reset(seed=seed)
        clauses = env._problem.data  # noqa: SLF001
        solutions = 0
        for bits in itertools.product((0, 1), repeat=4):
            truth = all(sum((bits[abs(lit) - 1] == 1) == (lit > 0) for lit in clause) > 0 for clause in clauses)
            solutions += truth
            assert env.verdict(" ".join(f"x{i + 1}:{b}" for i, b in enumerate(bits))) is truth
        assert solutions >= 1
    env = graph_coloring.GraphColoringEnv(nodes=5, colours=3)
    for seed in range(3):
        env.reset(seed=seed)
        edges = env._problem.data  # noqa: SLF001
        for colours in itertools.product((1, 2, 3), repeat=5):
            named = dict(zip("ABCDE", colours, strict=True))
            truth = not any(named[a] == named[b] for a, b in edges)
            assert env.verdict(", ".join(f"{n}={c}" for n, c in named.items())) is truth


def test_cryptarithm_verifier_accepts_exactly_the_brute_force_decodings():
    env = cryptarithm.CryptarithmEnv(digits=1)
    for seed in range(4):
        env.reset(seed=seed)
        words = env._problem.data  # noqa: SLF001
        letters = sorted(set("".join(words)))
        solutions = set()
        for digits in itertools.permutations("0123456789", len(letters)):
            table = dict(zip(letters, digits, strict=True))
            a, b, c = ("".join(table[ch] for ch in w) for w in words)
            if all(len(n) == 1 or n[0] != "0" for n in (a, b, c)) and int(a) + int(b) == int(c):
                solutions.add((a, b, c))
        assert solutions
        for a in range(10):
            for b in range(10):
                triple = (str(a), str(b), str(a + b))
                assert env.verdict(f"{a} + {b} = {a + b}") is (triple in solutions)


def test_ordering_verifier_agrees_with_enumeration():
    def holds(kind, a, b, seat):  # seat: name -> 1-based seat
        return {"left_of": lambda: seat[a] < seat[b], "next_to": lambda: abs(seat[a] - seat[b]) == 1,
                "not_next_to": lambda: abs(seat[a] - seat[b]) != 1,
                "directly_left": lambda: seat[b] - seat[a] == 1, "position": lambda: seat[a] == int(b),
                "end": lambda: seat[a] in (1, len(seat))}[kind]()

    env = ordering.OrderingEnv(people=4)
    for seed in range(3):
        env.reset(seed=seed)
        clues = env._problem.data  # noqa: SLF001
        fitting = 0
        for order in itertools.permutations(ordering.NAMES[:4]):
            seat = {name: i + 1 for i, name in enumerate(order)}
            truth = all(holds(k, a, b, seat) for k, a, b in clues)
            fitting += truth
            assert env.verdict(" ".join(order)) is truth
        assert fitting == 1  # the generator stops at a unique seating


def test_hanoi_budget_is_the_breadth_first_optimum():
    def bfs_distance(start: tuple[str, ...]) -> int:
        goal = tuple("C" * len(start))
        seen, queue = {start: 0}, deque([start])
        while queue:
            state = queue.popleft()
            if state == goal:
                return seen[state]
            for source, target in itertools.permutations("ABC", 2):
                top = [d for d, p in enumerate(state) if p == source]
                if top and not any(d < min(top) for d, p in enumerate(state) if p == target):
                    nxt = tuple(target if d == min(top) else p for d, p in enumerate(state))
                    if nxt not in seen:
                        seen[nxt] = seen[state] + 1
                        queue.append(nxt)
        raise AssertionError("unreachable")

    env = hanoi.HanoiEnv(disks=4)
    for seed in range(6):
        _, info = env.reset(seed=seed)
        data = env._problem.data  # noqa: SLF001
        assert data["budget"] == bfs_distance(tuple(data["state"]))
        moves = info["answer"].split(", ")
        assert env.verdict(info["answer"]) is True
        env.reset(seed=seed)
        assert env.verdict(", ".join(moves + moves[-1:])) is False  # over the budget
        if len(moves) > 1:
            assert env.verdict(", ".join(moves[:-1])) is False  # not all on C


def test_water_jug_budget_cannot_be_beaten():
    env = water_jugs.WaterJugsEnv(max_capacity=5)
    names = ["fill A", "fill B", "empty A", "empty B", "pour A->B", "pour B->A"]
    checked = 0
    for seed in range(8):
        _, info = env.reset(seed=seed)
        data = env._problem.data  # noqa: SLF001
        assert env.verdict(info["answer"]) is True
        if data["budget"] > 5:
            continue
        checked += 1
        for length in range(1, data["budget"]):
            for plan in itertools.product(names, repeat=length):
                assert env.verdict(", ".join(plan)) is False
    assert checked >= 3


def test_bad_difficulty_arguments_raise():
    for make in (lambda: dyck.DyckEnv(length=10, depth=3), lambda: sat.SATEnv(variables=2),
                 lambda: graph_coloring.GraphColoringEnv(colours=9), lambda: cryptarithm.CryptarithmEnv(digits=0),
                 lambda: ordering.OrderingEnv(people=9), lambda: hanoi.HanoiEnv(disks=0),
                 lambda: water_jugs.WaterJugsEnv(max_capacity=2)):
        with pytest.raises(ValueError):
            make()
