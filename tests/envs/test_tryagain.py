"""Behaviour of the ``TryAgain`` wrapper (UFO's multi-turn unary feedback) and ``succ_at_k``."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.spaces import text_space
from mmrl.envs.wrappers import TryAgain
from mmrl.metrics import succ_at_k
from mmrl.rewards.parsing import extract_tag

FEEDBACK = "Incorrect. Please think again."


class OneStepEnv(gym.Env):
    """Scripted one-step env: the question names a seeded secret word; ``<answer>WORD</answer>`` is right."""

    metadata = {"render_modes": []}
    response_format = "think_answer"
    words = ("apple", "pear", "plum", "fig")

    def __init__(self) -> None:
        self.observation_space = spaces.Dict(
            text=text_space(200), image=spaces.Box(0, 255, (4, 4, 3), np.uint8)
        )
        self.action_space = text_space(200)
        self.secret = ""
        self.image = np.zeros((4, 4, 3), np.uint8)
        self.active = False
        self.resets = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.secret = self.words[int(self.np_random.integers(len(self.words)))]
        self.image = self.np_random.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        self.active = True
        self.resets += 1
        return self._obs(), {"answer": self.secret}

    def step(self, action):
        assert self.active, "stepped a finished one-step episode"
        self.active = False
        given = extract_tag(action, "answer")
        success = given is not None and given.strip().lower() == self.secret
        info = {"success": success, "format_error": given is None, "reward/accuracy": float(success)}
        return self._obs(), 7.0 if success else 3.0, True, False, info

    def _obs(self):
        return {"text": f"Say the word {self.secret!r}.", "image": self.image.copy()}


def answer(word: str) -> str:
    return f"<think>hmm</think><answer>{word}</answer>"


def play(env, actions, seed=0):
    obs0, _ = env.reset(seed=seed)
    secret = env.unwrapped.secret
    steps = []
    for action in actions:
        steps.append(env.step(action.replace("SECRET", secret)))
        if steps[-1][2]:
            break
    return obs0, steps


def test_right_at_first_turn_scores_one():
    env = TryAgain(OneStepEnv())
    _, [(obs, reward, terminated, truncated, info)] = play(env, [answer("SECRET")])
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["success"] is True and info["turn"] == 0 and info["succ_turn"] == 0
    assert info["reward/repetition"] == 0.0 and info["reward/solved"] == 1.0 and info["inner_reward"] == 7.0


@pytest.mark.parametrize("gamma", [0.5, 0.8])
def test_reward_is_gamma_to_the_turn_and_feedback_is_appended(gamma):
    env = TryAgain(OneStepEnv(), gamma=gamma)
    obs0, steps = play(env, [answer("x"), answer("y"), answer("SECRET")])
    assert [s[1] for s in steps] == [0.0, 0.0, pytest.approx(gamma**2)]
    assert [s[2] for s in steps] == [False, False, True]
    for obs, *_ in steps[:2]:
        assert obs["text"] == obs0["text"] + "\n\n" + FEEDBACK
        np.testing.assert_array_equal(obs["image"], obs0["image"])  # image kept
        assert obs in env.observation_space
    final = steps[-1][4]
    assert (
        final["succ_turn"] == 2
        and final["turn"] == 2
        and final["answers"] == ["x", "y", env.unwrapped.secret]
    )
    assert steps[0][4]["succ_turn"] is None and steps[0][4]["success"] is False


def test_same_problem_every_turn():
    inner = OneStepEnv()
    env = TryAgain(inner, max_turns=4)
    env.reset(seed=5)
    secret = inner.secret
    for _ in range(3):
        env.step(answer("nope"))
        assert inner.secret == secret
    *_, info = env.step(answer(secret))
    assert info["success"] and info["succ_turn"] == 3


def test_stops_after_max_turns_with_repetition_penalty():
    env = TryAgain(OneStepEnv(), max_turns=3, reward_weights={"repetition": -0.5})
    _, steps = play(env, [answer("Banana"), answer(" banana. "), answer("kiwi"), answer("never played")])
    assert len(steps) == 3 and [s[2] for s in steps] == [False, False, True]
    # answers ["banana", "banana", "kiwi"]: 2 unique of 3 -> -0.5 * (1 - 2/3)
    assert steps[-1][1] == pytest.approx(-0.5 / 3)
    assert steps[-1][4]["reward/repetition"] == pytest.approx(1 / 3)
    assert steps[-1][4]["succ_turn"] is None and steps[-1][4]["success"] is False
    assert steps[-1][0]["text"] == play(TryAgain(OneStepEnv()), [])[0]["text"]  # final obs: no feedback
    with pytest.raises(RuntimeError):
        env.step(answer("again"))


def test_invalid_format_penalty_and_repetition_on_success():
    env = TryAgain(OneStepEnv(), max_turns=5, reward_weights={"format_error": -0.1, "repetition": -0.5})
    _, steps = play(env, ["no tags at all", "No tags at all!", answer("SECRET")])
    assert steps[0][1] == pytest.approx(-0.1) and steps[1][1] == pytest.approx(-0.1)
    assert steps[0][4]["format_error"] is True
    # third turn right: 0.5**2, answers ["no tags at all", "no tags at all", secret] -> -0.5 * (1 - 2/3)
    assert steps[2][1] == pytest.approx(0.25 - 0.5 / 3)


def test_feedback_pool_is_deterministic_and_drawn_from_the_pool():
    pool = ["Wrong.", "Try again, carefully.", "Not quite; recheck your steps."]

    def feedbacks(seed):
        env = TryAgain(OneStepEnv(), max_turns=6, feedback_pool=pool)
        obs0, steps = play(env, [answer("x")] * 6, seed=seed)
        return [s[0]["text"][len(obs0["text"]) + 2 :] for s in steps[:-1]]

    first = feedbacks(3)
    assert first == feedbacks(3)
    assert set(first) <= set(pool) and len(first) == 5
    assert any(feedbacks(seed) != first for seed in range(4, 10))


def test_unseeded_resets_reuse_the_seeded_generator():
    a, b = TryAgain(OneStepEnv()), TryAgain(OneStepEnv())
    a.reset(seed=1)
    b.reset(seed=1)
    for _ in range(3):
        assert a.reset()[0]["text"] == b.reset()[0]["text"]


def test_wrapper_passes_check_env_and_pickles():
    env = TryAgain(OneStepEnv(), feedback="Nope: try again!")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    env.reset(seed=2)
    env.step(answer("x"))
    clone = pickle.loads(pickle.dumps(env))
    assert clone.step(answer("y"))[0]["text"] == env.step(answer("y"))[0]["text"]


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        TryAgain(OneStepEnv(), max_turns=0)
    with pytest.raises(ValueError):
        TryAgain(OneStepEnv(), feedback_pool=[])
    bare = gym.make("CartPole-v1").unwrapped
    with pytest.raises(TypeError):
        TryAgain(bare)


def test_registered_try_again_countdown():
    env = gym.make("mmrl/TryAgain-Countdown-v0", try_again={"max_turns": 2, "gamma": 0.5}, count=3)
    obs, info = env.reset(seed=0)
    assert "Using the numbers" in obs["text"] and len(info["expert_action"]) > 0
    obs, reward, terminated, _, step_info = env.step("<answer>1 + 1</answer>")
    assert (reward, terminated) == (0.0, False) and obs["text"].endswith(FEEDBACK)
    _, reward, terminated, _, step_info = env.step(info["expert_action"])
    assert (reward, terminated, step_info["succ_turn"]) == (0.5, True, 1)


def test_registered_try_again_classification_keeps_the_image():
    env = gym.make("mmrl/TryAgain-Classification-v0")
    obs0, info = env.reset(seed=0)
    obs, reward, terminated, _, _ = env.step("<think>hm</think><answer>definitely not a class</answer>")
    assert not terminated and reward == 0.0
    np.testing.assert_array_equal(obs["image"], obs0["image"])
    _, reward, terminated, _, _ = env.step(info["expert_action"])
    assert terminated and reward == 0.5


def test_succ_at_k():
    turns = [0, 1, None, 4, 0]
    assert succ_at_k(turns, 1) == pytest.approx(2 / 5)
    assert succ_at_k(turns, 2) == pytest.approx(3 / 5)
    assert succ_at_k(turns, 5) == pytest.approx(4 / 5)
    assert succ_at_k([None, None], 3) == 0.0
    with pytest.raises(ValueError):
        succ_at_k(turns, 0)
    with pytest.raises(ValueError):
        succ_at_k([], 1)
