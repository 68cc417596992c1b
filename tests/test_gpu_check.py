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


def test_every_real_size_command_parses_and_names_a_shipped_deepspeed_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # bench_update imports its siblings
    spec = importlib.util.spec_from_file_location("bench_update", ROOT / "benchmarks" / "bench_update.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    jobs = _gpu_check().real_size_jobs(tmp_path)
    assert {"update_3b_full", "update_3b_lora64", "update_3b_zero2", "update_3b_zero3"} <= set(jobs)
    for name, command in jobs.items():
        at = command.index("benchmarks/bench_update.py") + 1
        args = bench.parse_args(command[at:])
        assert (args.layers, args.vision_depth, args.dtype) == (36, 32, "bfloat16")  # the real 3B shapes
        assert args.out == tmp_path / f"{name}.json"
        if args.deepspeed:
            stage = json.loads((ROOT / args.deepspeed).read_text())["zero_optimization"]["stage"]
            assert "torch.distributed.run" in command and f"zero{stage}" in name
            bf16 = json.loads(Path(_gpu_check().bf16_deepspeed_json(str(ROOT / args.deepspeed), tmp_path)).read_text())
            assert bf16["bf16"] == {"enabled": True} and bf16["zero_optimization"]["stage"] == stage
