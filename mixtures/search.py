"""MoDoMoDo's search (arXiv 2505.24871, §3): short proxy runs on proposed mixtures of domains, a quadratic
predictor of the held-out target score fitted to them, and the mixture that maximises it.

``run_search`` goes: propose (seeds + Dirichlet draws) → proxy runs through an executor, each finished run
appended to ``results.csv`` (so a restarted search skips what is done) → fit → optimise → plots → optional
confirmation runs of the best mixture against the uniform one with the same budget, on seeds no proxy run used
(:mod:`mmrl.mixtures.confirm`). With the tiny model every run starts from one shared base model.

A mixture search config (YAML) is strict like a train config: an unknown key is an error naming it.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mmrl.config import (
    Config,
    ConfigError,
    EnvSpec,
    UserError,
    apply_overrides,
    config_from_data,
    from_dict,
    read_yaml,
    save_config,
    to_dict,
)
from mmrl.mixtures.executors import LocalExecutor, ProxyJob, RayExecutor, RunFn, make_executor, run_proxy
from mmrl.mixtures.optimize import optimize_mixture
from mmrl.mixtures.predictor import (
    DEFAULT_RIDGE,
    LinearPredictor,
    QuadraticPredictor,
    cross_validate,
    select_ridge,
)
from mmrl.mixtures.proposals import propose_mixtures

ZERO_WEIGHT = 1e-9
"""Domains with a smaller weight are left out of a proxy run's envs."""
STATUSES = ("ok", "failed")


@dataclass
class SearchSettings:
    n_random: int = 4
    """Dirichlet-sampled mixtures run after the seed mixtures (uniform, singles, leave-one-out)."""
    concentration: float = 1.0
    """Dirichlet concentration of the random proposals (< 1: sparse mixtures, > 1: near-uniform)."""
    seed: int = 0
    """Seed of the proposals (and the optimiser's multi-start)."""
    executor: str = "local"
    """Where proxy runs execute: 'local' (parallel subprocesses) or 'ray' (Ray tasks)."""
    workers: int = 2
    """Proxy runs at once."""
    ridge: float | None = None
    """Ridge of the quadratic predictor; None picks it by cross-validation (select_ridge) when there are enough
    runs, else uses the default."""
    bounds: list[list[float]] | None = None
    """Optional per-domain [low, high] weight bounds for proposals and the optimiser."""
    output_dir: str | None = None
    """Search directory; None means runs/mixture/<name>."""
    target_episodes: int = 200
    """Held-out episodes per target env when scoring a proxy or confirmation run."""
    shared_base_model: bool = True
    """With the tiny model (no base.model.path): build its initial weights and tokenizer once, the tokenizer
    trained on every domain's and target's prompts, so all runs start from the same model (as MoDoMoDo's runs all
    start from one checkpoint). False: each run builds its own (base.model.seed) from its own envs' prompts."""


@dataclass
class MixtureSearchConfig:
    domains: list[EnvSpec]
    """Domains to mix: env specs as in a train config, each with a `name` (a column of results.csv) and no
    `weight` (the search sets it)."""
    targets: list[EnvSpec]
    """Held-out target envs (env specs with a `name`); score = mean success rate over them (they need not be among
    the domains)."""
    base: dict[str, Any] = field(default_factory=dict)
    """The mmrl train config of a proxy run (model, rollout, algo, optim, train budget), validated as one; its envs
    are the mixture. In YAML either a mapping or the path of a train config file."""
    name: str = "mixture"
    """Name of the search (default directory runs/mixture/<name>)."""
    search: SearchSettings = field(default_factory=SearchSettings)
    """Proposals, execution and fitting."""
    confirm: bool = False
    """After optimising, train the best and the uniform mixture with the same budget and score both."""
    confirm_seeds: list[int] = field(default_factory=lambda: [101, 102])
    """train.seed of the confirmation runs (each trains best and uniform once): new data order, sampling and
    held-out episodes, from the same initial model as the proxy runs. They must differ from the proxy runs'
    base.train.seed, so confirmation is out of sample."""


# ----------------------------------------------------------------------------------------------------------
# Config


