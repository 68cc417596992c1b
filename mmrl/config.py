"""Typed, strict run configuration.

Every field carries a one-line docstring (the string literal under it). YAML files and `key=value` overrides are
loaded into these dataclasses; an unknown or misspelt key is an error naming it and its place, so nothing in the
code reads a config key that the dataclasses do not declare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoraConfig:
    r: int = 0
    """LoRA rank; 0 trains all weights."""
    alpha: int = 32
    """LoRA scaling numerator (lora_alpha)."""
    dropout: float = 0.0
    """Dropout on the LoRA branch."""
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    """Module names that receive adapters (the language model's attention projections by default)."""


@dataclass
class ModelConfig:
    path: str | None = None
    """Local checkpoint directory (a Hugging Face save_pretrained folder). None builds a tiny random model."""
    tiny: str = "vl"
    """Which tiny model to build when path is None: 'vl' (Qwen2.5-VL architecture) or 'text' (Qwen2)."""
    tiny_hidden_size: int = 64
    """Hidden size of the tiny language model."""
    tiny_layers: int = 2
    """Decoder layers of the tiny language model."""
    tiny_vocab_size: int = 512
    """Vocabulary size of the locally trained byte-level BPE tokenizer."""
    seed: int = 0
    """Seed for the tiny model's random initialisation."""
    dtype: str = "float32"
    """Weights dtype: float32, bfloat16 or float16."""
    attn_implementation: str = "sdpa"
    """Attention kernel passed to transformers (sdpa, eager, flash_attention_2)."""
    min_pixels: int = 3136
    """Smallest image area (pixels) the processor resizes to (Qwen2.5-VL's min_pixels)."""
    max_pixels: int = 12845056
    """Largest image area (pixels) the processor resizes to (Qwen2.5-VL's max_pixels)."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    """Optional LoRA adapters (peft)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward to save memory."""


@dataclass
class EnvSpec:
    id: str
    """A gymnasium id: 'mmrl/Classification-v0' or 'theirmodule:their/Env-v0'."""
    weight: float = 1.0
    """Share of training episodes drawn from this env when several are listed."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make when training."""
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments merged over kwargs for held-out evaluation (e.g. {split: test})."""


@dataclass
class RolloutConfig:
    backend: str = "hf"
    """Generation backend: 'hf' (transformers generate) or 'vllm' (GPU install)."""
    group_size: int = 8
    """G: episodes started from the same reset seed (one GRPO group)."""
    groups_per_step: int = 8
    """Groups collected per training step (per process)."""
    max_new_tokens: int = 32
    """Longest response the policy may generate per env step."""
    temperature: float = 1.0
    """Sampling temperature for training rollouts."""
    top_p: float = 1.0
    """Nucleus sampling threshold for training rollouts."""
    max_episode_steps: int = 1
    """Turns per episode before truncation (1 for dataset tasks)."""
    history_turns: int = 2
    """Earlier (observation, response) turns kept as text in the prompt of multi-step episodes."""
    system_prompt: str | None = None
    """System message; None uses the env's own (env.unwrapped.system_prompt) or none."""
    generation_batch_size: int = 64
    """Most prompts sent to the backend at once."""
    env_step_timeout_s: float = 30.0
    """An env step that takes longer is abandoned, the episode ends with env_error, and the env is rebuilt."""


@dataclass
class AlgoConfig:
    name: str = "grpo"
    """Policy-gradient family: 'grpo'."""
    advantage: str = "grpo"
    """Advantage estimator: 'grpo' (mean and std of the group) or 'drgrpo' (mean only, no std division)."""
    clip_low: float = 0.2
    """PPO clip range below 1 (ratio >= 1 - clip_low)."""
    clip_high: float = 0.2
    """PPO clip range above 1 (ratio <= 1 + clip_high); 0.28 is DAPO's clip-higher."""
    loss_agg: str = "token-mean"
    """Loss aggregation: 'token-mean', 'seq-mean-token-mean' or 'seq-mean-token-sum'."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the reference (initial) policy; 0 skips the reference model."""
    kl_estimator: str = "k3"
    """KL estimator: 'k1' (log ratio), 'k2' (half squared log ratio) or 'k3' (Schulman's unbiased, >= 0)."""
    ppo_epochs: int = 1
    """Passes over each batch of rollouts."""
    minibatch_size: int = 64
    """Samples per optimiser step (per process)."""


@dataclass
class OptimConfig:
    lr: float = 3e-4
    """Peak learning rate (AdamW)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    """AdamW betas."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm; 0 disables."""
    warmup_steps: int = 0
    """Linear warm-up, in optimiser steps."""
    schedule: str = "constant"
    """LR schedule after warm-up: 'constant', 'linear' or 'cosine' (decays to 0 at the last step)."""
    grad_accum_steps: int = 1
    """Micro-batches per optimiser step (a minibatch is split into this many)."""


@dataclass
class TrainConfig:
    total_steps: int = 100
    """Training steps (one step = collect rollouts, then update)."""
    seed: int = 0
    """Seed for env seeds, sampling and initialisation."""
    output_dir: str | None = None
    """Run directory; None means runs/<run_name>."""
    run_name: str = "run"
    """Name of the run (used for the default output_dir)."""
    eval_every: int = 25
    """Evaluate on held-out seeds every this many steps (and at the start and end); 0 only at the end."""
    save_every: int = 25
    """Save a checkpoint every this many steps (and at the end); 0 only at the end."""
    keep_checkpoints: int = 2
    """Most recent checkpoints kept on disk."""
    log_samples: int = 4
    """Episodes per step written to samples.jsonl."""
    sft_steps: int = 0
    """Supervised warm-start steps on info['expert_action'] before RL (cold start); 0 skips it."""
    sft_batch_size: int = 32
    """Examples per supervised warm-start step."""
    deepspeed: str | None = None
    """DeepSpeed JSON config (e.g. configs/deepspeed/zero2.json) to train through a DeepSpeed engine."""
    torch_threads: int = 1
    """torch intra-op threads on CPU (1 is fastest when another process shares the cores)."""
    progress: bool = True
    """Show a rich progress bar."""


@dataclass
class EvalConfig:
    episodes: int = 64
    """Held-out episodes per env (reset seeds disjoint from training's)."""
    samples_per_episode: int = 1
    """Responses per held-out episode; > 1 enables pass@k."""
    temperature: float = 0.0
    """Sampling temperature in evaluation; 0 is greedy."""
    pass_k: list[int] = field(default_factory=lambda: [1])
    """k values reported as pass@k (each <= samples_per_episode)."""
    seed_offset: int = 1_000_000
    """Held-out reset seeds start here; training seeds stay below it."""


@dataclass
class Config:
    envs: list[EnvSpec] = field(default_factory=lambda: [EnvSpec(id="mmrl/Classification-v0")])
    """Environments to train on."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Policy model."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Rollout collection."""
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    """Advantage estimator and policy loss."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimiser and schedule."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Loop length, checkpoints, logging."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Held-out evaluation."""
