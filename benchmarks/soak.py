"""Soak test (not a CI test): a long training run on an env that fails on purpose, watching the trainer's memory,
open files and step time.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/soak.py --steps 300 [--minutes 15] [--out docs/results/soak]

The run is `mmrl train` in a subprocess, exactly as a user starts it, on the tiny text model and
`tests/fixtures/faulty_env.py` with the env-worker processes of `rollout.env_backend: process`. The env (two turns
per episode) crashes its worker process (`os._exit`) on ~1 env step in `--crash-every`, hangs on ~1 in
`--hang-every` (past `rollout.env_step_timeout_s`, so the worker is killed) and returns a NaN reward on ~1 in
`--nan-every`; with `--leak-every` it also keeps 64 MB more on ~1 step in that many (the cap
`rollout.env_memory_mb` kills it). Every `--interval` seconds this script records the trainer's resident memory
(and its env workers' together), its open file descriptors and threads, and the steps done so far. Every
checkpoint the run writes is checked for non-finite weights as it appears.

Writes to `--out`: `soak.json` (config, timeline, per-step times, faults injected and counted by kind, summary) and
`soak.png` (memory, open files and step time against time). The summary compares the trainer's memory and open
files after the first `--warmup` steps with the end of the run, (the last sample before the final step's
evaluation and shutdown), and the median step time of the first and last tenth of the steps.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import yaml

from mmrl.logger import read_jsonl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.faulty_env import KIND  # noqa: E402


def soak_config(args: argparse.Namespace, out: Path) -> dict:
    faults = {"exit": 1 / args.crash_every, "hang": 1 / args.hang_every, "nan": 1 / args.nan_every}
    if args.leak_every:
        faults["leak"] = 1 / args.leak_every
    rollout = {"group_size": 4, "groups_per_step": 4, "max_new_tokens": 8, "max_episode_steps": 2,
               "env_backend": "process", "env_workers": 4, "env_step_timeout_s": args.timeout}
    if args.leak_every:
        rollout["env_memory_mb"] = 200
    return {
        "model": {"tiny": "text"},
        "envs": [{"id": "tests.fixtures.faulty_env:mmrltest/Faulty-v0",
                  "kwargs": {"length": 2, "faults": faults, "hang_s": 3600, "leak_mb": 64,
                             "log_path": str(out / "faults.log")},
                  "eval_kwargs": {"faults": {}}}],
        "rollout": rollout,
        "algo": {"minibatch_size": 32},
        "eval": {"episodes": 8},
        "train": {"total_steps": args.steps, "eval_every": 0, "save_every": args.save_every, "keep_checkpoints": 3,
                  "progress": False, "seed": args.seed, "output_dir": str(out / "run")},
    }


def tree_stats(proc: psutil.Process) -> dict:
    """Resident memory (MB), open fds and threads of the trainer, and its descendants' count and memory."""
    with proc.oneshot():
        rss, fds, threads = proc.memory_info().rss / 2**20, proc.num_fds(), proc.num_threads()
    children_rss, n_children = 0.0, 0
    for child in proc.children(recursive=True):
        try:
            children_rss += child.memory_info().rss / 2**20
            n_children += 1
        except psutil.Error:
            pass
    return {"rss_mb": rss, "fds": fds, "threads": threads, "children": n_children, "children_rss_mb": children_rss}



def check_new_checkpoints(run: Path, seen: dict[str, bool]) -> None:
    """Record, for every complete checkpoint not seen yet, whether all its weights are finite."""
    import torch
    from safetensors.torch import load_file

    for ckpt in sorted((run / "checkpoints").glob("step_*")):
        weights = ckpt / "model.safetensors"
        if ckpt.name in seen or ckpt.name.endswith(".tmp") or not weights.is_file():
            continue
        try:
            seen[ckpt.name] = all(bool(torch.isfinite(w).all()) for w in load_file(str(weights)).values())
        except Exception:  # noqa: BLE001  (pruned or being written: look again next time)
            continue


