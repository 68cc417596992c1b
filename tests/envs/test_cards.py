"""gym-cards games: the formula verifier, the 24 solver, and each game's rules and rewards step by step."""

from __future__ import annotations

import json
from fractions import Fraction
from itertools import combinations_with_replacement

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrl.envs.cards import evaluate, is_solvable, numbers_used, reaches_target, solve
from mmrl.envs.cards.formula import MAX_DEPTH, tokenize
from mmrl.envs.cards.games import BlackjackEnv, EZPointsEnv, NumberLineEnv, Points24Env, basic_strategy

CARD_IDS = ["mmrl/NumberLine-v0", "mmrl/EZPoints-v0", "mmrl/Points24-v0", "mmrl/Blackjack-v0"]


def answer(action, **fields) -> str:
    return json.dumps({**fields, "thoughts": "scripted", "action": action})


# -- formula verifier --

@pytest.mark.parametrize(
    ("formula", "value"),
    [
        ("1+2*3", 7),
        ("(1+2)*3", 9),
        ("8/(3-8/3)", 24),
        ("10 - 4 / 8", Fraction(19, 2)),
        ("-(3-5)", 2),
        ("2*-3", -6),
        ("7/2/7", Fraction(1, 2)),
        ("100-99-1", 0),
        ("\t6 * 4 ", 24),
    ],
)
def test_evaluate_hand_computed_values(formula, value):
    assert evaluate(formula) == value


@pytest.mark.parametrize(
    "formula",
    [
        "", " ", "1/0", "5/(3-3)", "2**3", "2^3", "1e3", "1.5+1", "(1+2", "1+2)", "()", "1 2", "3(4)", "+",
        "__import__('os').system('ls')", "exec('1')", "os.system", "1;2", "x+1", "lambda: 0",
        "٣+1", "²+2", "１+2", "1\u20082", "1\n+2",
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1), "-" * (MAX_DEPTH + 1) + "1",
        "1+" * 40 + "1",
    ],
)
def test_evaluate_rejects_invalid(formula):
    assert evaluate(formula) is None


def test_nesting_at_the_limit_is_accepted():
    assert evaluate("(" * MAX_DEPTH + "4" + ")" * MAX_DEPTH) == 4


def test_numbers_used():
    assert numbers_used("(10+2)*(3-1)") == [10, 2, 3, 1]
    assert numbers_used("1/0") == [1, 0]  # parses; only the value is undefined
    assert numbers_used("1+") is None
    assert tokenize("12+(3)") == ["12", "+", "(", "3", ")"]
    assert reaches_target("8/(3-8/3)", [3, 3, 8, 8])
    assert not reaches_target("8*3", [3, 3, 8, 8])  # right value, not every card
    assert not reaches_target("8*3*1", [8, 3, 2])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet="0123456789+-*/() .e^", max_size=80))
def test_evaluate_never_raises(text):
    value = evaluate(text)
    assert value is None or isinstance(value, Fraction)
    used = numbers_used(text)
    assert used is None or all(isinstance(n, int) for n in used)


# -- solver --

def test_solver_counts_of_solvable_hands():
    ranks_13 = list(combinations_with_replacement(range(1, 14), 4))
    ranks_10 = list(combinations_with_replacement(range(1, 11), 4))
    assert len(ranks_13) == 1820 and len(ranks_10) == 715
    assert sum(is_solvable(list(hand)) for hand in ranks_13) == 1362
    assert sum(is_solvable(list(hand)) for hand in ranks_10) == 566


def test_solve_outputs_are_correct_and_distinct():
    hands = list(combinations_with_replacement(range(1, 14), 4))[::37]
    for hand in hands:
        formulas = solve(list(hand))
        assert bool(formulas) == is_solvable(list(hand))
        assert len(formulas) == len(set(formulas))
        for formula in formulas:
            assert evaluate(formula) == 24
            assert sorted(numbers_used(formula)) == sorted(hand)
    assert solve([3, 3, 8, 8]) == ["8/(3-8/3)"]
    assert solve([1, 1, 1, 1]) == []
    assert solve([2, 6], 12) == ["2*6"]
    # commutativity and associativity give one normal form: 4*(3+2+1) and (1+2+3)*4 are listed once
    assert solve([1, 2, 3, 4]) == ["1*2*3*4", "2*3*4/1", "(1+2+3)*4", "(1+3)*(2+4)"]
    assert solve([0, 0], 0) == ["0*0", "0+0", "0-0"]  # 0/0 is not a formula
    assert solve([5], 5) == ["5"] and solve([], 0) == []


# -- Points24 --

def play(env, tokens):
    results = [env.step(answer(token)) for token in tokens]
    return results


