"""benchmarks/compare_vqa.py and its two configs: the comparison is fair (the configs differ only in what is
rewarded) and the summary numbers are computed from a run's metrics rows as documented."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from mmrl.config import load_config, to_dict

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "compare_vqa.py"


@pytest.fixture(scope="module")
def compare(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("compare_vqa", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_vqa"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["compare_vqa"]


def test_the_two_configs_differ_only_in_the_rewarded_components():
    satori = to_dict(load_config(ROOT / "configs" / "vqa_satori.yaml"))
    answer_only = to_dict(load_config(ROOT / "configs" / "vqa_answer_only.yaml"))
    weights = answer_only["envs"][0]["kwargs"].pop("reward_weights")
    assert weights == {"satori_format": 0.0, "caption": 0.0, "bbox": 0.0} and "reward_weights" not in satori["envs"][0]["kwargs"]
    assert (satori["train"].pop("run_name"), answer_only["train"].pop("run_name")) == ("vqa_satori", "vqa_answer_only")
    assert satori == answer_only
    # The scenes the box reward is learnable on (fewer, larger objects); the pixel bounds are set once, in model.*
    kwargs = satori["envs"][0]["kwargs"]
    assert kwargs["object_count"] == [2, 3] and kwargs["size_scale"] == 2.5
    assert "min_pixels" not in kwargs and (satori["model"]["min_pixels"], satori["model"]["max_pixels"]) == (3136, 9408)


def test_train_commands_share_seed_and_steps(compare, tmp_path):
    commands = compare.train_commands(7, tmp_path, 3)
    assert len(commands) == 2
    for cmd in commands.values():
        assert "train.total_steps=7" in cmd and "train.seed=3" in cmd and "train.progress=false" in cmd
    assert len({cmd[cmd.index("train") + 1] for cmd in commands.values()}) == 2


def test_summaries_from_metrics_rows(compare):
    keys = compare.COLUMNS.values()
    rows = [
        {"step": 0, **{f"eval/{k}": 0.0 for k in keys}},
        {"step": 0, **{f"sft/{k}": 0.5 for k in keys}},
        *({"step": s, "train/reward/bbox": float(s)} for s in range(1, 21)),
        {"step": 20, **{f"eval/{k}": 0.75 for k in keys}},
    ]
    points = compare.held_out(rows)
    assert list(points) == ["start", "warm-start", "RL step 20"]
    assert points["start"]["IoU"] == 0.0 and points["warm-start"]["format"] == 0.5
    assert points["RL step 20"]["answer acc"] == 0.75
    assert compare.first_rl_mean(rows, "train/reward/bbox") == 3.0  # steps 1-5
    assert compare.last_rl_mean(rows, "train/reward/bbox") == 15.5  # steps 11-20
    assert compare.smooth([1.0, 3.0, 5.0], window=2) == [1.0, 2.0, 4.0]
