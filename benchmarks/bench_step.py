"""Wall-clock time of one mmrl GRPO step against one TRL `GRPOTrainer` step: same job, same process, interleaved.

    OMP_NUM_THREADS=1 python benchmarks/bench_step.py [--steps 20] [--warmup 3] [--out results.json]

Both trainers get the same job, built once here:
- the same tiny Qwen2.5-VL weights and processor (built by mmrl, saved, then loaded separately by each trainer);
- the same prompts and images in the same order: step s of both is the groups that mmrl's `group_requests` picks
  for step s (TRL reads them from a dataset in that order, `shuffle_dataset=False`), and the prompt token ids
  are checked to be identical;
- the quickstart's rollout shape (16 prompts x 8 generations per step), at most 8 new tokens, temperature 1.0, top-p 1.0, no top-k, the same
  suppressed vision tokens and stop tokens, and the same reward (`mmrl.rewards.exact_match` on the answer);
- one clipped policy-gradient update per batch over all 128 samples (token-mean loss, clip 0.2, no KL and so no
  reference model), AdamW at the same constant learning rate, grad clipping 1.0, float32, no gradient
  checkpointing, no vLLM, one torch thread, CPU.

The steps are interleaved (TRL step 1, mmrl step 1, TRL step 2, ...; mmrl's step runs inside TRL's
`on_step_end` callback), so both see the same load from other processes on the machine. An mmrl step is
`Trainer.collect` (env reset, encode, generate, env step and reward, advantages) then `Trainer.update`. A TRL
step runs from the end of the previous mmrl step to TRL's next `on_step_end`: its dataloader, generation, reward,
advantages, loss, backward and optimiser step; logging, saving and evaluation are off. The first `--warmup` steps
of each are not counted. The headline ratio is of median step times; the ratio of the fastest steps is printed too,
as the figure least moved by other processes on a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

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
from mmrl.rollout.runner import make_env
from mmrl.trainer import Trainer, env_corpus, group_requests

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.6


@dataclass
class StepTimes:
    """Per-step wall-clock seconds of one trainer."""

    total: list[float] = field(default_factory=list)
    rollout: list[float] = field(default_factory=list)
    """Rollouts to advantages (mmrl: `collect`; TRL: `_generate_and_score_completions`, its dataloader excluded)."""
    generate: list[float] = field(default_factory=list)
    """`model.generate` and its batching alone (mmrl: the backend call; TRL: `_generate_single_turn`)."""
    completion_tokens: list[float] = field(default_factory=list)
    """Mean completion length of each step, to show both trainers did the same amount of work."""

    def summary(self, skip: int) -> dict[str, float]:
        """Statistics of the steps after the first `skip`; `update` is total minus rollout (for TRL it includes the
        dataloader and the Trainer's bookkeeping)."""
        total, rollout = self.total[skip:], self.rollout[skip:]
        return {
            "steps": len(total),
            "mean_s": statistics.fmean(total),
            "median_s": statistics.median(total),
            "min_s": min(total),
            "rollout_median_s": statistics.median(rollout),
            "generate_median_s": statistics.median(self.generate[skip:]),
            "update_median_s": statistics.median([t - r for t, r in zip(total, rollout)]),
            "completion_tokens_mean": statistics.fmean(self.completion_tokens[skip:]),
        }


# ---------------------------------------------------------------------------------------------- shared inputs
def bench_config(config_path: str, model_dir: str | None, out_dir: str, n_steps: int) -> Config:
    overrides = [f"train.output_dir={out_dir}", "train.progress=false", "train.sft_steps=0",
                 f"train.total_steps={n_steps}", "train.torch_threads=1", "algo.kl_coef=0.0", "algo.ppo_epochs=1"]
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


def _timed(fn, sink: list[float]):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        sink.append(time.perf_counter() - t0)
        return out

    return wrapper


# ---------------------------------------------------------------------------------------------- mmrl
class MmrlStepper:
    """mmrl's `Trainer`, stepped one GRPO step at a time (collect, then update) with timings."""

    def __init__(self, cfg: Config, profiler: cProfile.Profile | None = None):
        self.trainer = Trainer(cfg)
        self.times = StepTimes()
        self.profiler = profiler
        self._generate_s: list[float] = []
        backend = self.trainer.runner.backend
        backend.generate = _timed(backend.generate, self._generate_s)

    def step(self, step: int, profile: bool = False) -> None:
        if profile and self.profiler is not None:
            self.profiler.enable()
        t0 = time.perf_counter()
        episodes, samples, _ = self.trainer.collect(step)
        t1 = time.perf_counter()
        self.trainer.update(samples, step)
        t2 = time.perf_counter()
        if self.profiler is not None:
            self.profiler.disable()
        self.times.total.append(t2 - t0)
        self.times.rollout.append(t1 - t0)
        self.times.generate.append(self._generate_s[-1])
        turns = [t for ep in episodes for t in ep.turns]
        self.times.completion_tokens.append(statistics.fmean(len(t.completion.token_ids) for t in turns))

    def close(self) -> None:
        self.trainer.runner.close()
        self.trainer.eval_runner.close()
        if self.trainer.logger is not None:
            self.trainer.logger.close()


# ---------------------------------------------------------------------------------------------- TRL, interleaved
class Interleave(TrainerCallback):
    """Times TRL's steps and runs one mmrl step after each (outside TRL's timed interval)."""

    def __init__(self, mmrl: MmrlStepper, warmup: int):
        self.mmrl = mmrl
        self.warmup = warmup
        self.trl_total: list[float] = []
        self._mark = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._mark = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.trl_total.append(time.perf_counter() - self._mark)
        step = len(self.trl_total)
        self.mmrl.step(step, profile=step > self.warmup)
        self._mark = time.perf_counter()


def trl_trainer(cfg: Config, policy: Policy, rows: list[dict], out_dir: str, n_steps: int,
                callback: TrainerCallback) -> GRPOTrainer:
    """TRL's GRPOTrainer set up for the same job as mmrl's `cfg`."""
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
        generation_kwargs={"suppress_tokens": policy.suppressed_ids, "eos_token_id": policy.stop_ids},
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
        use_vllm=False,
        shuffle_dataset=False,
        dataloader_num_workers=0,
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        log_completions=False,
    )
    trainer = GRPOTrainer(model=policy.model, reward_funcs=[exact_match], args=args,
                          train_dataset=Dataset.from_list(rows), processing_class=policy.processor,
                          callbacks=[callback])
    trainer.remove_callback(PrinterCallback)  # it would print TRL's end-of-training summary
    return trainer


