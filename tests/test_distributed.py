"""Two processes under `torchrun` with DeepSpeed ZeRO-2 on CPU (gloo): the ranks play different env seeds, both
count in the logged metrics, they end with bit-identical weights (equal to the saved checkpoint's), and a second
launch resumes from the DeepSpeed checkpoint.

The first DeepSpeed start in a fresh environment compiles `deepspeed_shm_comm` (30-50 s, cached afterwards in
~/.cache/torch_extensions); the whole test takes about 1-3 minutes on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmrl.config import load_config
from mmrl.distributed import DistContext, parameter_digest
from mmrl.logger import read_jsonl
from mmrl.models.loading import load_pretrained_policy
from mmrl.trainer import DEBUG_DIGEST_ENV, group_requests
from tests.trainer.helpers import REPO, free_port, mmrl_env

GROUPS, GROUP_SIZE = 4, 4
ARGS = [
    f"rollout.groups_per_step={GROUPS}", f"rollout.group_size={GROUP_SIZE}", "rollout.max_new_tokens=4",
    "algo.minibatch_size=8", "eval.episodes=2", "train.eval_every=0", "train.save_every=1",
    "train.progress=false", "train.sft_steps=4", "train.sft_batch_size=8",  # the warm-start moves the weights
]
ZERO2 = "configs/deepspeed/zero2.json"


TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
ACCELERATE = [sys.executable, "-m", "accelerate.commands.launch"]


def _train_args(run_dir, total_steps: int, deepspeed_config: str, *extra: str) -> list[str]:
    """`-m mmrl.cli train ...` with the small run every launcher test trains."""
    return ["-m", "mmrl.cli", "train", "configs/quickstart.yaml", *ARGS, f"train.total_steps={total_steps}",
            f"train.output_dir={run_dir}", f"train.deepspeed={deepspeed_config}", *extra]


def _launch(*commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Start the commands together (the nodes of one job), wait for all, assert each exited 0."""
    env = mmrl_env() | {DEBUG_DIGEST_ENV: "1"}
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for cmd in commands]
    done = []
    try:
        for cmd, proc in zip(commands, procs):
            out, _ = proc.communicate(timeout=300)
            done.append(subprocess.CompletedProcess(cmd, proc.returncode, out, ""))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for result in done:
        assert result.returncode == 0, " ".join(result.args) + "\n" + result.stdout[-4000:]
    return done