def test_points24_winning_episode_from_the_solver():
    env = Points24Env()
    for seed in range(40):
        _, info = env.reset(seed=seed)
        if info["expert_action"] is not None:
            break
    formula = solve(env.values)[0]
    results = play(env, tokenize(formula) + ["="])
    assert [r[1] for r in results] == [0.0] * len(tokenize(formula)) + [10.0]
    _, _, terminated, truncated, info = results[-1]
    assert terminated and not truncated and info["success"] and info["reward/game"] == 10.0
    with pytest.raises(RuntimeError):
        env.step(answer("1"))


def test_points24_following_the_expert_wins():
    env = Points24Env(render_image=False)
    wins = 0
    for seed in range(10):
        _, info = env.reset(seed=seed)
        solvable = info["expert_action"] is not None
        terminated = truncated = False
        total = 0.0
        while solvable and not (terminated or truncated):
            _, reward, terminated, truncated, info = env.step(info["expert_action"])
            total += reward
        if solvable:
            assert info["success"] and total == 10.0
            wins += 1
    assert wins > 0


def test_points24_wrong_number_and_wrong_formula():
    env = Points24Env()
    env.reset(seed=0)
    missing = next(n for n in range(1, 11) if n not in env.values)
    _, reward, terminated, truncated, info = env.step(answer(str(missing)))
    assert (reward, terminated, truncated, info["format_error"]) == (-1.0, False, False, False)
    assert env.formula == []
    value = env.values[0]
    env.step(answer(str(value)))
    _, reward, terminated, truncated, info = env.step(answer("="))
    assert (reward, terminated, truncated, info["success"]) == (-1.0, True, False, False)


def test_points24_number_used_twice_is_rejected():
    env = Points24Env()
    env.reset(seed=0)
    value = env.values[0]
    count = env.values.count(value)
    for _ in range(count):
        assert env.step(answer(str(value)))[1] == 0.0
    assert env.step(answer(value))[1] == -1.0  # JSON integers are accepted as numbers


def test_points24_too_long_formula_is_truncated():
    env = Points24Env(render_image=False)
    env.reset(seed=0)
    for _ in range(21):
        _, reward, terminated, truncated, _ = env.step(answer("("))
        assert (reward, terminated, truncated) == (0.0, False, False)
    _, reward, terminated, truncated, info = env.step(answer("+"))
    assert (reward, terminated, truncated, info["success"]) == (-1.0, False, True, False)


def test_points24_admissible_actions_and_face_cards():
    env = Points24Env(treat_face_cards_as_10=False)
    _, info = env.reset(seed=3)
    assert all(1 <= v <= 13 for v in env.values)
    actions = [json.loads(a)["action"] for a in info["admissible_actions"]]
    assert actions == [str(v) for v in sorted(set(env.values))] + list("+-*/()=")
    expert = json.loads(info["expert_action"]) if info["expert_action"] else None
    assert expert is None or (expert["action"] in actions and expert["cards"] == env.values)


@pytest.mark.parametrize(
    "response",
    ["", "the answer is 5", '{"action": "x"}', '{"thoughts": "no action"}', '{"action": "**"}', "{" * 500,
     '["action", "+"]', "x" * 200_000, '{"action": null}'],
)
def test_malformed_answers_cost_the_format_penalty(response):
    for env in (Points24Env(), EZPointsEnv(), NumberLineEnv(), BlackjackEnv()):
        env.reset(seed=1)
        obs, reward, terminated, _, info = env.step(response)
        assert info["format_error"] and reward == -1.0 and info["reward/format_error"] == 1.0
        assert not terminated and obs in env.observation_space


def test_format_penalty_is_a_reward_weight():
    env = Points24Env(reward_weights={"format_error": -0.25})
    env.reset(seed=0)
    assert env.step("nothing")[1] == -0.25


def test_points24_observation():
    env = Points24Env()
    obs, _ = env.reset(seed=5)
    assert obs["image"].shape == (300, 300, 3) and obs["image"].dtype == np.uint8
    assert tuple(obs["image"][2, 2]) == (0x35, 0x65, 0x4D)
    assert '"current formula"' in obs["text"] and "Cards:" not in obs["text"]
    text_env = Points24Env(render_image=False)
    obs, _ = text_env.reset(seed=5)
    assert set(obs) == {"text"} and set(text_env.observation_space.spaces) == {"text"}
    assert "Cards:" in obs["text"] and obs in text_env.observation_space
    text_env.step(answer(str(text_env.values[0])))
    assert f"Current formula: {text_env.values[0]}" in text_env._prompt()


# -- EZPoints --

