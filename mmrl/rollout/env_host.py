"""The worker's side of an env copy that lives outside the trainer (`mmrl.rollout.env_workers`): build the env
from a recipe and answer calls. Kept light (gymnasium and the mmrl envs, no torch) because every worker process
imports it, and the forkserver preloads it."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym

import mmrl.envs  # noqa: F401  (registers the mmrl/* ids)


def resident_mb() -> float:
    """This process's resident set size in MB (psutil when installed, else /proc/self/statm)."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return psutil.Process().memory_info().rss / 2**20


@dataclass
class EnvRecipe:
    """What a worker needs to build its copy: Gymnasium's registered spec (so an id registered only in the trainer's
    process, e.g. by a test module, still resolves) and the kwargs `make_env` would pass."""

    env_id: str
    spec: gym.envs.registration.EnvSpec
    kwargs: dict[str, Any]


class EnvHost:
    """The env copy inside a worker; every answer is (status 'ok' | 'error', payload, resident MB)."""

    def __init__(self, recipe: EnvRecipe):
        self.recipe = recipe
        self.env: gym.Env | None = None
        self.build_error: str | None = None
        try:
            self.env = gym.make(recipe.spec, **recipe.kwargs)
        except Exception as err:  # noqa: BLE001  (reported to the trainer, which names the env)
            self.build_error = f"envs: cannot make {recipe.env_id!r} with {recipe.kwargs}: {type(err).__name__}: {err}"

    def describe(self) -> tuple[str, Any, float]:
        if self.env is None:
            return "error", self.build_error, resident_mb()
        unwrapped = self.env.unwrapped
        return "ok", {"response_format": getattr(unwrapped, "response_format", "plain"),
                      "system_prompt": getattr(unwrapped, "system_prompt", None)}, resident_mb()

    def call(self, method: str, args: tuple, kwargs: dict) -> tuple[str, Any, float]:
        try:
            result = getattr(self.env, method)(*args, **kwargs)
        except Exception as err:  # noqa: BLE001  (an env that raises fails its own call only)
            return "error", f"raised {err!r}", resident_mb()
        return "ok", result, resident_mb()

    def close(self) -> None:
        if self.env is not None:
            try:
                self.env.close()
            except Exception:  # noqa: BLE001  (closing is best effort)
                pass


def serve(conn: Connection, recipe: EnvRecipe) -> None:
    """A worker process: build the env, then answer (method, args, kwargs) requests until None or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle; it ends the workers
    host = EnvHost(recipe)
    conn.send(host.describe())
    while host.env is not None:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the trainer is gone
            break
        if request is None:
            break
        reply = host.call(*request)
        try:
            conn.send(reply)
        except Exception as err:  # noqa: BLE001  (e.g. an info dict that cannot be pickled)
            conn.send(("error", f"returned something that cannot be sent back: {err!r}", reply[2]))
    host.close()
    conn.close()
