"""The episode runner: one-step and multi-step episodes, GRPO groups, history, crashing and hanging envs."""

from __future__ import annotations

import numpy as np

from mmrl.config import EnvSpec, RolloutConfig
from mmrl.rollout.backends import HFBackend, SamplingParams
from mmrl.rollout.runner import EnvPool, EpisodeRequest, EpisodeRunner
from tests.fixtures import toy_envs  # noqa: F401  (registers mmrltest/*)

PARAMS = SamplingParams(max_new_tokens=4, temperature=1.0)


def _runner(policy, specs, **rollout):
    cfg = RolloutConfig(**({"max_episode_steps": 5, "history_turns": 2} | rollout))
    return EpisodeRunner(EnvPool(specs), policy, HFBackend(policy), cfg)


def test_one_step_image_env_and_groups_share_the_reset_seed(tiny_vl):
    spec = EnvSpec(id="mmrl/Classification-v0", kwargs={"source": "shapes", "label": "color", "style": "no_think"})
    runner = _runner(tiny_vl, [spec])
    requests = [EpisodeRequest(0, 7, 0)] * 3 + [EpisodeRequest(0, 8, 1)] * 3
    episodes = runner.run(requests, PARAMS)
    assert [len(ep.turns) for ep in episodes] == [1] * 6
    pixels = [ep.turns[0].prompt.pixel_values for ep in episodes]
    assert all(np.array_equal(pixels[0], p) for p in pixels[1:3])  # same seed, same image
    assert not np.array_equal(pixels[0], pixels[3])
    assert all(ep.reset_info["answer"] == episodes[0].reset_info["answer"] for ep in episodes[:3])
    for ep in episodes:  # rewards are the env's verdict on the sampled text
        assert ep.turns[0].reward == float(ep.turns[0].completion.text.strip() == ep.reset_info["answer"])
    runner.close()


def test_multi_step_episode_keeps_text_history(tiny_text):
    runner = _runner(tiny_text, [EnvSpec(id="mmrltest/Echo-v0", kwargs={"length": 3})])
    (episode,) = runner.run([EpisodeRequest(0, 1)], PARAMS)
    assert len(episode.turns) == 3 and not episode.truncated
    first, third = episode.turns[0], episode.turns[2]
    assert first.prompt.messages[0] == {"role": "system", "content": "Repeat the word."}
    assert "turn 0" in third.prompt.text and "turn 2" in third.prompt.text  # history of 2 earlier turns
    assert third.prompt.messages[2]["content"] == first.completion.text.replace("<|", "<\u200b|")
    runner.close()


def test_an_env_writing_its_own_history_gets_history_turns_and_no_chat_history(tiny_text):
    runner = _runner(tiny_text, [EnvSpec(id="mmrltest/RecallEcho-v0", kwargs={"length": 3})], history_turns=2)
    (episode,) = runner.run([EpisodeRequest(0, 1)], PARAMS)
    third = episode.turns[2].prompt
    assert "(recalled 2)" in third.text  # the env got rollout.history_turns (its own default is 1)
    assert [m["role"] for m in third.messages] == ["system", "user"]  # no earlier turns added as chat
    runner.close()


def test_max_episode_steps_truncates(tiny_text):
    runner = _runner(tiny_text, [EnvSpec(id="mmrltest/Echo-v0", kwargs={"length": 10})], max_episode_steps=2)
    (episode,) = runner.run([EpisodeRequest(0, 1)], PARAMS)
    assert len(episode.turns) == 2 and episode.truncated
    runner.close()


def test_crashing_env_ends_only_its_episode_and_is_rebuilt(tiny_text):
    specs = [EnvSpec(id="mmrltest/Echo-v0", kwargs={"length": 3, "crash_on_step": 1}),
             EnvSpec(id="mmrltest/Echo-v0", kwargs={"length": 3})]
    runner = _runner(tiny_text, specs)
    crashed, healthy = runner.run([EpisodeRequest(0, 1), EpisodeRequest(1, 1)], PARAMS)
    assert crashed.error and "crashed" in crashed.error and len(crashed.turns) == 2
    assert crashed.turns[-1].reward == 0.0 and not crashed.success
    assert healthy.error is None and len(healthy.turns) == 3
    again = runner.run([EpisodeRequest(0, 2)], PARAMS)[0]  # a fresh copy of the crashed env is used
    assert len(again.turns) == 2 and again.error
    runner.close()


def test_hanging_env_times_out(tiny_text):
    spec = EnvSpec(id="mmrltest/Echo-v0", kwargs={"length": 1, "hang_s": 5.0})
    runner = _runner(tiny_text, [spec], env_step_timeout_s=0.3)
    (episode,) = runner.run([EpisodeRequest(0, 1)], PARAMS)
    assert episode.error and "exceeded" in episode.error
    runner.close()


def test_synced_turns_keep_generating_while_another_process_plays(tiny_text):
    """Under multi-process ZeRO-3 every process must call generate as often as the busiest one: a process whose
    episodes ended keeps calling it (on a stand-in prompt) until the others are done too."""
    runner = _runner(tiny_text, [EnvSpec(id="mmrltest/Echo-v0", kwargs={"length": 1})])
    calls = []
    generate = runner.backend.generate
    runner.backend.generate = lambda prompts, params: calls.append(len(prompts)) or generate(prompts, params)
    other_process_turns = iter([2, 2, 2, 0])  # the other process has active episodes for three turns
    runner.sync_turns = lambda local: max(local, next(other_process_turns))
    (episode,) = runner.run([EpisodeRequest(0, 1)], PARAMS)
    assert len(episode.turns) == 1
    assert calls == [1, 1, 1]  # one real turn, then two idle calls
    runner.close()


def test_envs_that_take_image_bounds_get_the_models(tiny_vl, monkeypatch):
    """One source for the size the model sees: the VQA env is given the policy's processor bounds."""
    import pytest

    from mmrl.config import ConfigError, load_config
    from mmrl.envs.vqa.env import model_input_size

    monkeypatch.setattr(tiny_vl.processor.image_processor, "size", {"shortest_edge": 3136, "longest_edge": 9408})
    pool = EnvPool([EnvSpec(id="mmrl/VQAGrounding-v0"), EnvSpec(id="mmrl/Countdown-v0")])
    EpisodeRunner(pool, tiny_vl, HFBackend(tiny_vl, 4), load_config(None).rollout)
    assert tiny_vl.image_bounds == (3136, 9408)
    vqa = pool.get(0, 0).unwrapped
    assert (vqa.input_height, vqa.input_width) == model_input_size(240, 320, 3136, 9408) != (252, 308)
    pool.get(1, 0)  # an env without those parameters is not offered them
    with pytest.raises(ConfigError, match=r"envs\[0\]\.kwargs\.max_pixels.*set model\.max_pixels only"):
        load_config(None, ["envs=[{id: mmrl/VQAGrounding-v0, kwargs: {max_pixels: 9408}}]"])
