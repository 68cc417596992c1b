"""The episode runner: many env copies stepped in lock-step, one batched generation per turn.

One-step dataset tasks and multi-turn games go through the same loop:
observation → chat messages (with text history) → generate → `env.step(response_text)` → next observation.
A GRPO group is G requests with the same env and reset seed. An env that raises, hangs, or (in a worker process
or Ray actor, `mmrl.rollout.env_workers`) crashes or outgrows its memory cap ends its episode with `error` set
(reward 0 for that turn; `Episode.error_kind` says which) and is rebuilt; so does a step whose reward is not a
finite number or whose observation is malformed. The trainer drops such episodes from the update and counts them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

import mmrl.envs  # noqa: F401  (registers the mmrl/* ids)
from mmrl.config import ConfigError, EnvSpec, RolloutConfig, env_names
from mmrl.formats import PLAIN, ResponseFormat, format_of
from mmrl.models.policy import Policy, Prompt
from mmrl.rollout.backends import Completion, GenerationBackend, SamplingParams, derive_seed
from mmrl.rollout.calls import CallFailed, run_calls
from mmrl.rollout.messages import build_messages, observation_parts

log = logging.getLogger("mmrl.rollout")


@dataclass
class Turn:
    prompt: Prompt
    completion: Completion
    reward: float
    info: dict[str, Any]
    label: str | None = None
    """The env's expert response for this turn's state (``info['expert_action']`` of the observation it answered),
    recorded in expert rollouts (`EpisodeRunner.run` with `expert_beta`): the warm-start's target."""


@dataclass
class EpisodeRequest:
    env_index: int
    """Index into the list of env specs."""
    seed: int
    """Reset seed: equal seeds give equal starting observations (one GRPO group)."""
    group: int = 0
    """Group id, for advantage estimation."""


@dataclass
class Episode:
    request: EpisodeRequest
    reset_info: dict[str, Any]
    turns: list[Turn] = field(default_factory=list)
    error: str | None = None
    truncated: bool = False
    response_format: ResponseFormat = PLAIN
    """How the env's responses split into thought and action (the env's declared format, :mod:`mmrl.formats`)."""

    @property
    def total_reward(self) -> float:
        return float(sum(t.reward for t in self.turns))

    @property
    def error_kind(self) -> str | None:
        """How the episode failed ('exception', 'timeout', 'crash', 'memory', 'nan_reward', 'malformed'), or None."""
        return None if self.error is None else getattr(self.error, "kind", "exception")

    @property
    def success(self) -> bool:
        return bool(self.turns and self.turns[-1].info.get("success", False)) and self.error is None


def warm_start_key(target: str) -> str:
    """The reset-info key that labels a warm-start for `train.sft_target`."""
    return "expert_action" if target == "expert" else "admissible_actions"


def make_env(spec: EnvSpec, eval_mode: bool = False, offered: dict[str, Any] | None = None) -> gym.Env:
    """`gymnasium.make` with the spec's kwargs (eval_kwargs merged over them for held-out evaluation), plus each
    `offered` kwarg that the env's constructor names and the spec leaves unset (e.g. the model's image bounds)."""
    kwargs = env_kwargs(spec, eval_mode, offered)
    try:
        return gym.make(spec.id, **kwargs)
    except (gym.error.Error, ValueError, TypeError, ImportError, OSError) as err:  # a wrong id, kwarg or path
        raise ConfigError(f"envs: cannot make {spec.id!r} with {kwargs}: {type(err).__name__}: {err}") from err


def env_kwargs(spec: EnvSpec, eval_mode: bool = False, offered: dict[str, Any] | None = None) -> dict[str, Any]:
    """The kwargs `make_env` passes to `gymnasium.make` (an env worker process builds its copy with the same)."""
    kwargs = dict(spec.kwargs) | (dict(spec.eval_kwargs) if eval_mode else {})
    if offered:
        takes = constructor_parameters(spec.id)
        kwargs = {k: v for k, v in offered.items() if k in takes} | kwargs
    return kwargs


