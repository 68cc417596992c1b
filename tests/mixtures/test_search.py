"""The mixture search loop (mmrl.mixtures.search) with fake proxy runs, plus one real tiny local search."""

from __future__ import annotations

import csv
import json
import threading

import numpy as np
import pytest
import yaml

from mmrl.config import Config, ConfigError, from_dict, load_config, to_dict
from mmrl.mixtures.executors import LocalExecutor, ProxyJob
from mmrl.mixtures.search import (
    MixtureSearchConfig,
    base_config,
    load_search_config,
    read_results,
    run_search,
    validate_search_config,
)

SHAPES = {"id": "mmrl/Classification-v0", "eval_kwargs": {"split": "test"}}


def make_cfg(m: int = 3, n_random: int = 4, confirm: bool = False, confirm_seeds=(101, 102),
             **search) -> MixtureSearchConfig:
    data = {
        "name": "t",
        "domains": [{"name": f"d{i}", **SHAPES} for i in range(m)],
        "targets": [{"name": "a", **SHAPES}, {"name": "b", **SHAPES}],
        "search": {"n_random": n_random, "workers": 1, **search},
        "confirm": confirm,
        "confirm_seeds": list(confirm_seeds),
    }
    cfg = from_dict(MixtureSearchConfig, data)
    validate_search_config(cfg)
    return cfg


def true_score(w: np.ndarray) -> float:
    """A known concave quadratic with its maximum inside the simplex."""
    w = np.asarray(w)
    return float(0.3 + 0.4 * w[0] + 0.2 * w[1] + 0.8 * w[0] * w[1] - 0.5 * w[-1] ** 2)


def fake_run(job: ProxyJob) -> dict:
    s = true_score(job.weights)
    return {"status": "ok", "score": s, "per_target": {"a": s, "b": s}, "seconds": 0.0, "error": ""}


def rows_by_index(path):
    return {r["index"]: r for r in read_results(path)[2]}


