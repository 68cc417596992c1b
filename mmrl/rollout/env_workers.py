"""Where env copies live: in the trainer's process, in worker processes, or in Ray actors (`rollout.env_backend`).

One pool class per backend, chosen once by :func:`make_env_pool`; the runner calls every pool the same way
(`get(env_index, slot)` gives a copy with Gymnasium's `reset`/`step`; `discard` drops a broken copy and the next `get`
builds a fresh one). At most `rollout.env_workers` calls run at once, whatever the backend (`mmrl.rollout.calls`).

- ``thread`` (`mmrl.rollout.runner.EnvPool`): the env objects themselves, in the trainer's process. An env that
  raises or hangs fails its own episode, but one that calls `os._exit` or segfaults ends the trainer.
- ``process`` (:class:`ProcessEnvPool`): each copy lives in its own worker process, the pattern of Gymnasium's
  ``AsyncVectorEnv`` workers (one `multiprocessing` Pipe per copy, requests and replies as pickled tuples), one copy
  per process so that a fault loses one episode only. Workers are forked from a forkserver that preloaded
  `mmrl.rollout.env_host` (gymnasium and the mmrl envs, no torch), so a new copy starts in a fraction of a second,
  without the trainer's threads, memory or GPU state. A worker ends with the trainer, even when stuck in a hung call.
- ``ray`` (:class:`RayEnvPool`): each copy is a Ray actor (`ray.init()` joins the cluster that RAY_ADDRESS names, or
  starts a local one), so heavy envs can run on other machines of a cluster.

For the process and Ray backends a call fails with a kind (`CallFailed.kind`, counted as `train/env_errors/<kind>`):
'exception' (the env raised), 'crash' (the worker died: `os._exit`, a signal, an out-of-memory kill), 'memory' (the
worker's own memory (private pages), measured after every call, passed `rollout.env_memory_mb`: its reply is dropped) or
'timeout' (the runner abandoned it after `rollout.env_step_timeout_s`). The runner then discards the copy, which
kills its worker, so a hung or leaking env is really gone, unlike a thread. (The runner adds 'nan_reward' and
'malformed' for results it cannot use, whatever the backend.)
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any

import gymnasium as gym

from mmrl.config import ConfigError, EnvSpec, RolloutConfig
from mmrl.rollout import env_host
from mmrl.rollout.env_host import EnvHost, EnvRecipe, own_memory_mb, serve
from mmrl.rollout.runner import EnvPool, env_kwargs

__all__ = ["EnvWorkerFault", "ProcessEnvPool", "RayEnvPool", "make_env_pool", "own_memory_mb"]


class EnvWorkerFault(RuntimeError):
    """An env call that failed in or with its worker; `kind` is how it failed ('exception', 'crash', 'memory')."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class EnvBuildError(EnvWorkerFault):
    """The worker could not make its env (a wrong id, kwarg or path)."""


def make_env_pool(specs: list[EnvSpec], rollout: RolloutConfig, eval_mode: bool = False) -> EnvPool:
    """The env pool of `rollout.env_backend`."""
    if rollout.env_backend == "process":
        return ProcessEnvPool(specs, eval_mode, rollout.env_memory_mb)
    if rollout.env_backend == "ray":
        return RayEnvPool(specs, eval_mode, rollout.env_memory_mb)
    return EnvPool(specs, eval_mode)


def env_recipe(spec: EnvSpec, eval_mode: bool, offered: dict[str, Any]) -> EnvRecipe:
    module, _, name = spec.id.rpartition(":")
    try:
        if module:
            __import__(module)
        registered = gym.spec(name)
    except (gym.error.Error, ImportError) as err:
        raise ConfigError(f"envs: cannot make {spec.id!r}: {type(err).__name__}: {err}") from err
    return EnvRecipe(spec.id, registered, env_kwargs(spec, eval_mode, offered))