def constructor_parameters(env_id: str) -> set[str]:
    """Keyword parameters the registered env's entry point names explicitly (not through **kwargs); empty when
    that cannot be told."""
    try:
        module, _, name = env_id.rpartition(":")
        if module:
            importlib.import_module(module)
        entry = gym.spec(name).entry_point
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {p.name for p in inspect.signature(creator).parameters.values() if p.kind in kinds}
    except Exception:  # noqa: BLE001  (unknown id or odd entry point: offer nothing; gym.make reports the id)
        return set()


def prompt_corpus(specs: list[EnvSpec], n_seeds: int = 32, rollout: RolloutConfig | None = None) -> list[str]:
    """Prompt texts (and expert answers and thoughts) of the envs' first `n_seeds` resets: what the tiny model's
    tokenizer is trained on. The resets go through the env backend of `rollout` (default: threads) like training's,
    so a reset that raises, hangs or (with the process backend) kills its worker is skipped, with one warning line."""
    from mmrl.rollout.env_workers import make_env_pool

    rollout = rollout or RolloutConfig()
    texts = []
    for index, spec in enumerate(specs):
        pool = make_env_pool([spec], rollout)
        try:
            pool.formats()  # builds the first copy: an env that cannot be made is a config error
            env = pool.get(0, 0)
            failed = []
            for seed in range(n_seeds):
                (outcome,) = run_calls([partial(env.reset, seed=seed)], 1, rollout.env_step_timeout_s, "env reset")
                outcome = reset_fault(outcome) or outcome
                if isinstance(outcome, CallFailed):
                    failed.append(f"seed {seed}: {outcome}")
                    pool.discard(0, 0)
                    env = pool.get(0, 0)
                    continue
                obs, info = outcome
                texts.append(obs if isinstance(obs, str) else str(obs.get("text", "")))
                texts += [str(info[k]) for k in ("expert_action", "expert_thought") if k in info]
            if failed:
                log.warning("tokenizer corpus: %d of %d resets of envs[%d] (%s) failed and were skipped (%s)",
                            len(failed), n_seeds, index, spec.id, failed[0])
        finally:
            pool.close()
    return texts


class EnvPool:
    """Copies of each env, created on demand and reused across steps; a broken copy is replaced. This one keeps the
    copies in the trainer's process (`rollout.env_backend: thread`); `mmrl.rollout.env_workers` has the pools whose
    copies live in worker processes or Ray actors, which override `_build` and `_dispose`."""

    def __init__(self, specs: list[EnvSpec], eval_mode: bool = False):
        self.specs = specs
        self._renders_history: dict[int, bool] = {}
        self.eval_mode = eval_mode
        self.offered: dict[str, Any] = {}
        """Kwargs given to every env whose constructor takes them (`make_env`); the runner offers the model's
        image bounds, so an env that must know the size the model sees (VQA's boxes) cannot disagree with it."""
        self._envs: dict[tuple[int, int], gym.Env] = {}

    def get(self, env_index: int, slot: int) -> gym.Env:
        key = (env_index, slot)
        if key not in self._envs:
            self._envs[key] = self._build(env_index)
        return self._envs[key]

    def _build(self, env_index: int) -> gym.Env:
        return make_env(self.specs[env_index], self.eval_mode, self.offered)

    def _dispose(self, env: gym.Env) -> None:
        """Close a copy; called off the caller's thread for a broken copy (closing a hung env could hang too)."""
        _close_quietly(env)

    def renders_history(self, env_index: int) -> bool:
        """True when the env writes its earlier turns into its own observation: it takes `history_turns`
        (offered from rollout.history_turns), and the runner then adds no chat history of its own."""
        if env_index not in self._renders_history:  # asked per episode: look the constructor up once per env
            self._renders_history[env_index] = "history_turns" in constructor_parameters(self.specs[env_index].id)
        return self._renders_history[env_index]

    def formats(self) -> dict[str, ResponseFormat]:
        """Each env's declared response format, by its metric name."""
        return {name: format_of(self.get(i, 0)) for i, name in enumerate(env_names(self.specs))}

    def discard(self, env_index: int, slot: int) -> None:
        env = self._envs.pop((env_index, slot), None)
        if env is not None:
            threading.Thread(target=self._dispose, args=(env,), daemon=True).start()

    def close(self) -> None:
        for key in list(self._envs):
            self._dispose(self._envs.pop(key))


