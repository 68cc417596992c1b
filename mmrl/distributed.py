"""Process groups and the optimiser step: plain PyTorch in one process, a DeepSpeed engine otherwise.

mmrl has no distributed layer of its own. Several processes (launched by `torchrun`, `deepspeed` or `accelerate
launch`) train through DeepSpeed ZeRO; rank and world size are read from torch.distributed, because on CPU
`accelerate`'s own process index reports 0 in every process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from mmrl.config import ConfigError, OptimConfig


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of `values` over all processes."""
        if self.world_size == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def union(self, names: set[str]) -> list[str]:
        """Sorted union of `names` over all processes (metric names that only some processes saw)."""
        if self.world_size == 1:
            return sorted(names)
        gathered: list = [None] * self.world_size
        dist.all_gather_object(gathered, sorted(names))
        return sorted(set().union(*gathered))

    def max(self, value: int) -> int:
        """The largest `value` over all processes."""
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.long, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return int(tensor.item())

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()  # without this, gloo runs abort at exit now and then


def init_distributed(deepspeed_config: str | None) -> DistContext:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and deepspeed_config is None:
        raise ConfigError(
            f"train.deepspeed: launched as {world} processes, and multi-process training runs through DeepSpeed; "
            "set train.deepspeed=configs/deepspeed/zero2.json"
        )
    if deepspeed_config is not None:
        import deepspeed

        if "RANK" not in os.environ:  # plain `mmrl train` without a launcher: a one-process group
            os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                              MASTER_PORT=str(_free_port()))
        if not dist.is_initialized():
            # Without the env vars above DeepSpeed would fall back to MPI discovery (mpi4py).
            deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        ctx = DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    else:
        ctx = DistContext()
    if torch.cuda.is_available():
        torch.cuda.set_device(ctx.local_rank)
    return ctx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's name and float32 bytes: equal digests mean bit-identical weights. Under ZeRO-3
    call it inside `Updater.full_weights()`."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(param.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def lr_factor(cfg: OptimConfig, update: int, clock: float, total_steps: int, updates_per_step: int,
              sft_updates: int = 0, sft_scale: float = 1.0) -> float:
    """The LR multiplier of optimiser update `update` (counted from 0, warm-start updates included).

    `sft_updates` warm-start updates run at `sft_scale` times the peak LR. Then the RL schedule: a linear warm-up
    over `cfg.warmup_steps` optimiser updates, then constant, or linear/cosine decay over the run's progress
    measured in RL steps: `clock` = RL steps done, fractional within a step (update k of a step with n updates adds
    k / n), so the decay reaches 0 exactly after the last update of step `total_steps` however many updates each
    step makes (a multi-turn step makes one sample per turn, so its update count varies). The warm-up counts as
    warmup_steps / updates_per_step RL steps; with a constant count n per step this is the decay over
    total_steps * n updates exactly.
    """
    if update < sft_updates:
        return sft_scale
    update -= sft_updates
    if update < cfg.warmup_steps:
        return (update + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    warm = cfg.warmup_steps / updates_per_step  # the warm-up, in RL steps
    progress = min(1.0, max(0.0, (clock - warm) / max(total_steps - warm, 1.0 / updates_per_step)))
    return 1.0 - progress if cfg.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))


