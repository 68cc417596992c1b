"""Check the config's env specs before a run starts (before its directory is made or a model is built): every id
can be found (its module imported), and every kwarg in `kwargs` and `eval_kwargs` is one its constructor takes.
Errors name the spec, the key and what is wrong, as one line."""

from __future__ import annotations

import importlib
import inspect

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

import mmrl.envs  # noqa: F401  (registers the mmrl/* ids)
from mmrl.config import ConfigError, EnvSpec

MAKE_KWARGS = {"max_episode_steps", "disable_env_checker"}
"""Keywords `gymnasium.make` takes itself rather than passing to the env."""


def check_env_specs(specs: list[EnvSpec]) -> None:
    for i, spec in enumerate(specs):
        creator = _creator(i, spec.id)
        if creator is None:
            continue
        try:
            parameters = inspect.signature(creator).parameters.values()
        except (TypeError, ValueError):  # a builtin or odd callable: gym.make will tell
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            continue
        takes = {p.name for p in parameters
                 if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
        takes |= MAKE_KWARGS
        for field_name in ("kwargs", "eval_kwargs"):
            unknown = sorted(set(getattr(spec, field_name)) - takes)
            if unknown:
                accepted = ", ".join(sorted(takes - {"self"})) or "no kwargs"
                raise ConfigError(f"envs[{i}].{field_name}: {spec.id} takes no argument {unknown[0]!r} "
                                  f"(it takes: {accepted})")


def _creator(i: int, env_id: str):
    """The callable `gymnasium.make` would call for `env_id`, importing its module first; None when it cannot be
    told without making the env (gym.make reports those)."""
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            missing = f"no module named {err.name!r}" if err.name else str(err)
            raise ConfigError(f"envs[{i}].id {env_id!r}: {missing} (is it installed, or on PYTHONPATH?)") from None
        except Exception as err:  # noqa: BLE001  (the user's module fails on import: say which and why)
            raise ConfigError(f"envs[{i}].id {env_id!r}: importing {module!r} failed: "
                              f"{type(err).__name__}: {err}") from None
    try:
        entry = gym.spec(name).entry_point
    except gym.error.Error as err:
        raise ConfigError(f"envs[{i}].id {env_id!r}: {err}") from None
    try:
        return load_env_creator(entry) if isinstance(entry, str) else entry
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"envs[{i}].id {env_id!r}: its entry point {entry!r} cannot be loaded: {err}") from None
