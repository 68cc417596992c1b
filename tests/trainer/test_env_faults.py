"""Fault injection by config: an env that raises, hangs, exits, segfaults, leaks memory, returns NaN rewards and
malformed observations at set rates trains to the end with the process backend; every injected fault is counted
once under its kind, no step or episode is lost or counted twice, and the weights stay finite."""

from __future__ import annotations

from collections import Counter

import torch
from safetensors.torch import load_file

from mmrl.config import load_config
from mmrl.logger import read_jsonl
from mmrl.trainer import Trainer
from tests.fixtures.faulty_env import KIND

RATES = {"raise": 0.04, "hang": 0.02, "exit": 0.04, "segfault": 0.03, "nan": 0.04, "malformed": 0.04, "leak": 0.03}


def test_a_faulty_env_trains_to_the_end_with_every_fault_counted(tmp_path, monkeypatch):
    log = tmp_path / "faults.log"
    env = ("{id: 'tests.fixtures.faulty_env:mmrltest/Faulty-v0', kwargs: {length: 2, hang_s: 60, leak_mb: 100, "
           f"log_path: '{log}', faults: {RATES}}}, eval_kwargs: {{faults: {{}}}}}}")
    steps, episodes_per_step = 4, 8
    cfg = load_config(None, [
        f"envs=[{env}]", "model.tiny=text", "rollout.group_size=2", "rollout.groups_per_step=4",
        "rollout.max_new_tokens=4", "rollout.max_episode_steps=2", "rollout.env_backend=process",
        "rollout.env_workers=4", "rollout.env_step_timeout_s=3", "rollout.env_memory_mb=100", "eval.episodes=2",
        f"train.total_steps={steps}", "train.progress=false", "train.eval_every=0", "train.save_every=0",
        f"train.output_dir={tmp_path / 'run'}",
    ])
    dropped = []  # per step: (failed episodes, failed episodes' samples that still weigh in the update)
    collect = Trainer.collect

    def watched(self, step):
        episodes, samples, stats = collect(self, step)
        failed = {i for i, ep in enumerate(episodes) if ep.error is not None}
        weighing = [s for s in samples if s.weight > 0]
        dropped.append((len(failed), sum(s.episode in failed for s in weighing), len(weighing)))
        return episodes, samples, stats

    monkeypatch.setattr(Trainer, "collect", watched)
    Trainer(cfg).train()
    rows = [r for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if "train/episodes" in r]
    assert [r["step"] for r in rows] == list(range(1, steps + 1))  # every step once
    assert all(r["train/episodes"] == episodes_per_step for r in rows)  # no episode lost
    injected = Counter(KIND[name] for name in log.read_text().split())
    counted = Counter()
    for r in rows:
        counted.update({k.removeprefix("train/env_errors/"): int(v) for k, v in r.items()
                        if k.startswith("train/env_errors/")})
    assert counted == injected and len(injected) >= 3
    assert sum(r["train/env_errors"] for r in rows) == sum(injected.values())
    assert [n for n, _, _ in dropped] == [r["train/env_errors"] for r in rows]
    assert all(still == 0 and kept > 0 for _, still, kept in dropped)  # failed episodes never reach the update
    weights = load_file(str(tmp_path / "run" / "checkpoints" / f"step_{steps}" / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())