def test_ezpoints_deals_are_solvable_and_expert_wins():
    env = EZPointsEnv()
    for seed in range(20):
        _, info = env.reset(seed=seed)
        assert len(env.values) == 2
        assert reaches_target(f"{env.values[0]}+{env.values[1]}", env.values, 12) or reaches_target(
            f"{env.values[0]}*{env.values[1]}", env.values, 12)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, info = env.step(info["expert_action"])
            total, done = total + reward, terminated or truncated
        assert info["success"] and total == 10.0


def test_ezpoints_has_no_minus():
    env = EZPointsEnv()
    env.reset(seed=0)
    assert env.step(answer("-"))[4]["format_error"]


# -- NumberLine --

def test_number_line_optimal_play_wins():
    env = NumberLineEnv()
    for seed in range(10):
        _, info = env.reset(seed=seed)
        assert env.position != env.target
        distance = abs(env.position - env.target)
        rewards = []
        done = False
        while not done:
            _, reward, terminated, truncated, info = env.step(info["expert_action"])
            rewards.append(reward)
            done = terminated or truncated
        assert rewards == [0.0] * (distance - 1) + [1.0] and info["success"] and terminated


def test_number_line_wrong_moves_and_truncation():
    env = NumberLineEnv(render_image=False)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"text"} and f"Target number: {env.target}" in obs["text"]
    away = "-" if env.target > env.position else "+"
    rewards, truncated = [], False
    for _ in range(10):
        _, reward, terminated, truncated, info = env.step(answer(away))
        rewards.append(reward)
        assert not terminated
    assert truncated and not info["success"] and all(r == -1.0 for r in rewards)
    assert NumberLineEnv().reset(seed=0)[0]["image"].shape == (200, 200, 3)


def test_number_line_admissible_thought_states_the_order_but_not_the_move():
    env = NumberLineEnv(render_image=False)
    orders = set()
    for seed in range(20):
        _, info = env.reset(seed=seed)
        responses = [json.loads(a) for a in info["admissible_actions"]]
        assert [r["action"] for r in responses] == ["+", "-"]
        assert responses[0]["thoughts"] == responses[1]["thoughts"]  # the same thought for either move
        order = "greater" if env.target > env.position else "less"
        assert responses[0]["thoughts"] == f"The target {env.target} is {order} than the current number {env.position}."
        orders.add(order)
    assert orders == {"greater", "less"}


# -- Blackjack --

def test_blackjack_rules():
    env = BlackjackEnv(render_image=False)
    outcomes = set()
    for seed in range(60):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, reward, terminated, truncated, info = env.step(info["expert_action"])
            done = terminated or truncated
        assert terminated and reward in (-1.0, 0.0, 1.0) and info["success"] == (reward == 1.0)
        player = sum(min(r, 10) for r, _ in env.player)
        if player > 21:
            assert reward == -1.0
        else:
            dealer = sum(min(r, 10) for r, _ in env.dealer)
            soft = dealer + 10 if any(r == 1 for r, _ in env.dealer) and dealer + 10 <= 21 else dealer
            assert soft >= 17
        outcomes.add(reward)
    assert outcomes == {-1.0, 0.0, 1.0}


def test_blackjack_hit_until_bust():
    env = BlackjackEnv()
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (300, 300, 3)
    done = False
    while not done:
        _, reward, done, truncated, info = env.step(answer("HIT"))
        assert not truncated
    assert reward == -1.0 and not info["success"]


def test_basic_strategy():
    assert basic_strategy(20, False, 10) == "stand"
    assert basic_strategy(16, False, 10) == "hit"
    assert basic_strategy(16, False, 5) == "stand"
    assert basic_strategy(12, False, 2) == "hit"
    assert basic_strategy(18, True, 9) == "hit"
    assert basic_strategy(11, False, 1) == "hit"


# -- all four --

@pytest.mark.parametrize("env_id", CARD_IDS)
def test_text_only_variants_pass_the_checker(env_id):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, render_image=False)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert set(obs) == {"text"}
    if info["expert_action"] is not None:  # None only for a Points24 deal with no solution
        admissible = [json.loads(a)["action"] for a in info["admissible_actions"]]
        assert json.loads(info["expert_action"])["action"] in admissible
    assert env.unwrapped.system_prompt is None


@pytest.mark.parametrize("env_id", CARD_IDS)
def test_render_mode_and_seeding(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    obs_a, _ = env.reset(seed=11)
    frame = env.render()
    assert frame.dtype == np.uint8 and np.array_equal(frame, obs_a["image"])
    obs_b, _ = env.reset(seed=11)
    assert obs_a["text"] == obs_b["text"] and np.array_equal(obs_a["image"], obs_b["image"])