# ---------------------------------------------------------------------------------------------- the trainer's side
class RemoteEnv:
    """An env copy in a worker: `reset`/`step` are forwarded; `unwrapped` answers the attributes the runner reads
    (`response_format`, `system_prompt`). Subclasses say how to send a request and wait for its answer."""

    def __init__(self, env_id: str, memory_mb: float | None):
        self.env_id = env_id
        self.memory_mb = memory_mb
        self._meta: dict[str, Any] | None = None

    @property
    def unwrapped(self) -> RemoteEnv:
        return self

    @property
    def response_format(self) -> str:
        return self._ready()["response_format"]

    @property
    def system_prompt(self) -> str | None:
        return self._ready()["system_prompt"]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        self._ready()
        return self._answer(self._request("reset", (), {"seed": seed, "options": options}))

    def step(self, action: Any) -> Any:
        self._ready()
        return self._answer(self._request("step", (action,), {}))

    def _ready(self) -> dict[str, Any]:
        if self._meta is None:
            try:
                self._meta = self._answer(self._request("describe", (), {}))
            except EnvWorkerFault as fault:
                message = str(fault) if fault.kind == "exception" else f"envs: cannot make {self.env_id!r}: {fault}"
                raise EnvBuildError(fault.kind, message) from None
        return self._meta

    def _answer(self, reply: tuple[str, Any, float]) -> Any:
        status, payload, rss = reply
        if self.memory_mb is not None and rss > self.memory_mb:
            raise EnvWorkerFault("memory", f"failed: the worker of {self.env_id!r} holds {rss:.0f} MB, over "
                                           f"rollout.env_memory_mb = {self.memory_mb:g}")
        if status != "ok":
            raise EnvWorkerFault("exception", str(payload))
        return payload

    def _request(self, method: str, args: tuple, kwargs: dict) -> tuple[str, Any, float]:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


_FORKSERVER_LOCK = threading.Lock()


def _worker_context() -> multiprocessing.context.BaseContext:
    """Forkserver workers (a clean parent with this module preloaded, none of the trainer's threads or its
    GPU state). As with any multiprocessing start but fork, each worker imports the main module as `__mp_main__`
    (a script must keep its work under ``if __name__ == "__main__":``); where there is no main file to import
    (``python -`` or a notebook) or no forkserver, workers are plain forks of the trainer, whose resident memory
    then counts the pages they share with it (set `rollout.env_memory_mb` above the trainer's own)."""
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    importable = getattr(getattr(main, "__spec__", None), "name", None) or main_file is None \
        or os.path.isfile(main_file)
    with _FORKSERVER_LOCK:
        if "forkserver" not in multiprocessing.get_all_start_methods() or not importable:
            return multiprocessing.get_context("fork")
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([env_host.__name__])
        return ctx


class ProcessEnv(RemoteEnv):
    """An env copy in its own process, talking over a Pipe."""

    def __init__(self, recipe: EnvRecipe, memory_mb: float | None):
        super().__init__(recipe.env_id, memory_mb)
        ctx = _worker_context()
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=serve, args=(child, recipe), daemon=True, name="mmrl-env-worker")
        with _FORKSERVER_LOCK:  # the first start launches the forkserver
            self._process.start()
        child.close()
        self._describe_sent = False

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _request(self, method: str, args: tuple, kwargs: dict) -> tuple[str, Any, float]:
        try:
            if method != "describe":  # the worker describes itself unasked, once built
                self._conn.send((method, args, kwargs))
            return self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            raise EnvWorkerFault("crash", f"failed: the worker of {self.env_id!r} died ({self._exit_reason()})") \
                from None

    def _exit_reason(self) -> str:
        self._process.join(timeout=2.0)
        code = self._process.exitcode
        if code is None:
            return "pipe closed"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=5.0)

    def close(self, deadline: float | None = None) -> None:
        """Ask the worker to close its env and exit; kill it if it has not by `deadline` (monotonic; default 5 s)."""
        self.ask_to_close()
        self._process.join(timeout=max(0.0, (deadline or time.monotonic() + 5.0) - time.monotonic()))
        self.kill()
        self._conn.close()

    def ask_to_close(self) -> None:
        try:
            self._conn.send(None)
        except OSError:
            pass


