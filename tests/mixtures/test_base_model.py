"""The search's shared tiny base model: built once, its tokenizer trained on every domain's and target's
prompts, and named by every run's config."""

from __future__ import annotations

import numpy as np

from mmrl.config import load_config
from mmrl.mixtures.search import load_search_config, make_job, shared_base_model


def test_one_base_model_shared_by_every_run(tmp_path):
    cfg = load_search_config("configs/mixture_quickstart.yaml")
    path = shared_base_model(cfg, tmp_path)
    assert path == str(tmp_path / "base_model")
    stamp = (tmp_path / "base_model" / "model.safetensors").stat().st_mtime_ns
    assert shared_base_model(cfg, tmp_path) == path  # built once
    assert (tmp_path / "base_model" / "model.safetensors").stat().st_mtime_ns == stamp

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    # Every domain's class names are single tokens, whichever domains a run mixes.
    assert all(len(tokenizer.encode(c)) == 1 for c in ("red", "green", "blue", "yellow"))

    for i, w in enumerate([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]):
        job = make_job(cfg, i, np.array(w), tmp_path / "runs" / str(i), model_path=path)
        run_cfg = load_config(job.config_path)
        assert run_cfg.model.path == path and len(run_cfg.envs) == int(np.count_nonzero(w))


def test_no_shared_model_for_a_real_checkpoint_or_when_switched_off(tmp_path):
    assert shared_base_model(load_search_config("configs/mixture_quickstart.yaml",
                                                ["search.shared_base_model=false"]), tmp_path) is None
    assert shared_base_model(load_search_config("configs/mixture_quickstart.yaml",
                                                ["base.model.path=/models/x"]), tmp_path) is None
    assert not (tmp_path / "base_model").exists()