def _torchrun(run_dir, total_steps: int, deepspeed_config: str = ZERO2, *extra: str) -> subprocess.CompletedProcess:
    cmd = [*TORCHRUN, "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           *_train_args(run_dir, total_steps, deepspeed_config, *extra)]
    return _launch(cmd)[0]


def _rank_records(run_dir, zero_stage: int = 2) -> list[dict]:
    records = [json.loads((run_dir / "debug" / f"rank{r}.json").read_text()) for r in range(2)]
    assert [(d["rank"], d["world_size"], d["zero_stage"]) for d in records] == [(0, 2, zero_stage), (1, 2, zero_stage)]
    return records


def _digest(path, cfg) -> str:
    return parameter_digest(load_pretrained_policy(str(path), cfg.model).model)


def _seeds(cfg, step: int, rank: int) -> list[int]:
    return [req.seed for req in group_requests(cfg, step, DistContext(rank=rank, world_size=2))]


def _assert_both_ranks_trained(run_dir, total_steps: int, zero_stage: int = 2) -> tuple[list[dict], str]:
    """What every launch of two processes must give: (a) each rank played its own seeds, both count in the
    logged metrics, and rank 0 alone wrote the samples; (b) both end with the same weights, equal to the saved
    checkpoint's and different from the initial ones. Returns the ranks' records and the final digest."""
    cfg = load_config(str(run_dir / "config.yaml"), [])
    # (a) Different data: each rank played exactly the seeds group_requests gives its own rank, and they differ.
    records = _rank_records(run_dir, zero_stage)
    for rank, record in enumerate(records):
        assert record["last_step_seeds"] == _seeds(cfg, total_steps, rank)
    assert not set(records[0]["last_step_seeds"]) & set(records[1]["last_step_seeds"])
    # Both ranks count in the logged metrics: the episode count is summed over the two processes.
    metrics = {r["step"]: r for r in read_jsonl(run_dir / "metrics.jsonl") if "train/episodes" in r}
    assert sorted(metrics) == list(range(1, total_steps + 1))
    assert all(r["train/episodes"] == 2 * GROUPS * GROUP_SIZE for r in metrics.values())
    # samples.jsonl is written by rank 0 alone, from rank 0's episodes.
    logged = {row["seed"] for row in read_jsonl(run_dir / "samples.jsonl") if row["step"] == 1}
    assert logged and logged <= set(_seeds(cfg, 1, 0)) and not logged & set(_seeds(cfg, 1, 1))

    # (b) Identical weights on both ranks, equal to the saved checkpoint's and different from the initial ones.
    assert records[0]["weights_sha256"] == records[1]["weights_sha256"]
    final = _digest(run_dir / "checkpoints" / f"step_{total_steps}", cfg)
    assert records[0]["weights_sha256"] == final != _digest(run_dir / "base_model", cfg)
    assert (run_dir / "checkpoints" / f"step_{total_steps}" / "deepspeed" / "state").is_dir()
    return records, final


@pytest.fixture(scope="module")
def torchrun_run(tmp_path_factory) -> tuple[Path, str]:
    """Two processes under torchrun, ZeRO-2, 2 steps: (run directory, final weights digest). The other launchers
    must end with exactly these weights: the launcher decides how processes start, nothing else."""
    run_dir = tmp_path_factory.mktemp("torchrun") / "run"
    _torchrun(run_dir, total_steps=2)
    return run_dir, _assert_both_ranks_trained(run_dir, total_steps=2)[1]


@pytest.mark.slow
def test_two_deepspeed_ranks_draw_different_data_and_end_with_identical_weights(torchrun_run):
    run_dir, final = torchrun_run
    cfg = load_config(str(run_dir / "config.yaml"), [])

    # (c) A second launch on the same run directory resumes from the DeepSpeed checkpoint and goes on.
    resumed = _torchrun(run_dir, total_steps=3)
    assert f"Resuming from {run_dir / 'checkpoints' / 'step_2'}" in resumed.stdout + resumed.stderr
    steps = [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl") if "train/episodes" in r]
    assert steps == [1, 2, 3]
    records = _rank_records(run_dir)
    assert records[0]["weights_sha256"] == records[1]["weights_sha256"] != final
    assert [d["last_step_seeds"] for d in records] == [_seeds(cfg, 3, 0), _seeds(cfg, 3, 1)]


@pytest.mark.slow
def test_zero3_with_partitioned_weights_trains_in_step_and_saves_the_gathered_model(tmp_path):
    """ZeRO-3 with every weight partitioned (the tiny model's tensors are all below DeepSpeed's default persistence
    threshold, which would keep them whole): generation must run with synced_gpus, else the rank whose samples
    stop first leaves the others waiting in an all-gather forever (20 warm-start steps teach the model to stop
    after a word or two, so lengths differ; with 4 they never stop early and the hang does not show). The checkpoint
    must hold the gathered weights."""
    config = json.loads((REPO / "configs" / "deepspeed" / "zero3.json").read_text())
    config["zero_optimization"]["stage3_param_persistence_threshold"] = 0
    (tmp_path / "zero3.json").write_text(json.dumps(config))
    run_dir = tmp_path / "run"
    _torchrun(run_dir, 2, str(tmp_path / "zero3.json"), "train.sft_steps=20", "rollout.max_new_tokens=8")
    cfg = load_config(str(run_dir / "config.yaml"), [])
    records = _rank_records(run_dir, zero_stage=3)
    assert [d["last_step_seeds"] for d in records] == [_seeds(cfg, 2, 0), _seeds(cfg, 2, 1)]
    final, initial = _digest(run_dir / "checkpoints" / "step_2", cfg), _digest(run_dir / "base_model", cfg)
    assert records[0]["weights_sha256"] == records[1]["weights_sha256"] == final != initial


@pytest.mark.slow
def test_zero3_multi_turn_episodes_of_different_lengths_on_each_rank(tmp_path):
    """Episodes last 1-3 turns (by seed), so the two ranks run out of active episodes at different turns; the
    runner keeps both calling generate once per turn until all are done, else the early rank would leave the
    other waiting in a ZeRO-3 all-gather."""
    config = json.loads((REPO / "configs" / "deepspeed" / "zero3.json").read_text())
    config["zero_optimization"]["stage3_param_persistence_threshold"] = 0
    (tmp_path / "zero3.json").write_text(json.dumps(config))
    run_dir = tmp_path / "run"
    _torchrun(run_dir, 2, str(tmp_path / "zero3.json"), "model.tiny=text", "rollout.max_episode_steps=3",
              "envs=[{id: 'tests.fixtures.toy_envs:mmrltest/Echo-v0', kwargs: {length_from_seed: true}}]")
    records = _rank_records(run_dir, zero_stage=3)
    lengths = [{1 + s % 3 for s in d["last_step_seeds"]} for d in records]
    assert all(len(x) > 1 for x in lengths)  # each rank really had episodes of different lengths
    assert records[0]["weights_sha256"] == records[1]["weights_sha256"]
    turns = [r["eval/turns_mean"] for r in read_jsonl(run_dir / "metrics.jsonl") if "eval/turns_mean" in r]
    assert turns and all(t > 1 for t in turns)


@pytest.mark.slow
@pytest.mark.parametrize("stage", [2, 3])
def test_accelerate_launch_with_the_shipped_config(tmp_path, torchrun_run, stage):
    """`accelerate launch` with configs/accelerate/zeroN.yaml and 2 CPU processes (the command in that file's
    header). Accelerate reports process index 0 in both processes on CPU; mmrl reads torch.distributed instead,
    so the ranks still draw different data. Under ZeRO-2 it ends with exactly torchrun's weights."""
    run_dir = tmp_path / "run"
    out = _launch([*ACCELERATE, "--config_file", f"configs/accelerate/zero{stage}.yaml",
                   "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()),
                   *_train_args(run_dir, 2, f"configs/deepspeed/zero{stage}.json")])[0]
    assert "2 process(es), DeepSpeed ZeRO-" + str(stage) in out.stdout
    _, final = _assert_both_ranks_trained(run_dir, total_steps=2, zero_stage=stage)
    if stage == 2:
        assert final == torchrun_run[1]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_nodes_of_one_process_each_on_localhost(tmp_path, torchrun_run, launcher):
    """A multi-node launch simulated on one machine: two commands, node (machine) rank 0 and 1, meet at 127.0.0.1
    (the run directory stands for the shared filesystem nodes mount): `torchrun --nnodes 2 --node_rank N`, or
    `accelerate launch --num_machines 2 --machine_rank N` with the shipped config (the command in its header).
    Both train; rank 0 alone prints and writes the run; the weights equal the one-node launch's."""
    run_dir, port = tmp_path / "run", str(free_port())
    if launcher == "torchrun":
        nodes = [[*TORCHRUN, "--nnodes", "2", "--nproc_per_node", "1", "--master_addr", "127.0.0.1",
                  "--master_port", port, "--node_rank", str(n)] for n in (0, 1)]
    else:
        nodes = [[*ACCELERATE, "--config_file", "configs/accelerate/zero2.yaml", "--num_machines", "2",
                  "--num_processes", "2", "--machine_rank", str(n), "--main_process_ip", "127.0.0.1",
                  "--main_process_port", port] for n in (0, 1)]
    first, second = _launch(*[[*node, *_train_args(run_dir, 2, ZERO2)] for node in nodes])
    _, final = _assert_both_ranks_trained(run_dir, total_steps=2)
    assert final == torchrun_run[1]
    assert "2 process(es)" in first.stdout and "policy:" not in second.stdout  # rank 0 alone reports