class ProcessEnvPool(EnvPool):
    """`rollout.env_backend: process`: one worker process per env copy."""

    def __init__(self, specs: list[EnvSpec], eval_mode: bool = False, memory_mb: float | None = None):
        super().__init__(specs, eval_mode)
        self.memory_mb = memory_mb
        self._built: set[int] = set()

    def _build(self, env_index: int) -> ProcessEnv:
        return ProcessEnv(env_recipe(self.specs[env_index], self.eval_mode, self.offered), self.memory_mb)

    def get(self, env_index: int, slot: int) -> RemoteEnv:
        """The copy, as `EnvPool.get`. The first copy of each env is waited for here: one that cannot be built is
        the user's config error, raised on the caller's thread as with the thread backend (later copies that fail
        to build fail their own call, counted like any other fault)."""
        env = super().get(env_index, slot)
        if env_index not in self._built:
            try:
                env.unwrapped.response_format  # noqa: B018  (waits for the worker's description)
            except EnvBuildError as err:
                self.discard(env_index, slot)
                raise ConfigError(str(err)) from None
            self._built.add(env_index)
        return env

    def _dispose(self, env: ProcessEnv) -> None:
        env.kill()  # a discarded copy is broken (hung, leaking, dead): no goodbye

    def close(self) -> None:
        """Every worker closes its env and exits, all within a few seconds, else it is killed."""
        envs = [self._envs.pop(key) for key in list(self._envs)]
        for env in envs:
            env.ask_to_close()
        deadline = time.monotonic() + 5.0
        for env in envs:
            env.close(deadline)


# ---------------------------------------------------------------------------------------------- Ray actors
class RayEnv(RemoteEnv):
    """An env copy in a Ray actor."""

    def __init__(self, recipe: EnvRecipe, memory_mb: float | None, actor_class: Any):
        super().__init__(recipe.env_id, memory_mb)
        import ray

        self._ray = ray
        self._actor = actor_class.remote(recipe)

    def _request(self, method: str, args: tuple, kwargs: dict) -> tuple[str, Any, float]:
        ray = self._ray
        ref = self._actor.describe.remote() if method == "describe" else self._actor.call.remote(method, args, kwargs)
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as err:
            raise EnvWorkerFault("crash", f"failed: the Ray actor of {self.env_id!r} died ({type(err).__name__})") \
                from None

    def kill(self) -> None:
        try:
            self._ray.kill(self._actor, no_restart=True)
        except Exception:  # noqa: BLE001  (already gone)
            pass

    def ask_to_close(self) -> None:
        pass

    def close(self, deadline: float | None = None) -> None:
        self.kill()


class RayEnvPool(ProcessEnvPool):
    """`rollout.env_backend: ray`: one Ray actor per env copy (`ray.init()` joins RAY_ADDRESS's cluster or starts a
    local instance)."""

    def __init__(self, specs: list[EnvSpec], eval_mode: bool = False, memory_mb: float | None = None):
        super().__init__(specs, eval_mode, memory_mb)
        try:
            import ray
        except ImportError as error:
            raise ConfigError("rollout.env_backend: ray needs the 'ray' package (pip install ray)") from error
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        # No restarts: a dead actor is discarded by the runner and a fresh one built, as a dead process is.
        self._actor_class = ray.remote(max_restarts=0, max_task_retries=0)(EnvHost)

    def _build(self, env_index: int) -> RayEnv:
        return RayEnv(env_recipe(self.specs[env_index], self.eval_mode, self.offered), self.memory_mb,
                      self._actor_class)