def run(config: str, steps: int, warmup: int, profile: str | None = None) -> dict:
    """Time both trainers, interleaved, on the same job; returns the numbers `main` prints and writes."""
    torch.set_num_threads(1)
    n_steps = warmup + steps
    with tempfile.TemporaryDirectory(prefix="mmrl-bench-") as tmp:
        model_dir = os.path.join(tmp, "base_model")
        cfg = bench_config(config, None, os.path.join(tmp, "mmrl"), n_steps)
        save_policy(build_tiny_policy(cfg.model, env_corpus(cfg)), model_dir)
        cfg = bench_config(config, model_dir, os.path.join(tmp, "mmrl"), n_steps)
        rows = prompt_rows(cfg, n_steps)
        policy = load_for_trl(model_dir, cfg)
        check_same_prompt_ids(policy, rows[0])

        profiler = cProfile.Profile() if profile else None
        mmrl = MmrlStepper(cfg, profiler)
        interleave = Interleave(mmrl, warmup)
        trainer = trl_trainer(cfg, policy, rows, os.path.join(tmp, "trl"), n_steps, interleave)
        trl = StepTimes()
        trainer._generate_and_score_completions = _timed(trainer._generate_and_score_completions, trl.rollout)
        trainer._generate_single_turn = _timed(trainer._generate_single_turn, trl.generate)
        generate = trainer._generate

        def generate_and_count(prompts):
            out = generate(prompts)
            trl.completion_tokens.append(statistics.fmean(len(ids) for ids in out[1]))  # out[1]: completion ids
            return out

        trainer._generate = generate_and_count
        torch.set_num_threads(1)
        trainer.train()
        mmrl.close()
        trl.total = interleave.trl_total
    if profiler is not None:
        profiler.dump_stats(profile)
    ours, theirs = mmrl.times.summary(warmup), trl.summary(warmup)
    return {
        "machine": f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}",
        "job": {"prompts_per_step": cfg.rollout.groups_per_step, "group_size": cfg.rollout.group_size,
                "max_new_tokens": cfg.rollout.max_new_tokens, "warmup": warmup, "steps": steps, "config": config},
        "mmrl": ours,
        "trl": theirs,
        "ratio_median": ours["median_s"] / theirs["median_s"],
        "ratio_mean": ours["mean_s"] / theirs["mean_s"],
        "ratio_min": ours["min_s"] / theirs["min_s"],
        "target": TARGET_RATIO,
    }


# ---------------------------------------------------------------------------------------------- report
def print_table(results: dict[str, dict[str, float]]) -> None:
    columns = [("mean_s", "mean"), ("median_s", "median"), ("min_s", "min"), ("rollout_median_s", "rollout"),
               ("generate_median_s", "(generate)"), ("update_median_s", "update"), ("completion_tokens_mean", "tokens")]
    print(f"{'per step (s)':<14}" + "".join(f"{title:>12}" for _, title in columns))
    for name, row in results.items():
        print(f"{name:<14}" + "".join(f"{row[key]:>12.4f}" for key, _ in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="measured steps per trainer")
    parser.add_argument("--warmup", type=int, default=3, help="uncounted steps before measuring")
    parser.add_argument("--config", default=str(REPO / "configs" / "quickstart.yaml"), help="mmrl config of the job")
    parser.add_argument("--out", default=None, help="also write the numbers as JSON to this path")
    parser.add_argument("--profile", default=None, help="cProfile the measured mmrl steps into this .prof file")
    args = parser.parse_args()
    result = run(args.config, args.steps, args.warmup, args.profile)
    print(f"{result['machine']}; {result['job']}")
    print_table({"mmrl": result["mmrl"], "trl": result["trl"]})
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.profile:
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(30)
    print(f"ratio mmrl/trl = {result['ratio_median']:.2f} (target <= {TARGET_RATIO}; median step; "
          f"mean {result['ratio_mean']:.2f}, fastest {result['ratio_min']:.2f})")


if __name__ == "__main__":
    main()
