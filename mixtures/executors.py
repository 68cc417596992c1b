"""Where MoDoMoDo proxy runs execute: parallel local processes, or Ray tasks.

A proxy run is described by a :class:`ProxyJob` and performed by a *run function* ``run_fn(job) -> dict``
(:func:`run_proxy` by default: one subprocess that runs ``mmrl train`` and then scores the final checkpoint on
each target env). An executor only schedules run functions and yields their
results as they finish, so a test can inject a fast fake run function and keep the scheduling real.

Every subprocess a run function starts through :func:`run_logged` is the leader of its own process group. When
the search is stopped (SIGINT, or SIGTERM, which :class:`LocalExecutor` turns into an exception while it runs),
the executor kills those groups, grandchildren included, before it returns: no proxy run outlives the search.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RunFn = Callable[["ProxyJob"], dict[str, Any]]


@dataclass
class ProxyJob:
    """One proxy run: train `config_path` (a full mmrl config, envs = the mixture) and score it on `targets`."""

    index: int
    """Row of the proposal matrix (stable across restarts)."""
    weights: list[float]
    """Mixture weight per domain, in the domains' order (sums to 1)."""
    run_dir: str
    """The run's output directory (train.output_dir); logs and result.json go here."""
    config_path: str
    """The resolved mmrl train config of this run."""
    targets: list[dict[str, Any]]
    """Held-out target envs: dicts with name, id, kwargs, eval_kwargs."""
    target_episodes: int | None = None
    """Held-out episodes per target; None keeps the run's eval.episodes."""


def failed_result(error: str, seconds: float = 0.0) -> dict[str, Any]:
    return {"status": "failed", "score": float("nan"), "per_target": {}, "seconds": seconds, "error": error}


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


class ChildProcesses:
    """The live subprocesses of proxy runs, each leading its own process group, so the search can kill them all
    (and whatever they started) when it is stopped; once stopping, no new one starts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self._stopping = False

    def run(self, cmd: list[str], log_path: Path) -> int:
        """Run `cmd` to completion in a new session (process group), stdout and stderr to `log_path`; returns
        its exit code. Raises RuntimeError when the search is being stopped."""
        with open(log_path, "w", encoding="utf-8") as log, self._lock:
            if self._stopping:
                raise RuntimeError("the search is stopping: not starting " + " ".join(cmd[2:4]))
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_subprocess_env(),
                                    start_new_session=True)
            self._live.add(proc)
        try:
            return proc.wait()
        except BaseException:  # e.g. a Ray task cancelled while it waits: its child must not outlive it
            kill_groups([proc])
            raise
        finally:
            with self._lock:
                self._live.discard(proc)

    @contextlib.contextmanager
    def killed_on_exit(self, grace_s: float = 5.0) -> Iterator[None]:
        """Within the block children run normally; if the block is left by an exception (KeyboardInterrupt, the
        SystemExit of SIGTERM, GeneratorExit when the caller stops iterating), every live process group gets
        SIGTERM, then SIGKILL after `grace_s`, and new runs are refused from then on (until the next block
        starts: the threads of a stopped run may still try to start its next step)."""
        with self._lock:
            self._stopping = False
        try:
            yield
        except BaseException:
            self.kill_all(grace_s)
            raise

    def kill_all(self, grace_s: float = 5.0) -> None:
        """Refuse new runs and kill the process groups of the live ones."""
        with self._lock:
            self._stopping = True
            procs = list(self._live)
        kill_groups(procs, grace_s)


def kill_groups(procs: list[subprocess.Popen], grace_s: float = 5.0) -> None:
    """SIGTERM to each process's group, SIGKILL to the groups after `grace_s` (members that ignored SIGTERM or
    were started by the leader), and reap the leaders."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)  # the group outlives its leader: also reaches grandchildren
        deadline = time.monotonic() + grace_s
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()) if sig == signal.SIGTERM else None)


CHILDREN = ChildProcesses()
"""The subprocesses of this process's proxy runs (see :func:`run_logged`)."""


def run_logged(cmd: list[str], log_path: Path) -> None:
    """Run one step of a proxy run as a killable child (:data:`CHILDREN`); raise RuntimeError on failure with
    the log's last lines."""
    code = CHILDREN.run(cmd, log_path)
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd[2:4])} exited with {code} (see {log_path}): {' | '.join(tail)}")


def run_proxy(job: ProxyJob) -> dict[str, Any]:
    """The default run function: one subprocess (:func:`proxy_main`) trains the run, then scores its final
    checkpoint on the targets; its stdout and stderr go to ``proxy.log`` in the run directory. Never raises: an
    exception or a non-zero exit becomes a ``failed`` result carrying the error.
    """
    start = time.monotonic()
    run_dir = Path(job.run_dir)
    try:
        job_path = run_dir / "job.json"
        job_path.write_text(json.dumps(asdict(job), indent=2), encoding="utf-8")
        run_logged([sys.executable, "-m", "mmrl.mixtures.executors", "proxy", str(job_path)],
                   run_dir / "proxy.log")
        per_target = json.loads((run_dir / "target_scores.json").read_text(encoding="utf-8"))
    except Exception as error:  # noqa: BLE001 - a failed proxy run must not stop the search
        return failed_result(f"{type(error).__name__}: {error}", time.monotonic() - start)
    score = sum(per_target.values()) / len(per_target)
    return {"status": "ok", "score": score, "per_target": per_target, "seconds": time.monotonic() - start,
            "error": ""}


