"""Behaviour of the text tasks (``mmrl.envs.text``), their verifiers and the math-verify reward."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.text import ArithmeticEnv, CountdownEnv, KnightsKnavesEnv, MathQAEnv, MazeEnv, SudokuEnv
from mmrl.envs.text.countdown import check_countdown, generate_countdown
from mmrl.envs.text.expression import MAX_DEPTH, evaluate, format_number, parse_number
from mmrl.envs.text.knights_knaves import consistent, parse_assignment, solutions
from mmrl.envs.text.maze import MOVES, follows_to_goal, parse_moves, shortest_path
from mmrl.envs.text.sudoku import is_valid_solution, parse_grid, solve
from mmrl.rewards import call_reward, get_reward
from mmrl.rewards.math_answer import math_answers_match, math_verify_accuracy

TEXT_IDS = [
    "mmrl/Countdown-v0",
    "mmrl/Arithmetic-v0",
    "mmrl/Sudoku-v0",
    "mmrl/KnightsKnaves-v0",
    "mmrl/Maze-v0",
    "mmrl/MathQA-v0",
]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_TOKENS = list("0123456789+-*/()[]{}.^!=, \n\\$xeUDLR:_'\"") + [
    "Alice",
    "Bob",
    "knight",
    "knave",
    "\\frac",
    "<answer>",
]
HOSTILE_TEXT = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join) | st.text(max_size=80)


def tagged(answer: str) -> str:
    return f"<think>working</think><answer>{answer}</answer>"


# -- shared contract ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", TEXT_IDS)
def test_seeded_episodes_repeat_and_the_expert_is_right(env_id):
    env_a, env_b = gym.make(env_id), gym.make(env_id)
    for seed in range(8):
        obs_a, info_a = env_a.reset(seed=seed)
        obs_b, info_b = env_b.reset(seed=seed)
        assert set(obs_a) == {"text"} and data_equivalence((obs_a, info_a), (obs_b, info_b), exact=True)
        _, reward, terminated, truncated, info = env_a.step(info_a["expert_action"])
        assert (reward, terminated, truncated, info["success"], info["format_error"]) == (
            1.0,
            True,
            False,
            True,
            False,
        )
    texts = {env_a.reset(seed=seed)[0]["text"] for seed in range(8)}
    assert len(texts) > 1  # seeds give different problems


@pytest.mark.parametrize("env_id", TEXT_IDS)
def test_format_errors_are_flagged(env_id):
    env = gym.make(env_id)
    for response in ("no tags here", "<answer>unclosed", "<answer>" + "1" * 5000 + "</answer>"):
        env.reset(seed=0)
        _, reward, _, _, info = env.step(response)
        assert reward == 0.0 and info["format_error"] is True and info["success"] is False


@pytest.mark.parametrize("env_id", TEXT_IDS)
def test_no_code_is_executed(env_id, tmp_path):
    target = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {target}')",
        f"exec(\"open('{target}', 'w')\")",
        f"(lambda: __import__('os').system('touch {target}'))()",
    ]
    env = gym.make(env_id)
    for payload in payloads:
        env.reset(seed=1)
        _, reward, _, _, info = env.step(tagged(payload))
        assert reward == 0.0 and not info["success"]
        assert not math_answers_match(payload, "0")
        assert evaluate(payload) is None
    assert not target.exists()


@pytest.mark.parametrize("env_id", TEXT_IDS[:-1])  # MathQA is fuzzed through math_answers_match below
@FAST
@given(answer=HOSTILE_TEXT)
def test_hostile_answers_never_raise(env_id, answer):
    env = gym.make(env_id)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(tagged(answer))
    assert reward in (0.0, 1.0) and terminated and isinstance(info["success"], bool)


# -- expression parser ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 / 4", Fraction(5, 2)),
        ("-(3 - 5) * -2", -4),
        ("2 × 3 ÷ 4", Fraction(3, 2)),
        ("[1 + {2 * (3)}]", 7),
        ("0.5 + .25", Fraction(3, 4)),
        ("8 / 3 * 3", 8),
    ],
)
def test_evaluate(text, value):
    assert evaluate(text).value == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1 +",
        "(1 + 2",
        "1 / 0",
        "1 / (2 - 2)",
        "2 ** 3",
        "x + 1",
        "1 2",
        "(" * 60 + "1" + ")" * 60,
        "-" * (MAX_DEPTH + 5) + "1",
        "1" * 40,
        "1+" * 600 + "1",
    ],
)
def test_evaluate_rejects(text):
    assert evaluate(text) is None


def test_evaluate_reports_literals_and_numbers_parse():
    assert evaluate("(25 - 5) * 3 + 7").literals == [25, 5, 3, 7]
    assert parse_number("-3/4") == Fraction(-3, 4) and parse_number(" 0.75 ") == Fraction(3, 4)
    assert parse_number("1+2") is None and parse_number("1/0") is None and parse_number("abc") is None
    assert format_number(Fraction(6, -8)) == "-3/4" and format_number(Fraction(4)) == "4"


@FAST
@given(text=HOSTILE_TEXT)
def test_parsers_never_raise(text):
    evaluate(text)
    parse_number(text)
    parse_grid(text, 4)
    parse_assignment(text, ["Alice", "Bob"])
    parse_moves(text)


# -- Countdown ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("count", "low", "high"), [(2, 1, 9), (4, 1, 25), (6, 1, 100)])
def test_countdown_construction_solves_its_puzzle(count, low, high):
    rng = np.random.default_rng(0)
    for _ in range(50):
        numbers, target, expression = generate_countdown(rng, count, low, high)
        assert len(numbers) == count and all(low <= n <= high for n in numbers)
        assert check_countdown(expression, numbers, target) is True


def test_countdown_rules():
    numbers, target = [3, 7, 25, 5], 67
    assert check_countdown("(25 - 5) * 3 + 7", numbers, target) is True
    assert check_countdown("25 * 3 - 7 - 1", numbers, target) is False  # 1 is not given
    assert check_countdown("25 + 25 + 7 + 5 + 5", numbers, target) is False  # 25 used twice
    assert check_countdown("25 * 3 - 7", numbers, 68) is True  # a subset of the numbers is fine
    assert check_countdown("hello", numbers, target) is None
    env = CountdownEnv(count=3)
    _, info = env.reset(seed=4)
    assert len(info["numbers"]) == 3
    expression = info["expert_action"].split("<answer>")[1].split("</answer>")[0]
    assert env.step(tagged(f"{expression} = {info['answer']}"))[4]["success"]


# -- Arithmetic --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("difficulty", [1, 3, 6])
def test_arithmetic_accepts_equivalent_numbers(difficulty):
    env = ArithmeticEnv(difficulty=difficulty)
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        expression = obs["text"].split("value of ")[1].split(". Give")[0]
        assert expression.count("(") <= difficulty
        value = evaluate(expression).value
        assert info["answer"] == format_number(value)
        forms = [format_number(value), f"{value.numerator * 2}/{value.denominator * 2}"]
        if value.denominator in (1, 2, 4, 5, 8):
            forms.append(str(float(value)))
        for form in forms:
            env.reset(seed=seed)
            assert env.step(tagged(form))[4]["success"], form
        env.reset(seed=seed)
        assert not env.step(tagged(format_number(value + 1)))[4]["success"]


# -- Sudoku ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("size", "blanks"), [(4, 6), (4, 10), (6, 12)])
def test_sudoku_puzzles_have_one_solution_and_the_verifier_accepts_it(size, blanks):
    env = SudokuEnv(size=size, blanks=blanks)
    for seed in range(6):
        env.reset(seed=seed)
        puzzle = env._problem.data
        assert sum(row.count(0) for row in puzzle) <= blanks
        found = solve(puzzle, limit=2)
        assert len(found) == 1 and is_valid_solution(found[0], puzzle)
        assert parse_grid(env._problem.answer, size) == found[0]


def test_sudoku_verifier_rejects_broken_grids():
    env = SudokuEnv(size=4)
    _, info = env.reset(seed=0)
    solution = parse_grid(info["answer"], 4)
    swapped = [row[:] for row in solution]
    swapped[0][0], swapped[0][1] = swapped[0][1], swapped[0][0]
    assert not is_valid_solution(swapped, env._problem.data)
    assert not is_valid_solution([[1, 2, 3, 4]] * 4, [[0] * 4] * 4)
    assert env.step(tagged(str(solution)))[4]["success"]  # "[[1, 2, 3, 4], ...]" reads fine
    env.reset(seed=0)
    assert env.step(tagged("123"))[4]["format_error"]


# -- Knights and knaves ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("people", [2, 3, 5])
def test_knights_knaves_brute_force_solutions_are_accepted(people):
    env = KnightsKnavesEnv(people=people)
    names = ["Alice", "Bob", "Carol", "Dave", "Eve"][:people]
    for seed in range(10):
        _, info = env.reset(seed=seed)
        statements = [(kind, tuple(who)) for kind, who in env._problem.data]
        found = solutions(statements)
        assert found, "the hidden assignment is always a solution"
        for assignment in found:
            text = ". ".join(f"{n} is a {'knight' if k else 'knave'}" for n, k in zip(names, assignment))
            env.reset(seed=seed)
            assert env.step(tagged(text))[4]["success"]
        for assignment in itertools.product((True, False), repeat=people):
            if not consistent(assignment, statements):
                text = ", ".join(f"{n}: {'knight' if k else 'knave'}" for n, k in zip(names, assignment))
                env.reset(seed=seed)
                assert not env.step(tagged(text))[4]["success"]
                break


def test_knights_knaves_answer_parsing():
    names = ["Alice", "Bob"]
    assert parse_assignment("alice: KNIGHT; Bob - knave", names) == {"Alice": True, "Bob": False}
    assert parse_assignment("Alice is a knight", names) is None  # Bob missing
    assert parse_assignment("Alice: knight, Alice: knave, Bob: knave", names) is None  # contradiction


# -- Maze --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("size", "density"), [(3, 0.5), (5, 0.35), (9, 0.6)])
def test_maze_is_solvable_and_only_shortest_paths_win(size, density):
    env = MazeEnv(size=size, wall_density=density)
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        grid = env._problem.data["grid"]
        assert len(grid) == size and sum(row.count("S") + row.count("G") for row in grid) == 2
        path = shortest_path(grid)
        assert path == info["answer"] and follows_to_goal(grid, path)
        # A longer detour is not accepted; nor is walking into a wall or off the grid.
        for detour in (path + "UD", path + "LR"):
            if follows_to_goal(grid, detour):
                env.reset(seed=seed)
                assert not env.step(tagged(detour))[4]["success"]
        env.reset(seed=seed)
        spaced = ", ".join({"U": "up", "D": "down", "L": "left", "R": "right"}[m] for m in path)
        assert env.step(tagged(spaced))[4]["success"]


def test_maze_move_parsing():
    assert parse_moves("R, R, d-l") == "RRDL" and parse_moves("right DOWN") == "RD"
    assert parse_moves("go right") is None and set(MOVES) == set("UDLR")


# -- MathQA and math-verify --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "truth"),
    [
        ("1/2", "0.5"),
        ("0.5", "\\frac{1}{2}"),
        ("\\frac{1}{2}", "1/2"),
        ("\\frac12", "0.5"),
        ("$0.50$", "1/2"),
        ("\\sqrt{2}", "2^{1/2}"),
        ("x = 3", "3"),
        ("1+x^2", "x^2+1"),
        ("2^{10}", "1024"),
        ("\\binom{10}{3}", "120"),
        ("x^2 y^2", "y^2 x^2"),
    ],
)
def test_math_verify_equivalences(given, truth):
    assert math_answers_match(given, truth)


@pytest.mark.parametrize(("given", "truth"), [("1/3", "0.5"), ("2", "3"), ("", "1"), ("cat", "1")])
def test_math_verify_differences(given, truth):
    assert not math_answers_match(given, truth)


def test_math_verify_reward_function():
    fn = get_reward("math_verify_accuracy")
    assert fn is math_verify_accuracy
    completions = [
        tagged("0.5"),
        "\\frac{1}{2}",
        tagged("3"),
        [{"role": "assistant", "content": tagged("1/2")}],
        "x",
    ]
    assert fn(completions, answer=["1/2", "0.5", "1/2", "0.5", None]) == [1.0, 1.0, 0.0, 1.0, None]


@pytest.mark.parametrize(
    "hostile",
    [
        "9^{9^{9^{9^{9}}}}",
        "10^{10^{10}}",
        "e^e^e^9",
        "2^{99999999}",
        "99999!",
        "2**99999",
        "(x+1)^{99}*(x-1)^{99}*(y+2)^{99}",
        "\\binom{9999999}{4999999}",
        "\\prod_{i=1}^{9999999} i",
        "\\exp(\\exp(\\exp(9)))",
        "(" * 140 + "1" + ")" * 140,
        "\\frac{" * 100,
        "1" * 10_000,
    ],
)
def test_math_verify_guard_is_fast_off_the_main_thread(hostile):
    # CPU seconds of this process (all its threads), not wall time: other jobs on a shared 2-core machine (or the
    # other test worker) must not count, only the work the guard lets through.
    start = time.process_time()
    # call_reward runs the function on a worker thread, where math-verify's signal timeouts are off.
    assert call_reward(math_verify_accuracy, [tagged(hostile)], timeout_s=20, answer=["1"]) == [0.0]
    assert time.process_time() - start < 5
    assert threading.active_count() < 50


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=HOSTILE_TEXT)
def test_math_answers_match_never_raises(answer):
    assert math_answers_match(answer, "1/2") in (True, False)


def test_math_qa_reads_a_jsonl_and_widens_the_charset(tmp_path):
    file = tmp_path / "problems.jsonl"
    rows = [{"question": "Compute π rounded down.", "answer": 3}, {"question": "½ + ½ = ?", "answer": "1"}]
    file.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    env = MathQAEnv(path=str(file))
    seen = set()
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        assert obs in env.observation_space
        seen.add(info["answer"])
        assert env.step(tagged(info["answer"] + ".0"))[4]["success"]
    assert seen == {"3", "1"}
    bad = tmp_path / "bad.jsonl"
    for text, message in (('{"q": 1}\n', "bad.jsonl:1: each line must be an object with 'question' and 'answer'"),
                          ('\n{"question": "1+1", "answer": 2\n', "bad.jsonl:2: not JSON"),
                          ("[1, 2]\n", "bad.jsonl:1: expected a JSON object, got list"),
                          ("\n\n", "bad.jsonl holds no problems")):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=re.escape(message)):
            MathQAEnv(path=str(bad))


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (CountdownEnv, {"count": 1}),
        (ArithmeticEnv, {"difficulty": 0}),
        (SudokuEnv, {"size": 5}),
        (SudokuEnv, {"blanks": 99}),
        (KnightsKnavesEnv, {"people": 9}),
        (MazeEnv, {"size": 2}),
        (MazeEnv, {"wall_density": 1.0}),
    ],
)
def test_bad_arguments_raise(cls, kwargs):
    with pytest.raises(ValueError):
        cls(**kwargs)


# -- independent brute force: every generated puzzle is solvable, and the verifier accepts what a search finds ----
def _brute_force_countdown(numbers: list[int], target: int) -> str | None:
    """Some expression over a subset of `numbers` (each once) equal to `target`, found by exhaustive search over
    pairs of sub-results (exact fractions); independent of the generator's own construction."""
    from fractions import Fraction

    def search(items):
        for value, text in items:
            if value == target:
                return text
        for i, j in itertools.permutations(range(len(items)), 2):
            (a, ta), (b, tb) = items[i], items[j]
            rest = [items[k] for k in range(len(items)) if k not in (i, j)]
            options = [(a + b, f"({ta} + {tb})"), (a - b, f"({ta} - {tb})"), (a * b, f"({ta} * {tb})")]
            if b != 0:
                options.append((a / b, f"({ta} / {tb})"))
            for option in options:
                found = search(rest + [option])
                if found is not None:
                    return found
        return None

    return search([(Fraction(n), str(n)) for n in numbers])


@pytest.mark.parametrize(("count", "low", "high"), [(2, 1, 9), (3, 1, 25), (4, 1, 25)])
def test_countdown_puzzles_are_solved_by_an_independent_search(count, low, high):
    env = CountdownEnv(count=count, low=low, high=high)
    for seed in range(8):
        _, info = env.reset(seed=seed)
        found = _brute_force_countdown(info["numbers"], int(info["answer"]))
        assert found is not None, (info["numbers"], info["answer"])
        assert env.step(tagged(found))[4]["success"], found


def test_arithmetic_answers_match_an_independent_evaluator():
    """The generator's expressions (our own text, never a model's) evaluated with sympy's exact rationals."""
    import sympy

    env = ArithmeticEnv(difficulty=4)
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        expression = obs["text"].split("value of ")[1].split(". Give")[0]
        exact = sympy.nsimplify(sympy.sympify(expression, rational=True))
        assert sympy.Rational(info["answer"]) == exact
        assert env.step(tagged(str(exact)))[4]["success"]
