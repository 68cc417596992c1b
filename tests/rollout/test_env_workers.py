"""Env copies in worker processes and Ray actors: the same numbers as threads, and every kind of env fault (raise,
hang, exit, segfault, leak, NaN reward, malformed observation) ends only its own episode, counted by kind."""

from __future__ import annotations

import sys

import pytest
import torch

from mmrl.config import ConfigError, EnvSpec, RolloutConfig
from mmrl.episode_metrics import episode_sums
from mmrl.rollout.backends import HFBackend, SamplingParams
from mmrl.rollout.env_workers import make_env_pool
from mmrl.rollout.runner import EpisodeRequest, EpisodeRunner, prompt_corpus
from tests.fixtures import faulty_env, toy_envs  # noqa: F401  (register mmrltest/*)

PARAMS = SamplingParams(max_new_tokens=4, temperature=1.0, seed=3)
FAULTY = "mmrltest/Faulty-v0"


def _runner(policy, specs, **rollout) -> EpisodeRunner:
    cfg = RolloutConfig(**({"max_episode_steps": 3} | rollout))
    return EpisodeRunner(make_env_pool(specs, cfg), policy, HFBackend(policy), cfg)


def _played(runner: EpisodeRunner, requests: list[EpisodeRequest]):
    torch.manual_seed(0)  # the HF backend samples from the global RNG
    try:
        return runner.run(requests, PARAMS)
    finally:
        runner.close()


def test_process_backend_gives_the_thread_backends_numbers(tiny_text):
    specs = [EnvSpec(id="mmrltest/Echo-v0", kwargs={"length": 3}), EnvSpec(id=FAULTY, kwargs={"length": 2})]
    requests = [EpisodeRequest(0, 5, 0)] * 2 + [EpisodeRequest(1, 9, 1)] * 2
    threads = _played(_runner(tiny_text, specs), requests)
    processes = _played(_runner(tiny_text, specs, env_backend="process", env_workers=3), requests)
    for a, b in zip(threads, processes, strict=True):
        assert b.error is None
        assert [t.completion.text for t in a.turns] == [t.completion.text for t in b.turns]
        assert [t.reward for t in a.turns] == [t.reward for t in b.turns]
        assert [t.prompt.text for t in a.turns] == [t.prompt.text for t in b.turns]
    assert [len(ep.turns) for ep in processes] == [3, 3, 2, 2]


def test_every_fault_ends_only_its_episode_counted_by_kind_and_the_worker_is_rebuilt(tiny_text):
    faults = ["exit", "segfault", "hang", "leak", "raise", "nan", "malformed", None]
    specs = [EnvSpec(id=FAULTY, kwargs={"length": 2, "faults": {f: 1.0} if f else {}, "leak_mb": 128})
             for f in faults]
    runner = _runner(tiny_text, specs, env_backend="process", env_workers=4, env_step_timeout_s=2.5,
                     env_memory_mb=120)
    requests = [EpisodeRequest(i, 1, i) for i in range(len(specs))]
    try:
        episodes = runner.run(requests, PARAMS)
        pids = [runner.pool.get(i, 0).pid for i in range(3)]  # the broken workers were replaced ...
        again = runner.run(requests[:1], PARAMS)[0]  # ... and the fresh one plays (and crashes) again
    finally:
        runner.close()
    kinds = [ep.error_kind for ep in episodes]
    assert kinds == ["crash", "crash", "timeout", "memory", "exception", "nan_reward", "malformed", None]
    assert "exit code 3" in episodes[0].error and "SIGSEGV" in episodes[1].error
    assert all(len(ep.turns) == 1 and ep.turns[0].reward == 0.0 for ep in episodes[:-1])
    assert len(episodes[-1].turns) == 2 and episodes[-1].error is None
    assert len(set(pids)) == 3 and again.error_kind == "crash"
    sums = episode_sums(episodes, ["faulty"])
    assert sums["env_errors"][0] == 7 and sums["env_errors/crash"][0] == 2 and sums["env_errors/memory"][0] == 1


def test_threads_drop_nan_rewards_and_malformed_observations_too(tiny_text):
    faults = ["nan", "malformed", "raise", None]
    specs = [EnvSpec(id=FAULTY, kwargs={"length": 2, "faults": {f: 1.0} if f else {}}) for f in faults]
    episodes = _played(_runner(tiny_text, specs), [EpisodeRequest(i, 1, i) for i in range(len(specs))])
    assert [ep.error_kind for ep in episodes] == ["nan_reward", "malformed", "exception", None]
    assert all(t.reward == 0.0 for ep in episodes[:3] for t in ep.turns)  # the NaN never reaches a return


def test_start_up_resets_that_kill_their_worker_are_skipped(tmp_path):
    """The tiny model's tokenizer corpus resets every env 32 times before training: one reset that exits its
    process no longer ends the run."""
    log = tmp_path / "faults.log"
    spec = EnvSpec(id=FAULTY, kwargs={"faults": {"reset_exit": 0.15, "reset_raise": 0.1}, "log_path": str(log)})
    texts = prompt_corpus([spec], n_seeds=32, rollout=RolloutConfig(env_backend="process"))
    injected = log.read_text().split()
    assert {"reset_exit", "reset_raise"} <= set(injected)
    assert len(texts) == 2 * (32 - len(injected))  # each healthy reset gives its prompt and its expert answer


@pytest.mark.slow
def test_ray_actors_play_like_threads_and_a_dead_actor_fails_its_episode_only(tiny_text):
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[faulty_env.__name__])
    if not ray.is_initialized():  # one worker slot: the actors need no CPU reserved while idle
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    specs = [EnvSpec(id=FAULTY, kwargs={"length": 2}), EnvSpec(id=FAULTY, kwargs={"faults": {"exit": 1.0}})]
    requests = [EpisodeRequest(0, 4, 0), EpisodeRequest(1, 4, 1)]
    try:
        healthy = [specs[0], EnvSpec(id=FAULTY, kwargs={})]  # the same prompts; an exit would end this process
        threads = _played(_runner(tiny_text, healthy), requests)
        actors = _played(_runner(tiny_text, specs, env_backend="ray"), requests)
    finally:
        ray.shutdown()
    assert [t.reward for t in actors[0].turns] == [t.reward for t in threads[0].turns]
    assert actors[0].error is None and len(actors[0].turns) == 2
    assert actors[1].error_kind == "crash" and "Ray actor" in actors[1].error


def test_an_env_its_worker_cannot_build_is_a_config_error_naming_it():
    pool = make_env_pool([EnvSpec(id=FAULTY, kwargs={"no_such_kwarg": 1})], RolloutConfig(env_backend="process"))
    with pytest.raises(ConfigError, match="cannot make 'mmrltest/Faulty-v0'.*no_such_kwarg"):
        pool.get(0, 0)
    pool.close()
