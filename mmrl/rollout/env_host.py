"""The worker's side of an env copy that lives outside the trainer (`mmrl.rollout.env_workers`): build the env
from a recipe and answer calls. Kept light (gymnasium and the mmrl envs, no torch) because every worker process
imports it, and the forkserver preloads it."""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym

import mmrl.envs  # noqa: F401  (registers the mmrl/* ids)


def own_memory_mb() -> float:
    """The memory this process holds on its own, in MB: its private pages (Linux /proc/self/smaps_rollup), else its
    resident set size (psutil, or /proc/self/statm). Private, not resident: a worker forked from a forkserver that
    other libraries started heavy (vLLM's, say) maps that parent's pages too, and they are not the env's."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            private = sum(int(line.split()[1]) for line in f if line.startswith(("Private_Clean:", "Private_Dirty:")))
        return private / 1024
    except (OSError, ValueError, IndexError):
        pass
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
    trainer_pid: int = field(default_factory=os.getpid)
    """The process that made the recipe: the worker ends when it does."""


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
            return "error", self.build_error, own_memory_mb()
        unwrapped = self.env.unwrapped
        return "ok", {"response_format": getattr(unwrapped, "response_format", "plain"),
                      "system_prompt": getattr(unwrapped, "system_prompt", None)}, own_memory_mb()

    def call(self, method: str, args: tuple, kwargs: dict) -> tuple[str, Any, float]:
        try:
            result = getattr(self.env, method)(*args, **kwargs)
        except Exception as err:  # noqa: BLE001  (an env that raises fails its own call only)
            return "error", f"raised {err!r}", own_memory_mb()
        return "ok", result, own_memory_mb()

    def close(self) -> None:
        if self.env is not None:
            try:
                self.env.close()
            except Exception:  # noqa: BLE001  (closing is best effort)
                pass


def _exit_with(trainer_pid: int) -> None:
    """End this worker as soon as the trainer process ends, even while its env is stuck in a hung call (the worker's
    parent is the forkserver, which outlives the trainer as long as any worker lives). Watches a pidfd (Linux 5.3+;
    no pid-reuse race), else polls the pid once a second."""

    def watch() -> None:
        try:
            fd = os.pidfd_open(trainer_pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])
        else:
            while True:
                try:
                    os.kill(trainer_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="mmrl-env-watchdog").start()


def serve(conn: Connection, recipe: EnvRecipe) -> None:
    """A worker process: build the env, then answer (method, args, kwargs) requests until None or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle; it ends the workers
    _exit_with(recipe.trainer_pid)
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
