"""Run several `mmrl train` jobs that differ only by config (same seed, same step count) and read their metrics.

Used by compare_gtr.py (PPO vs PPO + GTR). compare_vqa.py predates it and keeps its own runner, which also records
each run's wall time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mmrl.logger import read_jsonl

ROOT = Path(__file__).resolve().parent.parent


def train_commands(runs: dict[str, tuple[str, list[str]]], steps: int, out_dir: Path, seed: int
                   ) -> dict[str, tuple[Path, list[str]]]:
    """label -> (run directory, `mmrl train` command) for each `label -> (config, overrides)`."""
    commands = {}
    for label, (config, overrides) in runs.items():
        run_dir = out_dir / run_name(label)
        commands[label] = (run_dir, [sys.executable, "-m", "mmrl.cli", "train", str(ROOT / config), *overrides,
                                     f"train.total_steps={steps}", f"train.seed={seed}",
                                     f"train.output_dir={run_dir}", "train.progress=false"])
    return commands


def run_name(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")


def run_all(commands: dict[str, tuple[Path, list[str]]], sequential: bool) -> None:
    """Run the trainings (in parallel unless `sequential`), each logging to <run directory>.log."""
    procs = []
    for label, (run_dir, cmd) in commands.items():
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        log = open(run_dir.with_suffix(".log"), "w")  # noqa: SIM115  (closed after wait)
        print(f"[{label}] {' '.join(cmd[2:])}  (log: {log.name})", flush=True)
        if (run_dir / "checkpoints").is_dir():
            print(f"[{label}] {run_dir} holds an earlier run: it resumes (delete the folder to start afresh)")
        procs.append((label, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT), log))
        if sequential:
            procs[-1][1].wait()
    for label, proc, log in procs:
        if proc.wait() != 0:
            raise SystemExit(f"[{label}] training failed (exit {proc.returncode}); see {log.name}")
        log.close()


def read_runs(commands: dict[str, tuple[Path, list[str]]]) -> dict[str, list[dict]]:
    return {label: read_jsonl(run_dir / "metrics.jsonl") for label, (run_dir, _) in commands.items()}


def smooth(values: list[float], window: int = 10) -> list[float]:
    """Trailing moving average (train points are sampled at temperature 1: noisy)."""
    return [sum(values[max(0, i - window + 1): i + 1]) / len(values[max(0, i - window + 1): i + 1])
            for i in range(len(values))]
