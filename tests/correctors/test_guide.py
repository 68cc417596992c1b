"""One GTR step over played episodes (mmrl.correctors.guide) and the DAgger buffer."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import mmrl.envs  # noqa: F401
from mmrl.config import GTRConfig
from mmrl.correctors import Clone, Correction, DAggerBuffer, OracleCorrector
from mmrl.correctors.guide import ask_corrector, guide
from mmrl.formats import format_of
from mmrl.rollout.backends import Completion
from mmrl.rollout.messages import build_messages, observation_parts
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn


def _play(policy, seed, actions):
    """An episode of text NumberLine where the agent answers `actions` in turn (its state read right)."""
    env = gym.make("mmrl/NumberLine-v0", render_image=False)
    obs, info = env.reset(seed=seed)
    ep = Episode(EpisodeRequest(0, seed), info, response_format=format_of(env))
    for action in actions:
        u = env.unwrapped
        text = json.dumps({"current number": u.position, "target number": u.target, "thoughts": f"try {action}",
                           "action": action})
        prompt = policy.encode(*build_messages(observation_parts(obs)[0], None, [], None))
        ids = policy.encode_completion(text)
        obs, reward, terminated, truncated, info = env.step(text)
        ep.turns.append(Turn(prompt, Completion(ids, text, True), reward, dict(info)))
        if terminated or truncated:
            break
    return ep


def _wrong_first(policy, seed=3):
    env = gym.make("mmrl/NumberLine-v0", render_image=False).unwrapped
    env.reset(seed=seed)
    good, bad = ("+", "-") if env.target > env.position else ("-", "+")
    return _play(policy, seed, [bad, good, good, good, good, good, good, good]), good, bad


def test_wrong_steps_become_clones_of_the_expert_thought_with_the_action_masked(tiny_text):
    ep, good, bad = _wrong_first(tiny_text)
    cfg = GTRConfig(corrector="oracle")
    verdicts = ask_corrector(OracleCorrector(), [ep], cfg)
    result = guide([ep], verdicts, tiny_text, cfg)
    assert ep.turns[0].info["gtr_verdict"] == "NO"
    assert all(t.info["gtr_verdict"] == "YES" for t in ep.turns[1:])
    (clone,) = result.clones
    assert ep.turns[0].info["gtr_thought"] == f"try {bad}"
    assert ep.turns[0].info["gtr_corrected_thought"] == ep.reset_info["expert_thought"]
    thought_ids = [i for i, m in zip(clone.completion, clone.thought_mask) if m == 1.0]
    action_ids = [i for i, m in zip(clone.completion, clone.thought_mask) if m == 0.0]
    assert ep.reset_info["expert_thought"] in tiny_text.decode(thought_ids)
    assert tiny_text.decode(action_ids).lstrip().startswith('"action"') and bad in tiny_text.decode(action_ids)
    assert result.stats["gtr/wrong_rate"] == pytest.approx(1 / len(ep.turns))
    assert result.stats["gtr/correction_rate"] == pytest.approx(1 / len(ep.turns))


def test_truncation_cuts_at_the_first_off_path_step(tiny_text):
    ep, _, _ = _wrong_first(tiny_text)
    assert len(ep.turns) > 1
    cfg = GTRConfig(corrector="oracle", truncate=True, truncate_reward=-1.0, format_reward=5.0)
    result = guide([ep], ask_corrector(OracleCorrector(), [ep], cfg), tiny_text, cfg)
    assert len(ep.turns) == 1 and ep.turns[0].info["gtr_truncated"]
    assert ep.turns[0].reward == -1.0 + 5.0  # the truncation reward, plus the format reward of a parsed answer
    assert not ep.truncated and not ep.success
    assert result.stats["gtr/truncated_episodes"] == 1.0


def test_a_corrector_that_raises_or_hangs_means_no_correction(tiny_text):
    ep, _, _ = _wrong_first(tiny_text)

    class Broken:
        def __init__(self):
            self.calls = 0

        def correct(self, observation, response, info, response_format):
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("endpoint down")
            if self.calls == 2:
                import time

                time.sleep(5)
            return Correction(correct=True)

    cfg = GTRConfig(corrector="oracle", timeout_s=0.5, workers=1)
    verdicts = ask_corrector(Broken(), [ep], cfg)
    assert verdicts[0][0] is None and verdicts[0][1] is None
    result = guide([ep], verdicts, tiny_text, cfg)
    assert result.clones == [] and result.stats["gtr/verdict_rate"] < 1.0


def test_dagger_buffer_samples_uniformly_and_survives_a_save(tmp_path, tiny_text):
    prompt = tiny_text.encode([{"role": "user", "content": "hi"}])
    buffer = DAggerBuffer()
    buffer.add([Clone(prompt, [i, 2, 3], [1.0, 0.0, 0.0]) for i in range(10)])
    rng = np.random.default_rng(0)
    picks = [c.completion[0] for _ in range(300) for c in buffer.sample(3, rng)]
    assert all(len({id(c) for c in buffer.sample(3, rng)}) == 3 for _ in range(5))  # without replacement
    counts = np.bincount(picks, minlength=10)
    assert counts.min() > 50 and counts.max() < 130  # 90 expected per entry
    assert len(buffer.sample(50, rng)) == 10 and buffer.sample(0, rng) == []
    buffer.save(tmp_path / "b.pt")
    loaded = DAggerBuffer()
    loaded.load(tmp_path / "b.pt")
    assert [c.completion for c in loaded.items] == [c.completion for c in buffer.items]
    assert loaded.items[0].prompt.text == prompt.text
    empty = DAggerBuffer()
    empty.load(tmp_path / "missing.pt")
    assert len(empty) == 0


def test_the_corrector_sees_the_image_the_policy_saw(tiny_vl):
    image = np.full((28, 28, 3), 200, np.uint8)
    prompt = tiny_vl.encode(*build_messages("What colour?", image, [], None))
    ep = Episode(EpisodeRequest(0, 0), {}, response_format=format_of(gym.make("mmrl/NumberLine-v0")))
    ep.turns.append(Turn(prompt, Completion([1], '{"thoughts": "t", "action": "+"}', True), 0.0, {}))
    seen = []

    class Recorder:
        def correct(self, observation, response, info, response_format):
            seen.append(observation)
            return Correction(correct=True)

    ask_corrector(Recorder(), [ep], GTRConfig(corrector="oracle"))
    (observation,) = seen
    assert observation["text"] == "What colour?"
    assert np.asarray(observation["image"]).shape == (28, 28, 3) and np.asarray(observation["image"]).max() == 200