def proxy_main(job: ProxyJob) -> dict[str, float]:
    """Body of a proxy run's subprocess (one interpreter for both steps, so torch is imported once): the trainer's
    `train` on the job's config, then the target scores, written to ``target_scores.json``."""
    from mmrl.config import load_config
    from mmrl.trainer import train

    train(load_config(job.config_path))
    scores = evaluate_targets(job.run_dir, job.targets, job.target_episodes)
    (Path(job.run_dir) / "target_scores.json").write_text(json.dumps(scores, indent=2), encoding="utf-8")
    return scores


def evaluate_targets(run_dir: str, targets: list[dict[str, Any]], episodes: int | None = None) -> dict[str, float]:
    """Held-out success rate of `run_dir`'s final checkpoint on each target env (one evaluation per target, so
    two targets with the same gymnasium id but different kwargs are scored apart), over `episodes` episodes
    (None: the run's eval.episodes)."""
    from mmrl.eval import evaluate_checkpoint

    scores = {}
    for target in targets:
        spec = {k: target[k] for k in ("id", "kwargs", "eval_kwargs")}
        overrides = [f"envs={json.dumps([spec])}"] + ([f"eval.episodes={episodes}"] if episodes else [])
        metrics = evaluate_checkpoint(run_dir, overrides)
        scores[target["name"]] = float(metrics["success_rate"])
    return scores


def _safe_call(run_fn: RunFn, job: ProxyJob) -> dict[str, Any]:
    start = time.monotonic()
    try:
        return run_fn(job)
    except Exception as error:  # noqa: BLE001 - recorded as a failed run
        return failed_result(f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}",
                             time.monotonic() - start)


class LocalExecutor:
    """Runs at most `workers` proxy runs at once; each default run is its own pair of subprocesses."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def map(self, run_fn: RunFn, jobs: Iterable[ProxyJob]) -> Iterator[tuple[ProxyJob, dict[str, Any]]]:
        """Yield ``(job, result)`` in order of completion. A job starts only when a slot is free and the caller
        has taken the previous result, so a killed search leaves no queued runs behind; if the search is stopped
        (an exception in the caller, who must close this generator, or SIGINT/SIGTERM) the runs in flight are
        killed, process groups and all."""
        queue = iter(jobs)
        with _stop_signals() as stopped, ThreadPoolExecutor(max_workers=self.workers) as pool, \
                CHILDREN.killed_on_exit():
            pending: dict[Any, ProxyJob] = {}

            def submit_next() -> None:
                job = next(queue, None)
                if job is not None:
                    pending[pool.submit(_safe_call, run_fn, job)] = job

            for _ in range(self.workers):
                submit_next()
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                stopped.check()
                for future in sorted(done, key=lambda f: pending[f].index):
                    yield pending.pop(future), future.result()
                    stopped.check()
                    submit_next()


class _Stop:
    """The stop signal received, if any; `check` raises it at a safe point of the main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.signum is not None:
            raise SystemExit(128 + self.signum)


@contextlib.contextmanager
def _stop_signals() -> Iterator[_Stop]:
    """While the block runs, SIGINT and SIGTERM only record themselves; the executor's loop raises them
    (KeyboardInterrupt, SystemExit(143)) at a point where it holds no lock, so the cleanup that follows cannot
    deadlock on a lock the interrupted code held (an exception raised asynchronously inside
    `concurrent.futures.wait` can leave a future's lock taken). Previous handlers are restored after. Off the main
    thread, where handlers cannot be set, signals keep their usual effect."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        stop.signum = signum

    # A signal the process ignores (SIGINT under nohup or in a background job) stays ignored.
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class RayExecutor:
    """Each proxy run is a Ray task (``num_cpus`` each); connects to a running cluster (``address``) or starts a
    local one. With the default run function every task still trains in a subprocess on its node."""

    def __init__(self, workers: int = 1, address: str | None = None, num_cpus: float = 1.0) -> None:
        from mmrl.config import ConfigError

        try:
            import ray
        except ImportError as error:
            raise ConfigError("search.executor: ray needs the 'ray' package (pip install ray)") from error
        self.ray = ray
        self.workers = workers
        self.num_cpus = num_cpus
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                     log_to_driver=False)

    def map(self, run_fn: RunFn, jobs: Iterable[ProxyJob]) -> Iterator[tuple[ProxyJob, dict[str, Any]]]:
        ray = self.ray
        task = ray.remote(num_cpus=self.num_cpus, max_retries=0)(_safe_call)
        pending = {task.remote(run_fn, job): job for job in jobs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:  # stopped early: cancel the rest (a running task's children are killed as it unwinds)
            for ref in pending:
                ray.cancel(ref)


def make_executor(kind: str, workers: int) -> LocalExecutor | RayExecutor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers)
    raise ValueError(f"search.executor must be 'local' or 'ray', got {kind!r}")


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "proxy":
        print("usage: python -m mmrl.mixtures.executors proxy JOB_JSON", file=sys.stderr)
        return 2
    job = ProxyJob(**json.loads(Path(argv[1]).read_text(encoding="utf-8")))
    print(json.dumps(proxy_main(job)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
