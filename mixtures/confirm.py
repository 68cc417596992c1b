"""Confirmation runs of a mixture search: does the predicted-best mixture beat the uniform one out of sample?

Each of ``confirm_seeds`` trains both mixtures with the proxy budget, on a train.seed no proxy run used (new
data order, sampling and held-out episodes; the same initial model, as every MoDoMoDo run starts from one
checkpoint), so the comparison is not the one the predictor was fitted on. Best and uniform share each seed (a paired comparison); the report gives each one's
per-seed scores, mean and standard deviation, and the mean paired difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from mmrl.mixtures.executors import RunFn, run_proxy
from mmrl.mixtures.search import MixtureSearchConfig, make_job, shared_base_model

ARMS = ("best", "uniform")


def confirm(cfg: MixtureSearchConfig, out: Path, best: dict[str, Any], run_fn: RunFn, executor,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the best and the uniform mixture once per confirmation seed and score both on the targets; writes
    confirmation.json (reused on restart when it holds the same best mixture and seeds)."""
    path = out / "confirmation.json"
    m = len(cfg.domains)
    weights = {"best": np.array(list(best["weights"].values())), "uniform": np.full(m, 1.0 / m)}
    seeds = [int(s) for s in cfg.confirm_seeds]
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("seeds") == seeds and np.allclose(list(old["best"]["weights"].values()), weights["best"]):
            log("confirmation already done: " + confirm_line(old))
            return old
    jobs, arm_of = [], {}
    model_path = shared_base_model(cfg, out) if run_fn is run_proxy else None
    for k, seed in enumerate(seeds):
        for a, arm in enumerate(ARMS):
            index = -(len(ARMS) * k + a + 1)  # negative: never a proposal's row
            arm_of[index] = (arm, seed)
            jobs.append(make_job(cfg, index, weights[arm], out / "confirm" / f"{arm}_seed{seed}", seed, model_path))
    runs: dict[str, dict[int, dict[str, Any]]] = {arm: {} for arm in ARMS}
    with closing(executor.map(run_fn, jobs)) as finished:
        for job, result in finished:
            arm, seed = arm_of[job.index]
            runs[arm][seed] = result
            log(f"  confirm {arm} seed {seed}: {result['status']} score={result['score']:.3f}")
    report = summarize(seeds, runs, {arm: dict(zip((d.name for d in cfg.domains), map(float, weights[arm])))
                                     for arm in ARMS}, best["predicted_score"])
    path.write_text(json.dumps(report, indent=2, default=float) + "\n")
    log("confirmation: " + confirm_line(report))
    return report


def summarize(seeds: list[int], runs: dict[str, dict[int, dict[str, Any]]], weights: dict[str, dict[str, float]],
              predicted: float) -> dict[str, Any]:
    """Per-arm scores by seed, mean and (sample) standard deviation over the seeds where both arms succeeded,
    the mean paired difference best - uniform, and the verdict (mean best > mean uniform)."""
    paired = [s for s in seeds if all(runs[arm][s]["status"] == "ok" for arm in ARMS)]
    report: dict[str, Any] = {"seeds": seeds, "paired_seeds": paired}
    for arm in ARMS:
        scores = np.array([runs[arm][s]["score"] for s in paired])
        report[arm] = {"weights": weights[arm],
                       "runs": {str(s): runs[arm][s] for s in seeds},
                       "mean": float(scores.mean()) if len(scores) else float("nan"),
                       "std": float(scores.std(ddof=1)) if len(scores) > 1 else float("nan")}
    report["best"]["predicted_score"] = float(predicted)
    diff = [runs["best"][s]["score"] - runs["uniform"][s]["score"] for s in paired]
    report["mean_difference"] = float(np.mean(diff)) if diff else float("nan")
    report["best_wins"] = int(sum(d > 0 for d in diff))
    report["best_beats_uniform"] = bool(diff and report["best"]["mean"] > report["uniform"]["mean"])
    return report


def confirm_line(report: dict[str, Any]) -> str:
    b, u = report["best"], report["uniform"]
    verdict = "beat" if report["best_beats_uniform"] else "did NOT beat"
    return (f"optimised {b['mean']:.3f} +- {b['std']:.3f} vs uniform {u['mean']:.3f} +- {u['std']:.3f} over seeds "
            f"{report['paired_seeds']} (mean difference {report['mean_difference']:+.3f}, optimised ahead on "
            f"{report['best_wins']}/{len(report['paired_seeds'])}): the optimised mixture {verdict} uniform")
