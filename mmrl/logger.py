"""Run outputs: metrics.jsonl, TensorBoard events (and/or W&B), samples.jsonl, and the rich progress bar.

(Named `logger`, not `logging`, so that `import logging` inside the package keeps meaning the standard library.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from numpy scalars/arrays, tuples and nested containers (NaN/inf become None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return f"<array {value.dtype} {list(value.shape)}>" if value.size > 64 else to_jsonable(value.tolist())
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    return rows


def truncate_jsonl(path: Path, after_step: int) -> None:
    """Drop rows logged after `after_step` (written by a run that was killed before its next checkpoint)."""
    if path.is_file():
        rows = [r for r in read_jsonl(path) if r.get("step", 0) <= after_step]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def summarize_run(run_dir: str | Path) -> dict[str, float]:
    """Held-out success before training, after the SFT warm-start (if any) and at the last evaluation, so that
    RL's own gain is reported apart from the warm-start's."""
    rows = read_jsonl(Path(run_dir) / "metrics.jsonl")
    evals = [r for r in rows if r.get("eval/success_rate") is not None]
    sft = [r for r in rows if r.get("sft/success_rate") is not None]
    out: dict[str, float] = {}
    if evals:
        out["initial/eval_success_rate"] = evals[0]["eval/success_rate"]
        out["final/eval_success_rate"] = evals[-1]["eval/success_rate"]
        out["final/step"] = evals[-1]["step"]
    if sft:
        out["sft/eval_success_rate"] = sft[-1]["sft/success_rate"]
    if evals and sft:
        out["rl_gain"] = out["final/eval_success_rate"] - out["sft/eval_success_rate"]
    elif evals:
        out["rl_gain"] = out["final/eval_success_rate"] - out["initial/eval_success_rate"]
    return out


class RunLogger:
    """Writes one run's metrics and samples. Only the main process creates one."""

    def __init__(self, run_dir: Path, resume_step: int | None, total_steps: int, progress: bool,
                 report_to: tuple[str, ...] | list[str] = ("tensorboard",), config: dict | None = None):
        self.run_dir = run_dir
        self.metrics_path = run_dir / "metrics.jsonl"
        self.samples_path = run_dir / "samples.jsonl"
        if resume_step is not None:
            truncate_jsonl(self.metrics_path, resume_step)
            truncate_jsonl(self.samples_path, resume_step)
        else:
            for path in (self.metrics_path, self.samples_path):
                path.unlink(missing_ok=True)
        self.tb = None
        if "tensorboard" in report_to:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_step)
        self.wandb = None
        if "wandb" in report_to:
            from mmrl.wandb_report import WandbReporter

            self.wandb = WandbReporter(run_dir, config or {})
        self.progress = None
        if progress:
            self.progress = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                TextColumn("reward {task.fields[reward]}"), TextColumn("success {task.fields[success]}"),
                TextColumn("eval {task.fields[eval]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            )
            self.task = self.progress.add_task("train", total=total_steps, completed=resume_step or 0,
                                               reward="-", success="-", eval="-")
            self.progress.start()

    def log(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **{k: to_jsonable(v) for k, v in metrics.items()}}
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        if self.tb is not None:
            for key, value in scalars.items():
                self.tb.add_scalar(key, value, step)
        if self.wandb is not None:
            self.wandb.log(step, scalars)
        if self.progress is not None:
            fields = {}
            if "train/return_mean" in metrics:
                fields["reward"] = f"{metrics['train/return_mean']:.3f}"
                fields["success"] = f"{metrics['train/success_rate']:.2f}"
            if "eval/success_rate" in metrics:
                fields["eval"] = f"{metrics['eval/success_rate']:.2f}"
            self.progress.update(self.task, completed=step, **fields)

    def log_samples(self, rows: list[dict]) -> None:
        """Append episode rows (mmrl.samples.episode_rows) to samples.jsonl (and W&B's episode table)."""
        rows = [to_jsonable(row) for row in rows]
        with open(self.samples_path, "a") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")
        if self.wandb is not None and rows:
            self.wandb.log_episodes(rows)

    def print(self, message: str) -> None:
        if self.progress is not None:
            self.progress.console.print(message, soft_wrap=True, markup=False, highlight=False)  # log lines stay whole
        else:
            print(message, flush=True)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.close()
        if self.progress is not None:
            self.progress.stop()