class Updater:
    """Backward and optimiser steps for micro-batches; `engine` is the DeepSpeed engine when one is used."""

    def __init__(self, model: torch.nn.Module, cfg: OptimConfig, total_steps: int, micro_batch: int,
                 ctx: DistContext, deepspeed_config: str | None, sft_updates: int = 0, sft_lr: float | None = None):
        """`total_steps`: RL steps of the run (the LR schedule's length; see `lr_factor`); the trainer announces
        each step's number of optimiser updates with `begin_step`."""
        self.cfg = cfg
        params = [p for p in model.parameters() if p.requires_grad]
        # bf16/fp16 weights without DeepSpeed: AdamW steps on float32 master copies, written back rounded after each
        # step (mixed precision, Micikevicius et al. 2018). In place, an update below half a bf16 ulp (lr 1e-6 on a
        # weight of 0.02) would round away: measured, one step changed 2% of such weights. DeepSpeed's bf16 mode
        # keeps its own float32 master weights.
        self._low_precision = params if deepspeed_config is None and any(
            p.dtype != torch.float32 for p in params) else None
        self._master = [p.detach().float().clone() for p in params] if self._low_precision else None
        optimizer = torch.optim.AdamW(self._master or params, lr=cfg.lr, betas=tuple(cfg.betas),
                                      weight_decay=cfg.weight_decay)
        sft_scale = (sft_lr if sft_lr is not None else cfg.lr) / cfg.lr
        # Where the RL run stands: RL steps before the current one, its first update, its number of updates.
        self._step = {"done": 0, "first_update": sft_updates, "updates": 1}
        where = self._step

        def factor(update: int) -> float:
            clock = where["done"] + (update - where["first_update"]) / where["updates"]
            return lr_factor(cfg, update, clock, total_steps, where["updates"], sft_updates, sft_scale)

        self._factor = factor
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        self.engine = None
        self._micro = 0
        self.ctx = ctx
        self._poisoned = False  # a non-finite loss in the current accumulation window
        self.skipped_updates = 0
        """Optimiser updates skipped for a non-finite loss or gradient (the trainer reads and resets it each step)."""
        if deepspeed_config is not None:
            import deepspeed

            ds_config = deepspeed_json(deepspeed_config, cfg, micro_batch, ctx.world_size)
            self.engine, optimizer, _, scheduler = deepspeed.initialize(
                model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config
            )
        self.optimizer, self.scheduler = optimizer, scheduler

    @property
    def zero_stage(self) -> int:
        return self.engine.zero_optimization_stage() if self.engine is not None else 0

    def full_weights(self):
        """Context in which every process holds the whole model: ZeRO-3 partitions the weights, so saving or
        hashing them gathers them first (a collective: all processes must enter). A no-op otherwise."""
        if self.zero_stage != 3:
            return contextlib.nullcontext()
        import deepspeed

        return deepspeed.zero.GatheredParameters(list(self.engine.module.parameters()), modifier_rank=None)

    def micro_step(self, loss: torch.Tensor) -> float | None:
        """Backward one micro-batch's mean loss; every `grad_accum_steps`-th call also steps. Returns the grad norm
        when it stepped, else None.

        A non-finite loss or gradient never reaches the weights: a NaN/inf loss is not backpropagated, and the
        optimiser update it belongs to is skipped (gradients dropped, the LR schedule's clock still advances);
        `skipped_updates` counts them. Under DeepSpeed every process skips a micro-batch whose loss is non-finite on
        any of them; non-finite gradients there are left to DeepSpeed's own checks."""
        self._micro += 1
        boundary = self._micro % self.cfg.grad_accum_steps == 0
        finite = self.ctx.max(int(not bool(torch.isfinite(loss.detach()).all()))) == 0
        if self.engine is not None:
            if not finite:
                self.skipped_updates += 1
                self._micro -= 1  # the engine never saw this micro-batch
                return None
            self.engine.backward(loss)  # DeepSpeed divides by gradient_accumulation_steps itself
            self.engine.step()
            return float(self.engine.get_global_grad_norm() or 0.0) if boundary else None
        if finite:
            (loss / self.cfg.grad_accum_steps).backward()
        else:
            self._poisoned = True
        if not boundary:
            return None
        if self._master is not None:
            for master, param in zip(self._master, self._low_precision):
                master.grad = None if param.grad is None else param.grad.float()
                param.grad = None
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            norm = 0.0
        elif self.cfg.max_grad_norm > 0:
            norm = float(torch.nn.utils.clip_grad_norm_(params, self.cfg.max_grad_norm))
        else:
            norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
        if self._poisoned or not math.isfinite(norm):
            self._poisoned = False
            self.skipped_updates += 1
            self.optimizer.zero_grad(set_to_none=True)
            with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": skipping on purpose
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()
            return float("nan")
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self._master is not None:
            with torch.no_grad():
                for master, param in zip(self._master, self._low_precision):
                    param.copy_(master)
        return norm

    def begin_step(self, step: int, updates: int) -> None:
        """RL step `step` (from 1) is about to make `updates` optimiser updates: place the schedule's clock."""
        update = self.scheduler.last_epoch  # optimiser updates done so far
        self._step.update(done=step - 1, first_update=update, updates=max(updates, 1))
        groups = self.scheduler.optimizer.param_groups  # the optimiser the schedule drives (under a ZeRO wrapper too)
        for group, base in zip(groups, self.scheduler.base_lrs):
            group["lr"] = base * self._factor(update)
        self.scheduler._last_lr = [group["lr"] for group in groups]

    def reset_moments(self) -> None:
        """Forget the optimiser's running moments (ProRL's reference reset restarts AdamW's state)."""
        if self.engine is not None:
            raise NotImplementedError("clearing the optimiser state under DeepSpeed is not supported")
        self.optimizer.state.clear()

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def save(self, directory: Path) -> None:
        """Optimiser and scheduler state (every process calls this under DeepSpeed)."""
        if self.engine is not None:
            self.engine.save_checkpoint(str(directory / "deepspeed"), tag="state")
        else:
            torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                        "micro": self._micro, "master_weights": self._master}, directory / "optimizer.pt")

    def load(self, directory: Path) -> None:
        if self.engine is not None:
            self.engine.load_checkpoint(str(directory / "deepspeed"), tag="state", load_module_strict=False)
            return
        state = torch.load(directory / "optimizer.pt", weights_only=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._micro = state["micro"]
        if self._master is not None and state.get("master_weights") is not None:
            # The saved model holds the rounded weights; the float32 masters carry on exactly where they were.
            with torch.no_grad():
                for master, saved in zip(self._master, state["master_weights"]):
                    master.copy_(saved)


def deepspeed_json(path: str, cfg: OptimConfig, micro_batch: int, world_size: int) -> dict:
    """Read a DeepSpeed JSON and set the batch, accumulation and clipping keys from mmrl's own config, which is
    the single source of truth for them."""
    if not os.path.isfile(path):
        raise ConfigError(f"train.deepspeed: no such file: {path!r}")
    with open(path) as fh:
        config = json.load(fh)
    config["train_micro_batch_size_per_gpu"] = micro_batch
    config["gradient_accumulation_steps"] = cfg.grad_accum_steps
    config["train_batch_size"] = micro_batch * cfg.grad_accum_steps * world_size
    config["gradient_clipping"] = cfg.max_grad_norm
    config.setdefault("zero_allow_untested_optimizer", True)  # we pass torch's AdamW (no cpu_adam build)
    return config