def _close_quietly(env: gym.Env) -> None:
    try:
        env.close()
    except Exception:  # noqa: BLE001  (closing is best effort)
        pass


class EpisodeRunner:
    def __init__(self, pool: EnvPool, policy: Policy, backend: GenerationBackend, cfg: RolloutConfig):
        self.pool = pool
        self.policy = policy
        bounds = policy.image_bounds
        if bounds is not None:
            pool.offered |= {"min_pixels": bounds[0], "max_pixels": bounds[1]}
        pool.offered["max_steps"] = cfg.max_episode_steps  # one episode cap: envs that count steps get the runner's
        pool.offered["history_turns"] = cfg.history_turns  # one history length, whether the env or the runner writes it
        self.backend = backend
        self.cfg = cfg
        self.sync_turns: Callable[[int], int] | None = None
        """Set under multi-process ZeRO-3 to a max-over-processes of the active episode count, so that every
        process calls generate (one call per turn) the same number of times; its weights are all-gathered in it."""

    def run(self, requests: list[EpisodeRequest], params: SamplingParams, expert_beta: float | None = None,
            rng: np.random.Generator | None = None) -> list[Episode]:
        """Play every request to the end (or `max_episode_steps` turns) and return the episodes in order.

        With `expert_beta` (an expert rollout, for the warm-start): every turn records the env's expert response
        for its state (``info['expert_action']``) as `Turn.label`, and acts with it with probability `expert_beta`
        (drawn from `rng`), else with the policy's response (DAgger's mixture, Ross et al. 2011); a state without
        an expert response gets the policy's. Prompts are built exactly as in RL. Generation is skipped on turns
        where every episode acts with its expert."""
        slot_of = _slot_numbers(requests)
        envs: list[gym.Env | None] = []
        episodes, observations = [], []
        for req, (env, outcome) in zip(requests, self._reset_all(requests, slot_of)):
            failed = isinstance(outcome, CallFailed)
            episodes.append(Episode(req, {}, error=outcome) if failed
                            else Episode(req, dict(outcome[1]), response_format=format_of(env)))
            observations.append(None if failed else outcome[0])
            envs.append(None if failed else env)
        histories: list[list[tuple[str, str]]] = [[] for _ in requests]
        own_history = [self.pool.renders_history(req.env_index) for req in requests]
        system = {i: self._system_prompt(env) for i, env in enumerate(envs) if env is not None}
        expert_rng = rng if rng is not None else np.random.default_rng(params.seed)
        labels: list[str | None] = [None] * len(requests)
        if expert_beta is not None:
            labels = [_label(ep.reset_info) for ep in episodes]

        idle_prompt: Prompt | None = None
        for turn in range(self.cfg.max_episode_steps):
            turn_params = params if params.seed is None else dataclasses.replace(params, seed=derive_seed(params.seed, turn))
            active = [i for i, env in enumerate(envs) if env is not None]
            if self.sync_turns is not None:
                # Multi-process ZeRO-3: every process generates once per turn until all are done.
                if self.sync_turns(len(active)) == 0:
                    break
                if not active and idle_prompt is not None:
                    self.backend.generate([idle_prompt], turn_params)
                    continue
            if not active:
                break
            # The G copies of a group see one observation: encode each distinct one once, all in one batch.
            keys, todo = [], {}
            for i in active:
                text, image = observation_parts(observations[i])
                keep = 0 if own_history[i] else self.cfg.history_turns
                history = histories[i][-keep:] if keep > 0 else []
                key = (system[i], tuple(history), text, None if image is None else _digest(image))
                if key not in todo:
                    todo[key] = build_messages(text, image, history, system[i])
                keys.append(key)
            encoded = dict(zip(todo, self.policy.encode_many(list(todo.values()))))
            prompts = [encoded[key] for key in keys]
            idle_prompt = prompts[0]
            by_expert = [expert_beta is not None and labels[i] is not None and expert_rng.random() < expert_beta
                         for i in active]
            if all(by_expert) and self.sync_turns is None:
                completions = [None] * len(active)
            else:
                completions = self.backend.generate(prompts, turn_params)
            completions = [self._expert_completion(labels[i]) if e else c
                           for i, e, c in zip(active, by_expert, completions)]
            steps = [partial(envs[i].step, c.text) for i, c in zip(active, completions)]
            outcomes = run_calls(steps, self.cfg.env_workers, self.cfg.env_step_timeout_s, "env step")
            for i, prompt, completion, outcome in zip(active, prompts, completions, outcomes):
                ep, req = episodes[i], episodes[i].request
                if isinstance(outcome, CallFailed):
                    ep.error = outcome
                    log.warning("episode (env %d, seed %d): %s; env rebuilt", req.env_index, req.seed, ep.error)
                    ep.turns.append(Turn(prompt, completion, 0.0, {"env_error": ep.error}))
                    self.pool.discard(req.env_index, slot_of[i])
                    envs[i] = None
                    continue
                fault = step_fault(outcome)
                if fault is not None:  # a NaN/inf reward or a malformed result: an env error, never fed as NaN
                    ep.error = fault
                    log.warning("episode (env %d, seed %d): %s", req.env_index, req.seed, fault)
                    ep.turns.append(Turn(prompt, completion, 0.0, {"env_error": fault}))
                    envs[i] = None
                    continue
                obs, reward, terminated, truncated, info = outcome
                ep.turns.append(Turn(prompt, completion, float(reward), dict(info), labels[i]))
                if expert_beta is not None:
                    labels[i] = _label(info)
                histories[i].append((observation_parts(observations[i])[0], completion.text))
                observations[i] = obs
                if terminated or truncated:
                    ep.truncated = bool(truncated and not terminated)
                    envs[i] = None
        for i, env in enumerate(envs):
            if env is not None:  # still running after max_episode_steps turns
                episodes[i].truncated = True
        return episodes

    def _expert_completion(self, label: str) -> Completion:
        return Completion(self.policy.encode_completion(label), label, True)

    def warm_start_pairs(self, requests: list[EpisodeRequest], target: str, rng: np.random.Generator,
                         params: SamplingParams | None = None, beta: float = 1.0) -> list[tuple[Prompt, str]]:
        """(prompt, label) pairs for a supervised warm-start. `target` 'expert': every turn of whole expert
        rollouts (`run` with `expert_beta=beta`; `params` sample the policy's turns when `beta` < 1), labelled with
        that state's info['expert_action'], with the prompt (history included) the policy sees in RL.
        'random_admissible': the first state only, labelled with a random entry of info['admissible_actions'] (the
        answer format without the task). Requests whose env gives no such label are skipped."""
        key = warm_start_key(target)
        if target == "expert":
            params = params or SamplingParams(self.cfg.max_new_tokens, self.cfg.temperature, self.cfg.top_p)
            episodes = self.run(requests, params, expert_beta=beta, rng=rng)
            pairs = [(t.prompt, t.label) for ep in episodes for t in ep.turns if t.label is not None]
            if not pairs:
                raise ValueError(f"train.sft_steps > 0 but no env returned info[{key!r}] at reset")
            return pairs
        labels, inputs = [], []
        for env, outcome in self._reset_all(requests, _slot_numbers(requests)):
            if isinstance(outcome, CallFailed) or not outcome[1].get(key):
                continue
            label = outcome[1][key]
            labels.append(str(label) if target == "expert" else str(label[rng.integers(len(label))]))
            text, image = observation_parts(outcome[0])
            inputs.append(build_messages(text, image, [], self._system_prompt(env)))
        if not labels:
            raise ValueError(f"train.sft_steps > 0 but no env returned info[{key!r}] at reset")
        return list(zip(self.policy.encode_many(inputs), labels))

    def labelled_envs(self, target: str, warn: Callable[[str], None]) -> list[int]:
        """Indices of the envs whose reset info labels a warm-start for `target` (`warm_start_key`), probed with
        one reset each; `warn` gets one line naming the envs without labels (their requests are skipped)."""
        key = warm_start_key(target)
        requests = [EpisodeRequest(i, 0) for i in range(len(self.pool.specs))]
        outcomes = [outcome for _, outcome in self._reset_all(requests, [0] * len(requests))]
        labelled = [i for i, outcome in enumerate(outcomes) if not isinstance(outcome, CallFailed) and outcome[1].get(key)]
        if len(labelled) < len(requests):
            names = env_names(self.pool.specs)
            missing = ", ".join(names[i] for i in range(len(requests)) if i not in labelled)
            what = "the warm-start is skipped" if not labelled else "the warm-start trains on the other envs only"
            warn(f"warning: train.sft_steps > 0 but {missing} gives no info[{key!r}] at reset: {what}")
        return labelled

    def _reset_all(self, requests: list[EpisodeRequest], slot_of: list[int]) -> list[tuple[gym.Env, Any]]:
        """Reset every request's env copy concurrently: (env, (obs, info) or an error string) per request. A copy
        whose reset failed is rebuilt next time."""
        envs = [self.pool.get(req.env_index, slot) for req, slot in zip(requests, slot_of)]
        resets = [partial(env.reset, seed=req.seed) for env, req in zip(envs, requests)]
        outcomes = run_calls(resets, self.cfg.env_workers, self.cfg.env_step_timeout_s, "env reset")
        outcomes = [reset_fault(o) or o for o in outcomes]
        for req, slot, outcome in zip(requests, slot_of, outcomes):
            if isinstance(outcome, CallFailed):
                log.warning("episode (env %d, seed %d): %s; env rebuilt", req.env_index, req.seed, outcome)
                self.pool.discard(req.env_index, slot)
        return list(zip(envs, outcomes))

    def _system_prompt(self, env: gym.Env) -> str | None:
        if self.cfg.system_prompt is not None:
            return self.cfg.system_prompt
        return getattr(env.unwrapped, "system_prompt", None)

    def close(self) -> None:
        self.pool.close()