def summarize(timeline: list[dict], rows: list[dict], injected: Counter, checkpoints: dict[str, bool],
              warmup: int, wall_s: float, returncode: int | None) -> dict:
    counted: Counter = Counter()
    for r in rows:
        counted.update({k.removeprefix("train/env_errors/"): int(v) for k, v in r.items()
                        if k.startswith("train/env_errors/")})
    warm = next((s for s in timeline if s["steps"] >= warmup), timeline[0]) if timeline else {}
    training = [s for s in timeline if s["steps"] < len(rows)]  # before the final step's eval, save and shutdown
    last = training[-1] if training else (timeline[-1] if timeline else {})
    step_s = [r.get("time/rollout_s", 0.0) + r.get("time/update_s", 0.0) for r in rows]
    tenth = max(1, len(step_s) // 10)
    median = lambda xs: sorted(xs)[len(xs) // 2] if xs else None  # noqa: E731
    hours = max((last.get("t", 0) - warm.get("t", 0)) / 3600, 1e-9)
    return {
        "wall_s": wall_s, "returncode": returncode, "steps_done": len(rows),
        "steps_logged_once": [r["step"] for r in rows] == list(range(1, len(rows) + 1)),
        "episodes": sum(r["train/episodes"] for r in rows),
        "faults_injected": dict(injected), "faults_counted": dict(counted),
        "env_errors_total": sum(r.get("train/env_errors", 0) for r in rows),
        "checkpoints_checked": len(checkpoints), "checkpoints_all_finite": all(checkpoints.values()),
        "rss_mb_after_warmup": warm.get("rss_mb"), "rss_mb_end": last.get("rss_mb"),
        "rss_growth_mb_per_hour": (last.get("rss_mb", 0) - warm.get("rss_mb", 0)) / hours,
        "fds_after_warmup": warm.get("fds"), "fds_end": last.get("fds"), "fds_max": max(s["fds"] for s in timeline),
        "t_warm_s": warm.get("t"), "t_end_s": last.get("t"),
        "threads_after_warmup": warm.get("threads"), "threads_end": last.get("threads"),
        "children_max": max(s["children"] for s in timeline),
        "step_s_median_first_tenth": median(step_s[:tenth]), "step_s_median_last_tenth": median(step_s[-tenth:]),
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = result["timeline"]
    t = [s["t"] / 60 for s in tl]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(t, [s["rss_mb"] for s in tl], label="trainer")
    axes[0].plot(t, [s["children_rss_mb"] for s in tl], label="env workers (sum)")
    axes[0].set(xlabel="minutes", ylabel="resident MB", title="memory")
    axes[0].legend()
    axes[1].plot(t, [s["fds"] for s in tl], label="open fds")
    axes[1].plot(t, [s["threads"] for s in tl], label="threads")
    axes[1].plot(t, [s["children"] for s in tl], label="child processes")
    axes[1].set(xlabel="minutes", title="trainer's fds, threads, children")
    axes[1].legend()
    rows = result["steps"]
    axes[2].plot([r["step"] for r in rows], [r["step_s"] for r in rows], ".", ms=3)
    axes[2].set(xlabel="step", ylabel="s", title="step time (rollout + update)")
    s = result["summary"]
    fig.suptitle(f"soak: {s['steps_done']} steps in {s['wall_s'] / 60:.1f} min, "
                 f"{s['env_errors_total']:.0f} env faults survived ({json.dumps(s['faults_counted'])})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=15.0, help="stop the run (SIGTERM) after this long")
    parser.add_argument("--crash-every", type=float, default=20)
    parser.add_argument("--hang-every", type=float, default=30)
    parser.add_argument("--nan-every", type=float, default=25)
    parser.add_argument("--leak-every", type=float, default=0, help="0: no leak")
    parser.add_argument("--timeout", type=float, default=2.0, help="rollout.env_step_timeout_s")
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/soak")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (out / "faults.log", out / "run"):
        if stale.exists():
            raise SystemExit(f"{stale} exists: pick a fresh --out")
    config = soak_config(args, out)
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    log = open(out / "train.log", "w")
    start = time.monotonic()
    trainer = subprocess.Popen([sys.executable, "-m", "mmrl.cli", "train", str(out / "config.yaml")], cwd=REPO,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    proc = psutil.Process(trainer.pid)
    timeline, checkpoints = [], {}
    stopped = False
    while trainer.poll() is None:
        elapsed = time.monotonic() - start
        if elapsed > args.minutes * 60 and not stopped:
            trainer.send_signal(signal.SIGTERM)
            stopped = True
        try:
            sample = tree_stats(proc)
        except psutil.Error:
            break
        sample |= {"t": elapsed, "steps": len(read_jsonl(out / "run" / "metrics.jsonl"))}
        timeline.append(sample)
        check_new_checkpoints(out / "run", checkpoints)
        time.sleep(args.interval)
    trainer.wait()
    wall_s = time.monotonic() - start
    check_new_checkpoints(out / "run", checkpoints)
    rows = read_jsonl(out / "run" / "metrics.jsonl")
    injected = Counter(KIND[n] for n in (out / "faults.log").read_text().split()) \
        if (out / "faults.log").is_file() else Counter()
    summary = summarize(timeline, rows, injected, checkpoints, args.warmup, wall_s, trainer.returncode)
    summary["stopped_by_time_limit"] = stopped
    result = {
        "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_end": os.getloadavg(), "cpus": os.cpu_count(), "config": config, "summary": summary,
        "checkpoints_finite": checkpoints, "timeline": timeline,
        "steps": [{"step": r["step"], "step_s": r.get("time/rollout_s", 0.0) + r.get("time/update_s", 0.0),
                   "env_errors": r.get("train/env_errors", 0)} for r in rows],
    }
    (out / "soak.json").write_text(json.dumps(result, indent=1))
    plot(result, out / "soak.png")
    print(json.dumps(summary, indent=1))
    return 0 if trainer.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