def load_search_config(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> MixtureSearchConfig:
    """Read a mixture search YAML, apply `key=value` overrides, and validate it (the base train config too).

    A `base` given as a path is read (relative to the working directory, else to the YAML's folder) before the
    overrides, so `base.train.total_steps=5` works either way.
    """
    data = read_yaml(path, "mixture config")
    if isinstance(data.get("base"), str):
        data["base"] = _read_base(data["base"], Path(path).parent)
    data = apply_overrides(data, list(overrides))
    for section in ("domains", "targets"):
        for i, spec in enumerate(data.get(section) or []):
            if isinstance(spec, Mapping) and "weight" in spec:
                raise ConfigError(f"'{section}[{i}].weight' is set by the search (the mixture); remove it")
    cfg = from_dict(MixtureSearchConfig, data)
    validate_search_config(cfg)
    return cfg


def _read_base(base: str, config_dir: Path) -> dict[str, Any]:
    for candidate in (Path(base), config_dir / base):
        if candidate.is_file():
            return read_yaml(candidate, "base config")
    raise ConfigError(f"base config file not found: {base!r} (looked in . and {config_dir})")


_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def validate_search_config(cfg: MixtureSearchConfig) -> None:
    """Raise ConfigError on a value that is well-typed but wrong (names, counts, bounds, the base config)."""
    if not cfg.domains:
        raise ConfigError("'domains' must list at least one domain")
    if not cfg.targets:
        raise ConfigError("'targets' must list at least one target env")
    for section in ("domains", "targets"):
        names = [d.name for d in getattr(cfg, section)]
        for i, name in enumerate(names):
            if name is None:
                raise ConfigError(f"'{section}[{i}].name' is required (it names the domain in results.csv)")
            if not _NAME.fullmatch(name):
                raise ConfigError(f"'{section}[{i}].name' must be letters, digits, '_', '.', '-', got {name!r}")
        if len(set(names)) != len(names):
            raise ConfigError(f"'{section}' names must be unique, got {names}")
    s = cfg.search
    if s.n_random < 0:
        raise ConfigError(f"'search.n_random' must be >= 0, got {s.n_random}")
    if s.concentration <= 0:
        raise ConfigError(f"'search.concentration' must be > 0, got {s.concentration}")
    if s.workers < 1:
        raise ConfigError(f"'search.workers' must be >= 1, got {s.workers}")
    if s.executor not in ("local", "ray"):
        raise ConfigError(f"'search.executor' must be 'local' or 'ray', got {s.executor!r}")
    if s.ridge is not None and s.ridge < 0:
        raise ConfigError(f"'search.ridge' must be >= 0, got {s.ridge}")
    if s.bounds is not None and (len(s.bounds) != len(cfg.domains) or any(len(b) != 2 for b in s.bounds)):
        raise ConfigError(f"'search.bounds' must hold one [low, high] per domain ({len(cfg.domains)})")
    if s.target_episodes < 1:
        raise ConfigError(f"'search.target_episodes' must be >= 1, got {s.target_episodes}")
    if "envs" in cfg.base:
        raise ConfigError("'base.envs' is set by the search (the mixture of 'domains'); remove it")
    proxy_train_seed = base_config(cfg).train.seed  # validates the base as a train config
    if cfg.confirm and (not cfg.confirm_seeds or len(set(cfg.confirm_seeds)) != len(cfg.confirm_seeds)
                        or proxy_train_seed in cfg.confirm_seeds):
        raise ConfigError(f"'confirm_seeds' must be distinct and differ from the proxy runs' train.seed "
                          f"{proxy_train_seed}, got {cfg.confirm_seeds}")


def base_config(cfg: MixtureSearchConfig) -> Config:
    """The base train config as the proxy runs see it (the uniform mixture of the domains), validated."""
    return train_config(cfg, np.full(len(cfg.domains), 1.0 / len(cfg.domains)), "runs/_check")


def search_directory(cfg: MixtureSearchConfig) -> Path:
    return Path(cfg.search.output_dir or Path("runs") / "mixture" / cfg.name)


def _env_dict(spec: EnvSpec, weight: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": spec.id, "kwargs": copy.deepcopy(spec.kwargs),
                           "eval_kwargs": copy.deepcopy(spec.eval_kwargs)}
    if weight is not None:
        out["weight"] = float(weight)
    return out


def train_config(cfg: MixtureSearchConfig, weights: np.ndarray, run_dir: str | os.PathLike[str],
                 seed: int | None = None, model_path: str | None = None, envs: list[EnvSpec] | None = None) -> Config:
    """The full mmrl Config of one run: the base with envs = the domains of non-zero weight (or `envs`), and
    optionally another train.seed and initial weights (model.path)."""
    data = copy.deepcopy(cfg.base)
    data["envs"] = ([_env_dict(d, w) for d, w in zip(cfg.domains, weights) if w > ZERO_WEIGHT] if envs is None
                    else [_env_dict(d) for d in envs])
    train = dict(data.get("train") or {}) | {"output_dir": os.fspath(run_dir), "run_name": Path(run_dir).name}
    data["train"] = train | ({} if seed is None else {"seed": int(seed)})
    if model_path is not None:
        data["model"] = dict(data.get("model") or {}) | {"path": model_path}
    return config_from_data(data, where="base")


def shared_base_model(cfg: MixtureSearchConfig, out: Path) -> str | None:
    """The initial weights every run starts from: a tiny model (base.model.seed) whose tokenizer knows every
    domain's and target's prompts, built once as `out/base_model`. None when the search does not share one (a
    real base.model.path, or search.shared_base_model false)."""
    if not cfg.search.shared_base_model or base_config(cfg).model.path:
        return None
    path = out / "base_model"
    if (path / "config.json").is_file():
        return str(path)
    from mmrl.models.loading import build_tiny_policy, save_policy
    from mmrl.rollout.runner import prompt_corpus

    every_env = train_config(cfg, np.ones(len(cfg.domains)), path, envs=[*cfg.domains, *cfg.targets])
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_policy(build_tiny_policy(every_env.model, prompt_corpus(every_env.envs, rollout=every_env.rollout)), str(tmp))
    tmp.rename(path)  # complete or absent: a search killed here rebuilds it
    return str(path)


# ----------------------------------------------------------------------------------------------------------
# Results table


def results_columns(domains: list[str], targets: list[str]) -> list[str]:
    return (["index", *(f"w_{d}" for d in domains), "score", *(f"score_{t}" for t in targets), "status",
             "seconds", "error"])


def read_results(path: str | os.PathLike[str]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(domain names, target names, rows) of a results.csv; rows carry `weights` (np.ndarray) and floats."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"results table not found: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        domains = [c[2:] for c in header if c.startswith("w_")]
        targets = [c[6:] for c in header if c.startswith("score_")]
        missing = {"index", "score", "status"} - set(header)
        if missing or not domains:
            raise UserError(f"{path} is not a mixture results table (missing columns: "
                             f"{sorted(missing) or ['w_<domain>']})")
        rows = []
        for line in reader:
            try:
                rows.append({
                    "index": int(line["index"]),
                    "weights": np.array([float(line[f"w_{d}"]) for d in domains]),
                    "score": float(line["score"]) if line["score"] not in ("", None) else math.nan,
                    "per_target": {t: float(line[f"score_{t}"]) for t in targets
                                   if line.get(f"score_{t}") not in ("", None)},
                    "status": line["status"],
                    "seconds": float(line.get("seconds") or 0.0),
                    "error": line.get("error") or "",
                })
            except (TypeError, ValueError) as error:
                raise UserError(f"{path}: malformed row {line}: {error}") from None
    return domains, targets, rows


def append_result(path: Path, domains: list[str], targets: list[str], job: ProxyJob, result: dict) -> None:
    """Append one finished run to results.csv (header written on first use), flushed to disk at once."""
    new = not path.is_file() or path.stat().st_size == 0
    row = {"index": job.index, **{f"w_{d}": f"{w:.10g}" for d, w in zip(domains, job.weights)},
           "score": _fmt(result["score"]),
           **{f"score_{t}": _fmt(result["per_target"].get(t, math.nan)) for t in targets},
           "status": result["status"], "seconds": f"{result['seconds']:.1f}",
           "error": " ".join(str(result.get("error", "")).split())[:500]}
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=results_columns(domains, targets))
        if new:
            writer.writeheader()
        writer.writerow(row)
        fh.flush()
        os.fsync(fh.fileno())


def _fmt(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6g}"


def ok_rows(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(W, y) of the successful runs."""
    good = [r for r in rows if r["status"] == "ok" and not math.isnan(r["score"])]
    if not good:
        return np.zeros((0, len(rows[0]["weights"]) if rows else 0)), np.zeros(0)
    return np.array([r["weights"] for r in good]), np.array([r["score"] for r in good])


# ----------------------------------------------------------------------------------------------------------
# Fit and optimise


def fit_predictor(W: np.ndarray, y: np.ndarray, domains: list[str], ridge: float | None = None,
                  seed: int = 0) -> tuple[QuadraticPredictor, dict[str, Any]]:
    """Fit the quadratic predictor (ridge chosen by k-fold CV when ``ridge`` is None and there are at least as
    many runs as its coefficients + 2) and return it with a report: ridge, k-fold CV of quadratic vs linear,
    and the fitted terms."""
    n, m = W.shape
    if n < 2:
        raise UserError(f"fitting needs at least 2 successful runs, got {n}")
    n_coef = m + m * (m - 1) // 2
    k = min(5, n)
    if ridge is None:
        ridge = select_ridge(W, y, k=k, seed=seed) if n >= n_coef + 2 else DEFAULT_RIDGE
        how = "cross-validated" if n >= n_coef + 2 else f"default (fewer than {n_coef + 2} runs)"
    else:
        how = "given"
    predictor = QuadraticPredictor(ridge=ridge, domain_names=domains).fit(W, y)
    cv = cross_validate(W, y, k=k, seed=seed, ridge=ridge) if n >= 3 else None
    linear = LinearPredictor(ridge=ridge, domain_names=domains).fit(W, y)
    report = {"ridge": float(ridge), "ridge_choice": how, "n_runs": int(n), "cv": cv,
              "terms": _json_terms(predictor.terms()), "linear_terms": _json_terms(linear.terms()),
              "in_sample_rmse": float(np.sqrt(np.mean((predictor.predict(W) - y) ** 2)))}
    return predictor, report


def _json_terms(terms: dict[str, dict]) -> dict[str, dict]:
    """Pairwise keys (name_i, name_j) as 'name_i*name_j' so the terms are JSON-able."""
    return {kind: {"*".join(k) if isinstance(k, tuple) else k: v for k, v in group.items()}
            for kind, group in terms.items()}


def best_mixture(predictor: QuadraticPredictor, domains: list[str], bounds=None, seed: int = 0) -> dict[str, Any]:
    w = optimize_mixture(predictor, len(domains), bounds=bounds, seed=seed)
    return {"weights": {d: float(x) for d, x in zip(domains, w)},
            "predicted_score": float(predictor.predict(w[None])[0])}


def write_fit_outputs(out_dir: Path, rows: list[dict[str, Any]], domains: list[str], ridge: float | None,
                      bounds=None, seed: int = 0, plots: bool = True) -> dict[str, Any]:
    """Fit, optimise, and write predictor.json, best_mixture.json and plots/ into `out_dir`."""
    W, y = ok_rows(rows)
    predictor, report = fit_predictor(W, y, domains, ridge, seed)
    (out_dir / "predictor.json").write_text(json.dumps({**predictor.to_dict(), **report}, indent=2) + "\n")
    best = best_mixture(predictor, domains, bounds, seed)
    (out_dir / "best_mixture.json").write_text(json.dumps(best, indent=2) + "\n")
    if plots:
        from mmrl.mixtures.plots import plot_predicted_vs_observed, plot_simplex

        plot_predicted_vs_observed(predictor, W, y, out_dir / "plots" / "predicted_vs_observed.png")
        if len(domains) == 3:
            cv = report["cv"]
            note = (f"{len(y)} proxy runs; {cv['k']}-fold CV R^2 {cv['quadratic']['r2']:.2f} (linear "
                    f"{cv['linear']['r2']:.2f})" if cv else f"{len(y)} proxy runs")
            plot_simplex(predictor, W, y, domains, np.array(list(best["weights"].values())),
                         out_dir / "plots" / "simplex.png", note=note)
    return {"predictor": predictor, "report": report, "best": best}


# ----------------------------------------------------------------------------------------------------------
# The search


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-8))


def make_job(cfg: MixtureSearchConfig, index: int, weights: np.ndarray, run_dir: Path, seed: int | None = None,
             model_path: str | None = None) -> ProxyJob:
    """Write the run's train config into a fresh `run_dir` (a half-finished earlier attempt is removed, so a
    re-run starts from scratch) and describe the job."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    config_path = run_dir / "proxy_config.yaml"
    save_config(train_config(cfg, weights, run_dir, seed, model_path), config_path)
    return ProxyJob(index=index, weights=[float(w) for w in weights], run_dir=str(run_dir),
                    config_path=str(config_path), targets=[_env_dict(t) | {"name": t.name} for t in cfg.targets],
                    target_episodes=cfg.search.target_episodes)


def run_search(cfg: MixtureSearchConfig, search_dir: str | os.PathLike[str] | None = None,
               run_fn: RunFn | None = None, executor: LocalExecutor | RayExecutor | None = None,
               plots: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) a mixture search; returns the fit report, best mixture and confirmation (if any).

    `run_fn(job) -> {"status", "score", "per_target", "seconds", "error"}` performs one proxy run
    (:func:`run_proxy` by default); `executor` schedules them (from `cfg.search` by default). Finished rows of an
    existing results.csv whose weights match a proposal are kept and not re-run. The shared base model is built
    only for the default run function (a fake one in tests needs none).
    """
    out = Path(search_dir) if search_dir is not None else search_directory(cfg)
    out.mkdir(parents=True, exist_ok=True)
    run_fn = run_fn or run_proxy
    domains, targets = [d.name for d in cfg.domains], [t.name for t in cfg.targets]
    (out / "search_config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    s = cfg.search
    W = propose_mixtures(len(domains), s.n_random, s.concentration, s.seed, bounds=s.bounds)
    results_path = out / "results.csv"
    rows: list[dict[str, Any]] = []
    if results_path.is_file():
        old_domains, old_targets, rows = read_results(results_path)
        if old_domains != domains or old_targets != targets:
            raise UserError(f"{results_path} was written for domains {old_domains} and targets {old_targets}, "
                             f"not {domains} and {targets}; use another search.output_dir")
    done = {r["index"] for r in rows if r["status"] in STATUSES and r["index"] < len(W)
            and _same(r["weights"], W[r["index"]])}
    todo = [i for i in range(len(W)) if i not in done]
    log(f"mixture search {cfg.name}: {len(W)} mixtures over {domains}, {len(done)} already done, "
        f"{len(todo)} to run -> {out}")
    if todo:
        base_model = shared_base_model(cfg, out) if run_fn is run_proxy else None
        jobs = [make_job(cfg, i, W[i], out / "runs" / str(i), model_path=base_model) for i in todo]
        executor = executor or make_executor(s.executor, s.workers)
        # closing(): if this loop is left by an exception, the executor kills the runs in flight at once
        with closing(executor.map(run_fn, jobs)) as finished:
            for job, result in finished:
                append_result(results_path, domains, targets, job, result)
                weights = ", ".join(f"{d}={w:.2f}" for d, w in zip(domains, job.weights))
                log(f"  run {job.index} [{weights}] {result['status']} score={result['score']:.3f} "
                    f"({result['seconds']:.0f}s){' ' + result['error'][:200] if result['error'] else ''}")
    # Fit on the table as written (sorted by index), so a resumed search fits exactly what a single one does.
    rows = sorted((r for r in read_results(results_path)[2] if r["index"] < len(W)
                   and _same(r["weights"], W[r["index"]])), key=lambda r: r["index"])
    fit = write_fit_outputs(out, rows, domains, s.ridge, s.bounds, s.seed, plots)
    report = fit["report"]
    if report["cv"]:
        cv = report["cv"]
        log(f"predictor: ridge {report['ridge']:.3g} ({report['ridge_choice']}), {cv['k']}-fold CV: quadratic "
            f"RMSE {cv['quadratic']['rmse']:.4f} R^2 {cv['quadratic']['r2']:.3f}, linear RMSE "
            f"{cv['linear']['rmse']:.4f} R^2 {cv['linear']['r2']:.3f}")
    log(f"best mixture: {json.dumps(fit['best'])}")
    summary = {"search_dir": str(out), "n_runs": len(rows),
               "n_failed": sum(r["status"] == "failed" for r in rows), "fit": report, "best": fit["best"]}
    if cfg.confirm:
        from mmrl.mixtures.confirm import confirm

        summary["confirmation"] = confirm(cfg, out, fit["best"], run_fn,
                                          executor or make_executor(s.executor, s.workers), log)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return summary