def step_fault(outcome: Any) -> CallFailed | None:
    """Why an env step's result cannot be trained on, or None: a reward that is not a finite number ('nan_reward'),
    or not the (obs, reward, terminated, truncated, info) of Gymnasium's contract with a usable observation
    ('malformed')."""
    if not (isinstance(outcome, tuple) and len(outcome) == 5 and isinstance(outcome[4], dict)):
        return CallFailed(f"env step returned {_short(outcome)}, not (obs, reward, terminated, truncated, info)",
                          "malformed")
    reward = outcome[1]
    try:
        value = float(reward)
    except (TypeError, ValueError):
        return CallFailed(f"env step returned the reward {_short(reward)}, not a number", "malformed")
    if not np.isfinite(value):
        return CallFailed(f"env step returned the reward {value}", "nan_reward")
    return observation_fault(outcome[0], "env step")


def reset_fault(outcome: Any) -> CallFailed | None:
    """Why an env reset's result cannot be played, or None (a CallFailed passes through unchanged: None)."""
    if isinstance(outcome, CallFailed):
        return None
    if not (isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[1], dict)):
        return CallFailed(f"env reset returned {_short(outcome)}, not (obs, info)", "malformed")
    return observation_fault(outcome[0], "env reset")


def observation_fault(obs: Any, what: str) -> CallFailed | None:
    """A 'malformed' failure for an observation that is not text or {text, image (H, W, 3) uint8}, else None."""
    try:
        _, image = observation_parts(obs)
    except TypeError as err:
        return CallFailed(f"{what}: {err}", "malformed")
    if image is not None and not (image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        return CallFailed(f"{what}: the image must be (H, W, 3) uint8, got {image.shape} {image.dtype}", "malformed")
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _label(info: dict[str, Any]) -> str | None:
    label = info.get("expert_action")
    return None if label is None else str(label)


def _digest(image: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest() + str(image.shape)


def _slot_numbers(requests: list[EpisodeRequest]) -> list[int]:
    counts: dict[int, int] = {}
    out = []
    for req in requests:
        out.append(counts.get(req.env_index, 0))
        counts[req.env_index] = out[-1] + 1
    return out