def test_results_appended_as_each_run_finishes(tmp_path):
    seen = []

    def run_fn(job):
        path = tmp_path / "results.csv"
        seen.append(len(read_results(path)[2]) if path.is_file() else 0)
        return fake_run(job)

    summary = run_search(make_cfg(), tmp_path, run_fn=run_fn, plots=False, log=lambda s: None)
    assert seen == list(range(len(seen)))  # each call saw every earlier run already in the table
    assert summary["n_runs"] == len(seen) == 7 + 4
    with open(tmp_path / "results.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["index", "w_d0", "w_d1", "w_d2", "score", "score_a", "score_b", "status", "seconds", "error"]


def test_resume_skips_finished_runs_and_gives_the_same_results(tmp_path):
    full = tmp_path / "full"
    run_search(make_cfg(), full, run_fn=fake_run, plots=False, log=lambda s: None)

    calls = []

    def interrupted(job):
        if len(calls) == 5:
            raise KeyboardInterrupt  # the search is killed while the 6th run is in flight
        calls.append(job.index)
        return fake_run(job)

    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        run_search(make_cfg(), part, run_fn=interrupted, plots=False, log=lambda s: None)
    assert sorted(rows_by_index(part / "results.csv")) == sorted(calls)

    rerun = []
    run_search(make_cfg(), part, run_fn=lambda job: rerun.append(job.index) or fake_run(job), plots=False,
               log=lambda s: None)
    assert not set(rerun) & set(calls)
    assert sorted(rerun + calls) == list(range(11))
    a, b = rows_by_index(full / "results.csv"), rows_by_index(part / "results.csv")
    assert a.keys() == b.keys()
    for i in a:
        np.testing.assert_allclose(a[i]["weights"], b[i]["weights"])
        assert a[i]["score"] == pytest.approx(b[i]["score"])
    for name in ("best_mixture.json", "predictor.json"):
        assert json.loads((full / name).read_text()) == json.loads((part / name).read_text())


def test_failed_runs_are_recorded_and_the_search_goes_on(tmp_path):
    def run_fn(job):
        if job.index == 2:
            raise RuntimeError("boom")
        if job.index == 4:
            return {"status": "failed", "score": float("nan"), "per_target": {}, "seconds": 1.0,
                    "error": "train exited with 1"}
        return fake_run(job)

    summary = run_search(make_cfg(), tmp_path, run_fn=run_fn, plots=False, log=lambda s: None)
    rows = rows_by_index(tmp_path / "results.csv")
    assert len(rows) == 11 and summary["n_failed"] == 2
    assert rows[2]["status"] == "failed" and "boom" in rows[2]["error"]
    assert rows[4]["status"] == "failed" and np.isnan(rows[4]["score"])
    assert json.loads((tmp_path / "predictor.json").read_text())["n_runs"] == 9
    again = []
    run_search(make_cfg(), tmp_path, run_fn=lambda job: again.append(job) or fake_run(job), plots=False,
               log=lambda s: None)
    assert again == []  # failed runs are finished runs: not retried on restart


def test_outputs_and_confirmation_written(tmp_path):
    summary = run_search(make_cfg(n_random=6, confirm=True), tmp_path, run_fn=fake_run,
                         executor=LocalExecutor(2), log=lambda s: None)
    for name in ("results.csv", "predictor.json", "best_mixture.json", "confirmation.json", "summary.json",
                 "plots/predicted_vs_observed.png", "plots/simplex.png"):
        assert (tmp_path / name).is_file(), name
    predictor = json.loads((tmp_path / "predictor.json").read_text())
    assert predictor["kind"] == "quadratic" and predictor["ridge_choice"] == "cross-validated"
    assert {"quadratic", "linear"} <= predictor["cv"].keys()
    best = json.loads((tmp_path / "best_mixture.json").read_text())
    assert list(best["weights"]) == ["d0", "d1", "d2"]
    w = np.array(list(best["weights"].values()))
    assert w.sum() == pytest.approx(1.0)
    grid = np.random.default_rng(0).dirichlet(np.ones(3), size=4000)
    assert true_score(w) >= 0.98 * max(true_score(g) for g in grid)  # exact quadratic: recovered optimum
    conf = summary["confirmation"]
    assert conf["seeds"] == conf["paired_seeds"] == [101, 102]
    assert conf["best"]["mean"] == pytest.approx(true_score(w)) and conf["best"]["std"] == pytest.approx(0.0)
    assert conf["uniform"]["mean"] == pytest.approx(true_score(np.full(3, 1 / 3)))
    assert conf["best_beats_uniform"] is True and conf["best_wins"] == 2


def test_confirmation_runs_use_fresh_seeds(tmp_path):
    """Each confirmation seed trains best and uniform once, on a train.seed no proxy run used (the model's seed
    stays the proxy runs'); the report pairs them by seed."""
    seen = {}

    def run_fn(job):
        seen[job.index] = (from_dict(Config, yaml.safe_load(open(job.config_path))), job.run_dir)
        out = fake_run(job)
        if job.index < 0:  # confirmation: make the score depend on the seed
            out["score"] += 0.01 * seen[job.index][0].train.seed
        return out

    cfg = make_cfg(confirm=True, confirm_seeds=[7, 8, 9])
    summary = run_search(cfg, tmp_path, run_fn=run_fn, plots=False, log=lambda s: None)
    proxy_seeds = {(c.train.seed, c.model.seed) for i, (c, _) in seen.items() if i >= 0}
    confirm_runs = {i: v for i, v in seen.items() if i < 0}
    assert proxy_seeds == {(0, 0)} and len(confirm_runs) == 6
    assert sorted((c.train.seed, c.model.seed) for c, _ in confirm_runs.values()) == [(7, 0)] * 2 + [(8, 0)] * 2 + [
        (9, 0)] * 2
    assert len({d for _, d in seen.values()}) == len(seen)  # every run has its own directory
    conf = summary["confirmation"]
    w_best = np.array(list(conf["best"]["weights"].values()))
    expected = [true_score(w_best) + 0.01 * s for s in (7, 8, 9)]
    assert [conf["best"]["runs"][str(s)]["score"] for s in (7, 8, 9)] == pytest.approx(expected)
    assert conf["best"]["mean"] == pytest.approx(np.mean(expected))
    assert conf["best"]["std"] == pytest.approx(np.std(expected, ddof=1))
    assert conf["mean_difference"] == pytest.approx(true_score(w_best) - true_score(np.full(3, 1 / 3)))
    again = []
    run_search(cfg, tmp_path, run_fn=lambda job: again.append(job) or fake_run(job), plots=False,
               log=lambda s: None)
    assert again == []  # confirmation.json is reused for the same best mixture and seeds


@pytest.mark.parametrize("seeds", [[0, 1], [3, 3], []])
def test_confirmation_seeds_must_be_fresh_and_distinct(seeds):
    with pytest.raises(ConfigError, match="confirm_seeds"):
        make_cfg(confirm=True, confirm_seeds=seeds)
    data = {**to_dict(make_cfg()), "base": {"train": {"seed": 5}}, "confirm": True}
    with pytest.raises(ConfigError, match="train.seed 5"):
        validate_search_config(from_dict(MixtureSearchConfig, {**data, "confirm_seeds": [1, 5]}))
    validate_search_config(from_dict(MixtureSearchConfig, {**data, "confirm_seeds": [0, 1]}))


def test_local_executor_runs_at_most_workers_at_once():
    lock, live, peak = threading.Lock(), [0], [0]

    def run_fn(job):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        threading.Event().wait(0.05)
        with lock:
            live[0] -= 1
        return fake_run(job)

    jobs = [ProxyJob(i, [0.5, 0.5, 0.0], "", "", []) for i in range(6)]
    out = list(LocalExecutor(2).map(run_fn, jobs))
    assert sorted(j.index for j, _ in out) == list(range(6)) and peak[0] == 2


@pytest.mark.parametrize(
    "override, place",
    [("search.n_randm=3", "search.n_randm"), ("domains.0.kwarg={}", "domains[0].kwarg"),
     ("bogus=1", "bogus"), ("base.train.total_step=1", "base.train.total_step"),
     ("domains.0.weight=0.5", "domains[0].weight"), ("base.optim.lr=-1", "base: 'optim.lr'")],
)
def test_config_validation_names_the_unknown_key(tmp_path, override, place):
    with pytest.raises(ConfigError, match=place.replace("[", r"\[").replace(".", r"\.")):
        load_search_config("configs/mixture_quickstart.yaml", [override])


def test_a_mixture_config_reads_numbers_as_a_train_config_does(tmp_path):
    """One YAML reader: `lr: 5e-4` is a float in a mixture config's base as in a train config."""
    (tmp_path / "mix.yaml").write_text(
        "base: {optim: {lr: 5e-4}, train: {sft_lr: 1e-3}}\n"
        "domains: [{name: c, id: mmrl/Classification-v0}]\ntargets: [{name: t, id: mmrl/Classification-v0}]\n")
    cfg = load_search_config(tmp_path / "mix.yaml")
    assert base_config(cfg).optim.lr == 5e-4 and base_config(cfg).train.sft_lr == 1e-3
    assert load_config(None, ["optim.lr=5e-4"]).optim.lr == base_config(cfg).optim.lr


def test_config_rejects_bad_values():
    twice = {"domains": [{"name": "x", **SHAPES}] * 2, "targets": [{"name": "t", **SHAPES}]}
    with pytest.raises(ConfigError, match="unique"):
        validate_search_config(from_dict(MixtureSearchConfig, twice))
    with pytest.raises(ConfigError, match="search.executor"):
        make_cfg(executor="slurm")


def test_quickstart_config_loads_and_base_path_works(tmp_path):
    cfg = load_search_config("configs/mixture_quickstart.yaml", ["base.train.total_steps=3"])
    assert [d.name for d in cfg.domains] == ["warm", "cool", "digits"] and cfg.base["train"]["total_steps"] == 3
    (tmp_path / "base.yaml").write_text("train: {total_steps: 2}\n")
    (tmp_path / "mix.yaml").write_text(
        "base: base.yaml\ndomains: [{name: c, id: mmrl/Classification-v0}]\ntargets: [{name: t, id: x/Y-v0}]\n")
    assert load_search_config(tmp_path / "mix.yaml").base == {"train": {"total_steps": 2}}


def test_cli_fit_and_optimize(tmp_path, capsys):
    from mmrl.cli import main

    run_search(make_cfg(n_random=6), tmp_path, run_fn=fake_run, plots=False, log=lambda s: None)
    (tmp_path / "predictor.json").unlink()
    assert main(["mixture", "fit", str(tmp_path / "results.csv")]) == 0
    assert (tmp_path / "predictor.json").is_file() and '"cv"' in capsys.readouterr().out
    assert main(["mixture", "optimize", str(tmp_path / "results.csv"), "--bounds", "[[0, 0.3], [0, 1], [0, 1]]"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["weights"]["d0"] <= 0.3 + 1e-9
    assert main(["mixture", "fit", str(tmp_path / "nope.csv")]) == 2
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert main(["mixture", "optimize", str(tmp_path / "bad.csv")]) == 2
    assert "not a mixture results table" in capsys.readouterr().err


@pytest.mark.slow
def test_real_tiny_local_search(tmp_path):
    """Two domains, three 1-step proxy runs through real proxy subprocesses (train, then score the targets),
    from one shared base model. One row is already in the table (a resumed search), so two real runs execute, in
    parallel."""
    cfg = load_search_config("configs/mixture_quickstart.yaml", [
        "domains=[{name: color, id: mmrl/Classification-v0, kwargs: {source: shapes, label: color}},"
        " {name: shape, id: mmrl/Classification-v0, kwargs: {source: shapes, label: shape}}]",
        "targets=[{name: color_test, id: mmrl/Classification-v0, kwargs: {source: shapes, label: color},"
        " eval_kwargs: {split: test}}]",
        "search.n_random=0", "search.workers=2", "confirm=false",
        "base.train.sft_steps=0", "base.train.total_steps=1", "base.rollout.group_size=2",
        "base.rollout.groups_per_step=1", "base.algo.minibatch_size=2", "base.eval.episodes=2",
    ])
    (tmp_path / "results.csv").write_text(
        "index,w_color,w_shape,score,score_color_test,status,seconds,error\n0,0.5,0.5,0.25,0.25,ok,1.0,\n")
    summary = run_search(cfg, tmp_path, log=lambda s: None)
    rows = rows_by_index(tmp_path / "results.csv")
    assert sorted(rows) == [0, 1, 2] and summary["n_failed"] == 0, [r["error"] for r in rows.values()]
    for i in (1, 2):
        assert 0.0 <= rows[i]["score"] <= 1.0
        assert "mmrl train" not in rows[i]["error"] and (tmp_path / "runs" / str(i) / "proxy.log").is_file()
        assert json.loads((tmp_path / "runs" / str(i) / "target_scores.json").read_text())["color_test"] == rows[i][
            "score"]
    assert not (tmp_path / "runs" / "0").exists()
    assert load_config(str(tmp_path / "runs" / "1" / "config.yaml")).model.path == str(tmp_path / "base_model")
    assert (tmp_path / "best_mixture.json").is_file() and (tmp_path / "plots/predicted_vs_observed.png").is_file()


@pytest.mark.slow
def test_ray_executor_runs_fake_proxy_runs():
    ray = pytest.importorskip("ray")
    import sys

    from mmrl.mixtures.executors import RayExecutor

    # Workers cannot import this test module, so its functions travel by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        executor = RayExecutor(workers=2)
        jobs = [ProxyJob(i, [w, 1 - w, 0.0], "", "", []) for i, w in enumerate([0.0, 0.5, 1.0])]
        out = {job.index: result for job, result in executor.map(fake_run, jobs)}
        assert sorted(out) == [0, 1, 2] and out[2]["score"] == pytest.approx(true_score([1.0, 0.0, 0.0]))
    finally:
        ray.shutdown()


def test_cli_mixture_search_names_a_typo_in_one_line(capsys):
    from mmrl.cli import main

    assert main(["mixture", "search", "configs/mixture_quickstart.yaml", "base.optim.lrr=5e-4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "base.optim.lrr" in err and "did you mean 'lr'" in err
