"""Run mmrl's GPU paths once, side by side, on a CUDA machine, and print what each run reached.

    python benchmarks/gpu_check.py [--out DIR] [--timeout 420] [--only NAME ...]

The tiny runs start together (tiny models leave the GPU mostly idle, so they barely slow each other) and each
prints its wall time, the device its policy sat on, and its held-out success before and after RL:
- quickstart (GRPO, tiny Qwen2.5-VL) in float32 and in bfloat16;
- NumberLine multi-turn PPO (value head, GAE) from configs/numberline_ppo.yaml, in float32 and in bfloat16;
- a run stopped by SIGTERM after its first checkpoint, then resumed by the same command;
- DeepSpeed ZeRO-2 (bf16) under torchrun, and ZeRO-3 (bf16) on the multi-turn NumberLine job.
Meanwhile, one after another (each wants most of the GPU), the update step of a random-init model of
Qwen2.5-VL-3B's shapes (benchmarks/bench_update.py, bfloat16): full fine-tuning, with gradient checkpointing, LoRA
rank 64, and ZeRO-2 / ZeRO-3 under torchrun with one process; each reports step time, MFU and peak memory.
The whole check is sized for a 10-minute device run. It exits 1 if any run failed. Not part of the test suite: CI
has no GPU (tests/test_gpu_check.py keeps the commands valid, tests/test_qwen_shapes.py the 3B model and FLOPs).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mmrl.logger import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
MMRL = [sys.executable, "-m", "mmrl.cli", "train"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m",
            "mmrl.cli", "train"]


UPDATE = [sys.executable, "benchmarks/bench_update.py"]
UPDATE_TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
                   "benchmarks/bench_update.py"]


def bf16_deepspeed_json(path: str | Path, folder: Path) -> str:
    """A copy of a DeepSpeed JSON in `folder` with bf16 on (the shipped ones have it off for CPU)."""
    config = json.loads(Path(path).read_text())
    config["bf16"] = {"enabled": True}
    out = folder / f"{Path(path).stem}_bf16.json"
    out.write_text(json.dumps(config))
    return str(out)


def jobs(out: Path) -> dict[str, list[str]]:
    """run name (also its folder under `out`) -> its command."""
    z2, z3 = (bf16_deepspeed_json(ROOT / f"configs/deepspeed/zero{stage}.json", out) for stage in (2, 3))
    nl, qs = "configs/numberline_ppo.yaml", "configs/quickstart.yaml"
    commands = {
        "quickstart_fp32": MMRL + [qs],
        "quickstart_bf16": MMRL + [qs, "model.dtype=bfloat16"],
        "numberline_ppo": MMRL + [nl],
        "numberline_ppo_bf16": MMRL + [nl, "model.dtype=bfloat16"],
        "zero2_bf16": TORCHRUN + [qs, f"train.deepspeed={z2}", "train.total_steps=100"],
        "zero3_bf16_multiturn": TORCHRUN + [nl, f"train.deepspeed={z3}", "train.sft_steps=100", "train.total_steps=20"],
    }
    return {name: cmd + [f"train.output_dir={out / name}"] for name, cmd in commands.items()}


def real_size_jobs(out: Path) -> dict[str, list[str]]:
    """run name -> command of each Qwen2.5-VL-3B-shape update measurement (bench_update.py; it switches bf16 on in
    the DeepSpeed JSON itself). Default batch: 8 rows of 512 prompt (256 image) + 256 completion tokens."""
    commands = {
        "update_3b_full": UPDATE,
        "update_3b_full_gc": UPDATE + ["--gradient-checkpointing"],
        "update_3b_lora64": UPDATE + ["--lora", "64"],
        "update_3b_zero2": UPDATE_TORCHRUN + ["--deepspeed", "configs/deepspeed/zero2.json"],
        "update_3b_zero3": UPDATE_TORCHRUN + ["--deepspeed", "configs/deepspeed/zero3.json"],
    }
    return {name: cmd + ["--out", str(out / f"{name}.json")] for name, cmd in commands.items()}


def run_real_size(jobs_: dict[str, list[str]], out: Path, env: dict, timeout: float) -> dict:
    """Run the update measurements one after another; each result is its JSON's headline numbers."""
    results = {}
    for name, command in jobs_.items():
        start = time.time()
        with open(out / f"{name}.log", "w") as log:
            try:
                rc = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        result = {"rc": rc, "wall_s": round(time.time() - start, 1)}
        report = out / f"{name}.json"
        if rc == 0 and report.is_file():
            data = json.loads(report.read_text())
            result |= {k: data[k] for k in ("step_s", "mfu", "achieved_tflops", "peak_memory_gib", "trainable",
                                            "tokens_per_step")}
        else:
            result["log_tail"] = (out / f"{name}.log").read_text().splitlines()[-3:]
        results[name] = result
    return results


