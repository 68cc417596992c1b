"""benchmarks/gpu_check.py runs only on GPU machines; here its commands are checked to name valid configs, so a renamed
config key breaks CI rather than the next GPU session."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from mmrl.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_gpu_check_command_is_a_valid_config(tmp_path):
    jobs = _gpu_check().jobs(tmp_path)
    assert {"quickstart_bf16", "numberline_ppo", "zero2_bf16", "zero3_bf16_multiturn"} <= set(jobs)
    for name, command in jobs.items():
        at = command.index("train") + 1
        cfg = load_config(ROOT / command[at], command[at + 1:])
        assert cfg.train.output_dir == str(tmp_path / name)
        if cfg.train.deepspeed:
            ds = json.loads(Path(cfg.train.deepspeed).read_text())
            assert ds["bf16"] == {"enabled": True} and f"zero{ds['zero_optimization']['stage']}" in name
