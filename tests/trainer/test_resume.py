"""A run killed with SIGKILL and started again resumes from its last checkpoint and reproduces the
uninterrupted run's rewards at every later step."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from mmrl import checkpoint
from mmrl.logger import read_jsonl
from tests.trainer.helpers import REPO, SMALL, mmrl_cmd, mmrl_env, run_mmrl
from tests.vllm_support import require_vllm

CONFIG = "configs/quickstart.yaml"
ARGS = [*SMALL, "train.total_steps=8", "train.save_every=2", "train.eval_every=4", "train.keep_checkpoints=10",
        "train.sft_steps=3", "train.sft_batch_size=8"]


def _rewards(run_dir):
    return {r["step"]: r["train/return_mean"] for r in read_jsonl(run_dir / "metrics.jsonl") if "train/return_mean" in r}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hf", pytest.param("vllm", marks=pytest.mark.vllm)])
def test_sigkill_and_resume_reproduces_the_uninterrupted_run(tmp_path, backend):
    """With vLLM too: each request's seed comes from (run seed, step, rank, turn, index), not the engine's state."""
    if backend == "vllm":
        require_vllm()
    args = [*ARGS, f"rollout.backend={backend}"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = run_mmrl("train", CONFIG, *args, f"train.output_dir={straight}")
    assert done.returncode == 0, done.stderr[-3000:]

    proc = subprocess.Popen(mmrl_cmd("train", CONFIG, *args, f"train.output_dir={killed}"), cwd=REPO,
                            env=mmrl_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not any(s >= 4 for s, _ in checkpoint.complete_checkpoints(killed)):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = [s for s, _ in checkpoint.complete_checkpoints(killed)]
    assert saved and max(saved) < 8, f"the run was not killed midway (checkpoints {saved})"

    resumed = run_mmrl("train", CONFIG, *args, f"train.output_dir={killed}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from {killed / 'checkpoints' / f'step_{max(saved)}'}" in resumed.stdout + resumed.stderr
    expected, got = _rewards(straight), _rewards(killed)
    assert sorted(got) == list(range(1, 9))  # no step lost or logged twice
    assert got == expected
    final = [r for r in read_jsonl(killed / "metrics.jsonl") if r["step"] == 8][0]
    assert final["eval/success_rate"] == [r for r in read_jsonl(straight / "metrics.jsonl") if r["step"] == 8][0][
        "eval/success_rate"]


def test_half_written_checkpoints_are_never_picked(tmp_path):
    (tmp_path / "checkpoints" / "step_2").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step_2" / checkpoint.MARKER).write_text("ok")
    (tmp_path / "checkpoints" / "step_4").mkdir()  # no marker: killed while saving
    (tmp_path / "checkpoints" / "step_6.tmp").mkdir()
    (tmp_path / "checkpoints" / "step_6.tmp" / checkpoint.MARKER).write_text("ok")  # never renamed
    assert checkpoint.latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_2"


def test_finish_prunes_old_checkpoints(tmp_path):
    for step in (1, 2, 3):
        (checkpoint.begin(tmp_path, step) / "weights").write_text(str(step))
        checkpoint.finish(tmp_path, step, keep=2)
    assert [s for s, _ in checkpoint.complete_checkpoints(tmp_path)] == [2, 3]


def test_extending_a_finished_run_names_the_changed_keys_and_keeps_the_old_config(tmp_path):
    args = [*SMALL, "train.save_every=2", "train.eval_every=100", "train.sft_steps=0", f"train.output_dir={tmp_path}"]
    first = run_mmrl("train", CONFIG, *args, "train.total_steps=2")
    assert first.returncode == 0, first.stderr[-3000:]
    more = run_mmrl("train", CONFIG, *args, "train.total_steps=3", "rollout.temperature=0.9")
    assert more.returncode == 0, more.stderr[-3000:]
    out = more.stdout + more.stderr
    listed = out.split("config changed")[1].splitlines()[1:]
    listed = [line.strip() for line in listed[:next(i for i, line in enumerate(listed) if not line.startswith("  "))]]
    assert listed == ["rollout.temperature: 1.0 -> 0.9", "train.total_steps: 2 -> 3"]
    assert "total_steps: 2" in (tmp_path / "config.previous.yaml").read_text()
    assert "total_steps: 3" in (tmp_path / "config.yaml").read_text()
    assert sorted(_rewards(tmp_path)) == [1, 2, 3]