def eval_curve(run_dir: Path) -> list[tuple[int, float]]:
    rows = read_jsonl(run_dir / "metrics.jsonl")  # skips the torn last line of a run killed at the time limit
    return [(r["step"], r.get("eval/success_rate", r.get("sft/success_rate"))) for r in rows
            if "eval/success_rate" in r or "sft/success_rate" in r]


def resume_check(out: Path, timeout: float) -> dict:
    """Start a run, SIGTERM it once its first checkpoint exists, run the same command again."""
    run = out / "resume"
    cmd = MMRL + ["configs/quickstart.yaml", "train.total_steps=40", "train.save_every=10", "train.eval_every=20",
                  f"train.output_dir={run}"]
    start = time.time()
    with open(out / "resume_first.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        while proc.poll() is None and time.time() - start < timeout and not any(run.glob("checkpoints/step_*")):
            time.sleep(0.5)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        first_rc = proc.wait(timeout=60)
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    (out / "resume_second.log").write_text(second.stdout + second.stderr)
    resumed = [line for line in (second.stdout + second.stderr).splitlines() if "Resuming from" in line]
    steps = [r["step"] for r in read_jsonl(run / "metrics.jsonl")]
    return {"first_rc": first_rc, "second_rc": second.returncode, "resumed": resumed[:1],
            "last_step": max(steps) if steps else None, "wall_s": round(time.time() - start, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=420.0, help="seconds each run may take")
    parser.add_argument("--real-size-timeout", type=float, default=150.0, help="seconds each 3B update run may take")
    parser.add_argument("--only", nargs="+", default=None, help="run only these (names as printed; 'resume')")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="mmrl_gpu_check_"))
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONUNBUFFERED="1")
    procs = {}
    selected = {name: cmd for name, cmd in jobs(out).items() if args.only is None or name in args.only}
    for name, command in selected.items():
        log = open(out / f"{name}.log", "w")
        procs[name] = (subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True), time.time(), log)
    results = {}
    resume = None
    if args.only is None or "resume" in args.only:
        resume = threading.Thread(target=lambda: results.__setitem__("resume", resume_check(out, args.timeout)))
        resume.start()
    real = {name: cmd for name, cmd in real_size_jobs(out).items() if args.only is None or name in args.only}
    results |= run_real_size(real, out, env, args.real_size_timeout)
    if resume is not None:
        resume.join()
    for name, (proc, start, log) in procs.items():
        try:
            rc = proc.wait(timeout=max(1.0, args.timeout - (time.time() - start)))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = "timeout"
        log.close()
        text = (out / f"{name}.log").read_text()
        policy = [line.strip() for line in text.splitlines() if line.strip().startswith("policy:")]
        results[name] = {"rc": rc, "wall_s": round(time.time() - start, 1), "policy": policy[:1],
                         "eval_success": eval_curve(out / name), "log_tail": text.splitlines()[-3:] if rc else []}
    print(json.dumps(results, indent=1))
    failed = [n for n, r in results.items() if r.get("rc", r.get("second_rc")) != 0]
    print("FAILED: " + ", ".join(failed) if failed else "all runs finished")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
