"""Typed, strict run configuration.

Every field carries a one-line docstring (the string literal under it). YAML files and `key=value` overrides are
loaded into these dataclasses; an unknown or misspelt key is an error naming it and its place, so nothing in the
code reads a config key that the dataclasses do not declare.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import yaml

from mmrl.vision import QWEN_MAX_PIXELS, QWEN_MIN_PIXELS

TinyKind = Literal["vl", "text"]
"""Tiny models mmrl builds (mmrl/models/tiny.py)."""
DType = Literal["float32", "bfloat16", "float16"]
"""Weight dtypes the loader maps to torch dtypes (mmrl/models/loading.py)."""
AttnImplementation = Literal["sdpa", "eager", "flash_attention_2"]
"""Attention kernels transformers offers (mmrl/models/loading.py:check_attention_available)."""
CorrectorKind = Literal["none", "oracle", "openai", "hf"]
"""GTR correctors (mmrl/correctors/__init__.py:make_corrector)."""
Schedule = Literal["constant", "linear", "cosine"]
"""Learning-rate schedules after warm-up (mmrl/distributed.py)."""
Reporter = Literal["tensorboard", "wandb"]
"""Where `train.report_to` may send metrics (mmrl/logger.py, mmrl/wandb_report.py)."""
WarmStartTarget = Literal["expert", "random_admissible"]
"""Warm-start labels (mmrl/rollout/runner.py:warm_start_key)."""
Backend = Literal["hf", "vllm"]
"""Generation backends (mmrl/rollout/backends.py:make_backend)."""
EngineDType = Literal["auto", "float32", "bfloat16", "float16"]
"""vLLM engine dtypes; 'auto' is the training model's (mmrl/rollout/vllm_backend.py)."""
Advantage = Literal["grpo", "drgrpo"]
"""Group-relative advantages with or without the std division (mmrl/algos/advantages.py)."""
LossAgg = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"]
"""Loss aggregations (mmrl/algos/losses.py:aggregate_loss, AGG_MODES)."""
KLEstimator = Literal["k1", "k2", "k3"]
"""KL penalty estimators (mmrl/algos/kl.py:kl_penalty, KL_ESTIMATORS)."""
RatioLevel = Literal["sequence", "token"]
"""Where PPO clips its ratio (mmrl/algos/ppo_terms.py)."""
Divergence = Literal["none", "reverse_kl", "forward_kl", "js"]
"""DPH-RL divergences to the reference (mmrl/algos/divergences.py, DIVERGENCES)."""
CotJudge = Literal["none", "rule", "corrector"]
"""CoT-pass@k judges (mmrl/judges.py)."""
ProfScorer = Literal["rule", "corrector"]
"""PROF's process scorers (mmrl/process_scores.py)."""


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
    tiny: TinyKind = "vl"
    """Which tiny model to build when path is None: 'vl' (Qwen2.5-VL architecture) or 'text' (Qwen2)."""
    tiny_hidden_size: int = 64
    """Hidden size of the tiny language model: a multiple of 32 (heads of size 32, the smallest vLLM's CPU kernels take)."""
    tiny_layers: int = 2
    """Decoder layers of the tiny language model."""
    tiny_vocab_size: int = 512
    """Vocabulary size of the locally trained byte-level BPE tokenizer."""
    seed: int = 0
    """Seed for the tiny model's random initialisation."""
    dtype: DType = "float32"
    """Weights dtype: float32, bfloat16 or float16."""
    attn_implementation: AttnImplementation = "sdpa"
    """Attention kernel passed to transformers: sdpa, eager, or flash_attention_2 (flash-attn, CUDA, bf16/fp16 weights)."""
    min_pixels: int = QWEN_MIN_PIXELS
    """Smallest image area (pixels) the processor resizes to (Qwen2.5-VL's min_pixels)."""
    max_pixels: int = QWEN_MAX_PIXELS
    """Largest image area (pixels) the processor resizes to (Qwen2.5-VL's max_pixels)."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    """Optional LoRA adapters (peft)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward to save memory."""


@dataclass
class EnvSpec:
    id: str
    """A gymnasium id: 'mmrl/Classification-v0' or 'theirmodule:their/Env-v0'."""
    name: str | None = None
    """Label in metrics (train/<name>/..., eval/<name>/...); default the id, with #<index> when ids repeat."""
    weight: float = 1.0
    """Share of training episodes drawn from this env when several are listed."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make when training."""
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments merged over kwargs for held-out evaluation (e.g. {split: test})."""


@dataclass
class VLLMConfig:
    """Settings of the vLLM engine (rollout.backend: vllm); the defaults work on a fresh CPU machine."""

    kv_cache_gib: float = 1.0
    """CPU: memory for the KV cache, in GiB (whole numbers; VLLM_CPU_KVCACHE_SPACE)."""
    gpu_memory_utilization: float = 0.3
    """GPU: share of the GPU's memory vLLM may take (weights + KV cache); the trainer needs the rest."""
    max_model_len: int = 4096
    """Longest prompt + response, in tokens, the engine accepts (sizes its KV cache per sequence)."""
    max_images_per_prompt: int = 1
    """Images one prompt may carry (the runner attaches the current observation's image only)."""
    tensor_parallel_size: int = 1
    """GPUs one engine spans; each training process has its own engine (colocated)."""
    dtype: EngineDType = "auto"
    """Engine weights dtype: 'auto' (the training model's), float32, bfloat16 or float16."""
    enforce_eager: bool = True
    """Run without CUDA graphs / torch.compile (quick start; graphs help long GPU runs)."""
    prefix_caching: bool = True
    """Reuse the KV cache of shared prompt prefixes (a group's G samples, a multi-turn history)."""
    sleep_mode: bool = False
    """GPU: free the engine's memory between rollouts (vLLM sleep mode); not supported on CPU."""


@dataclass
class RolloutConfig:
    backend: Backend = "hf"
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
    generation_batch_size: int = 128
    """Most prompts sent to the backend at once."""
    env_backend: Literal["thread", "process", "ray"] = "thread"
    """Where env copies live (mmrl.rollout.env_workers): 'thread' (the trainer's process), 'process' (one worker
    process per copy: a crash, hang or leak kills only it) or 'ray' (one Ray actor per copy, on a Ray cluster)."""
    env_workers: int = 2
    """Env calls (reset, step) run at once, on as many threads (more help envs that wait on I/O, release the GIL or
    run in worker processes)."""
    env_step_timeout_s: float = 30.0
    """An env step that takes longer is abandoned, the episode ends with env_error, and the env is rebuilt."""
    env_memory_mb: float | None = None
    """process/ray backends: a worker whose own memory (private pages; resident size where Linux's smaps_rollup is
    missing) passes this after a call is killed and rebuilt, its episode dropped; None: no cap."""
    sync_every: int = 1
    """Optimiser steps between weight syncs to a separate generation engine (vLLM; always before an eval); the HF
    backend generates with the training weights themselves."""
    vllm: VLLMConfig = field(default_factory=VLLMConfig)
    """Engine settings for rollout.backend: vllm."""
    tis_cap: float | None = 2.0
    """Truncated importance sampling for a separate generation engine (vLLM): each token's policy-gradient term is
    weighted by min(p_train / p_rollout, tis_cap), correcting the small rollout/training mismatch; None turns it off."""


@dataclass
class AlgoConfig:
    name: str = "grpo"
    """The RL algorithm (mmrl.algos.registry): 'grpo', 'ppo' (value head, per-step GAE; RL4VLM), 'rloo',
    'drgrpo', 'dapo', 'gigpo', 'rover', or a recipe on GRPO: 'prof' (process-consistency filtering), 'rise' (online
    self-verification), 'rlplus' (demonstrations with multiple importance sampling), 'spark' (the policy as its own
    judge)."""
    advantage: Advantage = "grpo"
    """algo.name grpo only: 'grpo' (mean and std of the group) or 'drgrpo' (mean only, no std division)."""
    clip_low: float = 0.2
    """PPO clip range below 1 (ratio >= 1 - clip_low)."""
    clip_high: float | None = None
    """PPO clip range above 1 (ratio <= 1 + clip_high); None: the algorithm's (0.2; dapo 0.28, clip-higher)."""
    loss_agg: LossAgg | None = None
    """Loss aggregation: 'token-mean', 'seq-mean-token-mean' or 'seq-mean-token-sum'; None: the algorithm's
    (token-mean; drgrpo seq-mean-token-sum)."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the reference policy (the one RL starts from: after the warm-start if any);
    0 skips the reference model."""
    kl_estimator: KLEstimator = "k3"
    """KL estimator: 'k1' (log ratio), 'k2' (half squared log ratio) or 'k3' (Schulman's unbiased, >= 0)."""
    entropy_coef: float = 0.0
    """Weight of an entropy bonus (keeps exploring when groups start to agree); 0 disables it."""
    ppo_epochs: int = 1
    """Passes over each batch of rollouts."""
    minibatch_size: int = 64
    """Samples per optimiser step (per process)."""
    gamma: float = 0.9
    """PPO and GiGPO: discount per env step (GiGPO's step returns; verl-agent uses 0.95)."""
    gae_lambda: float = 0.95
    """PPO: GAE lambda (0 one-step TD, 1 Monte Carlo)."""
    value_coef: float = 0.5
    """PPO: weight of the value loss."""
    value_trunk_grad: bool = True
    """PPO: the value loss trains the shared trunk too (RL4VLM); false trains the head alone on detached features,
    so that large early value errors cannot drown the policy gradient (both go through one gradient clip)."""
    value_clip: float | None = 0.2
    """PPO: how far a value prediction may move from the rollout's before its loss stops improving; None off."""
    thought_coef: float = 0.5
    """PPO: lambda in RL4VLM's lambda * log p(thought) + log p(action), the log-prob whose ratio is clipped."""
    ratio_level: RatioLevel = "sequence"
    """PPO: 'sequence' (RL4VLM: one clipped ratio of the lambda-scaled response log-prob) or 'token' (per-token
    ratios, lambda-weighted token losses summed per response: same gradient at ratio 1, steadier for small models)."""
    normalize_advantages: bool = True
    """PPO: standardise the GAE advantages over the batch."""
    dynamic_sampling: bool | None = None
    """DAPO's dynamic sampling: drop groups whose returns are all equal and sample more groups until the step has
    rollout.groups_per_step of them (at most algo.max_resample_rounds extra rounds); None: the algorithm's (dapo on)."""
    max_resample_rounds: int = 3
    """Dynamic sampling: most extra rounds of rollout.groups_per_step groups per step."""
    overlong_buffer: int | None = None
    """DAPO's overlong shaping: a response longer than rollout.max_new_tokens - overlong_buffer tokens loses up to 1
    reward, linearly, reaching -1 at max_new_tokens; 0 off; None: the algorithm's (dapo: max_new_tokens // 4)."""
    gigpo_omega: float = 1.0
    """GiGPO: weight of the step-level (anchor-state) advantage added to the episode-level one."""
    divergence: Divergence = "none"
    """DPH-RL's divergence to the reference policy: 'none', 'reverse_kl' (on the policy's own samples, with
    algo.kl_estimator), 'forward_kl' or 'js' (on stored samples of the reference for prompts it already solves);
    weighted by algo.divergence_coef. Combines with grpo, rloo, drgrpo, dapo."""
    divergence_coef: float = 0.0
    """Weight eta of algo.divergence."""
    divergence_batch: int = 16
    """forward_kl / js: stored reference samples drawn for each minibatch."""
    reference_reset_every: int = 0
    """ProRL: every this many RL steps, reset the reference policy to the current one and clear the optimiser's
    moments (a reset is logged as train/reference_reset); 0 never."""
    rover_rho: float = 1.0
    """ROVER: scale rho of the Q-value rho * (log pi - log pi_rollout)."""
    gigpo_std_norm: bool = False
    """GiGPO: divide both advantages by their group's std ('mean_std_norm'); false subtracts the mean only."""
    prof_drop: int = 2
    """PROF: rollouts dropped per group (correct ones with the lowest process scores, wrong ones with the highest,
    keeping the correct/wrong counts balanced)."""
    prof_scorer: ProfScorer = "rule"
    """PROF: process scorer, 'rule' (share of the thought's equations that hold) or 'corrector' (the verdict of
    the model named by gtr.corrector / gtr.model)."""
    verify_per_group: int = 2
    """RISE and SPARK: solutions of each group turned into verification prompts (right and wrong alternately)."""
    verify_samples: int = 4
    """RISE and SPARK: verification responses sampled per verification prompt (one group for the advantages)."""
    verify_coef: float = 1.0
    """RISE and SPARK: weight of the verification samples in the loss (their advantages are scaled by it)."""
    self_reward_envs: list[str] = field(default_factory=list)
    """SPARK: envs (metric names, as in eval/<name>/...) whose rollouts are rewarded by the policy's own verdict
    instead of the env's verifier; the verifier's reward is kept for logging the judge's accuracy only."""
    demo_mix: float = 0.5
    """RL-PLUS: weight of the rollout policy in the mixture a demonstration's tokens are importance-sampled
    against, pi_theta / (demo_mix * pi_old + (1 - demo_mix) * pi_demo)."""
    explore_exponent: float = 0.5
    """RL-PLUS: gamma of the exploration factor (1 - p)^gamma on the advantages of demonstrated tokens."""


@dataclass
class GTRConfig:
    corrector: CorrectorKind = "none"
    """GTR thought correction (Wei et al. 2025): 'none', 'oracle' (the env's expert), 'openai' (any
    OpenAI-compatible chat endpoint) or 'hf' (a local transformers model)."""
    model: str | None = None
    """'openai': the model name at the endpoint; 'hf': a local checkpoint folder."""
    base_url: str | None = None
    """'openai': the endpoint, e.g. http://127.0.0.1:8000/v1 (a vLLM server); None is api.openai.com."""
    api_key_env: str = "OPENAI_API_KEY"
    """'openai': environment variable holding the API key (never logged)."""
    send_image: bool = True
    """'openai': attach the observation's image as OpenAI image_url content (false for a text-only endpoint); an
    'hf' corrector sees the image when its model is a VL model."""
    timeout_s: float = 60.0
    """A correction that takes longer counts as no correction."""
    retries: int = 2
    """'openai': retries of a failed request."""
    temperature: float = 0.4
    """Sampling temperature of a model corrector."""
    max_new_tokens: int = 256
    """'hf': longest correction generated."""
    workers: int = 4
    """Corrections requested concurrently."""
    cloning_coef: float = 1.0
    """Weight of the thought-cloning cross-entropy on corrected thoughts (action tokens masked)."""
    buffer_batch: int = 16
    """DAgger: corrected examples drawn uniformly from the run's buffer for each PPO minibatch."""
    truncate: bool = False
    """End an episode at the first step the corrector marks as off the solution path, with truncate_reward."""
    truncate_reward: float = -1.0
    """Reward of the step where a truncated episode ends."""
    format_reward: float = 0.0
    """Added to the reward of every step whose answer parsed (GTR uses +5 for valid JSON)."""


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
    schedule: Schedule = "constant"
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
    """Episodes per step (and per evaluation) written to samples.jsonl."""
    sample_images_per_step: int = 4
    """Of those, how many keep their images as PNG files under <run>/images/ (deduplicated; 0: none)."""
    sample_images_max_mb: float = 200.0
    """Size cap of <run>/images/ in MB; past it, logged turns reference no image."""
    report_to: list[Reporter] = field(default_factory=lambda: ["tensorboard"])
    """Where metrics go besides metrics.jsonl: 'tensorboard' (<run>/tensorboard/) and/or 'wandb' (metrics, the
    config and a table of sampled episodes with images; pip install 'mmrl-vlm[wandb]'; WANDB_* variables apply)."""
    sft_steps: int = 0
    """Supervised warm-start steps on info['expert_action'] before RL (cold start); 0 skips it."""
    sft_batch_size: int = 32
    """Examples per supervised warm-start step."""
    sft_lr: float | None = None
    """Learning rate of the warm-start steps; None uses optim.lr."""
    sft_target: WarmStartTarget = "expert"
    """Warm-start labels: 'expert' (info['expert_action'] at every step of whole expert rollouts: teaches the task
    itself) or 'random_admissible' (a random entry of info['admissible_actions'] at the first step: teaches the
    answer format only, so RL starts from chance)."""
    sft_beta: float = 1.0
    """Expert rollouts of the warm-start ('expert'): the chance that the expert, not the policy, acts at a step
    (DAgger's mixture; every visited state is labelled with the expert's response). 1.0: pure expert episodes."""
    demos: str | None = None
    """A JSONL file of demonstrations (mmrl/demos.py's schema; `mmrl demos` writes one): the warm-start trains on
    its turns instead of env expert rollouts."""
    deepspeed: str | None = None
    """DeepSpeed JSON config (e.g. configs/deepspeed/zero2.json) to train through a DeepSpeed engine."""
    torch_threads: int = 1
    """torch intra-op threads on CPU (1 is fastest when another process shares the cores)."""
    progress: bool = True
    """Show a rich progress bar."""
    max_nonfinite_steps: int = 3
    """Stop the run after this many steps in a row whose update was skipped for a non-finite loss or gradient
    (metric train/skipped_nonfinite); 0 never stops."""


@dataclass
class EvalConfig:
    episodes: int = 64
    """Held-out episodes per env (reset seeds disjoint from training's)."""
    samples_per_episode: int = 1
    """Responses per held-out episode; > 1 enables pass@k."""
    temperature: float = 0.0
    """Sampling temperature in evaluation; 0 is greedy."""
    pass_k: list[int] = field(default_factory=lambda: [1])
    """k values reported as pass@k (each <= samples_per_episode); with samples_per_episode = n > 1 the curve
    k = 1, 2, 4, ... n is reported too (n up to 64 is practical)."""
    cot_judge: CotJudge = "none"
    """CoT-pass@k (eval/cot_pass@k: answer and reasoning both right): 'none', 'rule' (every equation in the
    thought must hold) or 'corrector' (the verdict of the model named by gtr.corrector / gtr.model)."""
    succ_k: list[int] = field(default_factory=lambda: [1, 3, 5])
    """k values reported as succ@k: share of episodes first successful within k turns (UFO; multi-turn envs)."""
    seed_offset: int = 1_000_000
    """Held-out reset seeds start here; training seeds stay below it."""


def env_names(specs: list[EnvSpec]) -> list[str]:
    """Metric labels of the env specs: each spec's name, else its id, made unique with #<index> when ids repeat."""
    ids = [s.id for s in specs]
    return [s.name or (s.id if ids.count(s.id) == 1 else f"{s.id}#{i}") for i, s in enumerate(specs)]


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
    gtr: GTRConfig = field(default_factory=GTRConfig)
    """Guided thought reinforcement: thought correction, thought cloning, DAgger."""


# ----------------------------------------------------------------------------------------------------------
# Loading: YAML -> dict -> overrides -> dataclasses -> validation


class UserError(ValueError):
    """A mistake the user can fix (a config, a path, a data file): `mmrl` prints its message as one line and
    exits with status 2. Anything else is a bug and shows its traceback."""


class ConfigError(UserError):
    """A config file, override or value is wrong; the message names the key and its dotted place."""


T = TypeVar("T")


class _YamlLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that also reads `1e-4` as a float.

    PyYAML implements YAML 1.1, whose float pattern needs a dot (`1.0e-4`), so `lr: 1e-4` would load as the
    string '1e-4'. This loader adds YAML 1.2's exponent form; everything else is SafeLoader's behaviour.
    """


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    """YAML text (a file's or an override's value) as plain data: the one YAML parser of mmrl, so `5e-4` is the
    same float in a train config, a mixture config, an override and `mmrl play`'s kwargs."""
    return yaml.load(text, Loader=_YamlLoader)  # a SafeLoader subclass: no arbitrary objects


def read_yaml(path: str | os.PathLike[str], what: str = "config file") -> dict[str, Any]:
    """The mapping a YAML file holds ({} for an empty file); ConfigError naming the file when it is missing, is
    not YAML or holds something else than a mapping."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = parse_yaml(fh)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {os.fspath(path)}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {os.fspath(path)} is a directory, not a YAML file") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {os.fspath(path)} is not valid YAML: {error}") from None
    if data is None:  # an empty file
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} {os.fspath(path)} must hold a mapping at the top level, got {type(data).__name__}")
    return dict(data)


def _place(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({tp.__name__})"
    if _is_union(tp):
        return " or ".join(_type_name(arg) for arg in typing.get_args(tp))
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(tp)))
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _type_error(place: str, tp: Any, value: Any) -> ConfigError:
    return ConfigError(f"'{place}' expects {_type_name(tp)}, got {type(value).__name__} {_short_repr(value)}")


def _convert(tp: Any, value: Any, place: str) -> Any:
    """Check `value` against the annotation `tp` and build it (recursively for dataclasses and containers)."""
    if tp is Any:
        return copy.deepcopy(value)
    if typing.get_origin(tp) is Literal:  # a choice: checked here, the one place choices are checked
        choices = typing.get_args(tp)
        if value not in choices:
            close = difflib.get_close_matches(value, [str(c) for c in choices], n=1) if isinstance(value, str) else []
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"'{place}' must be one of {', '.join(map(str, choices))}; got {value!r}{hint}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise _type_error(place, tp, value)
        return from_dict(tp, value, place)
    if _is_union(tp):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise _type_error(place, tp, value)
        candidates = [arg for arg in args if arg is not type(None)]
        if len(candidates) == 1:
            try:
                return _convert(candidates[0], value, place)
            except ConfigError as error:
                # Name the whole union (e.g. 'str or None') rather than the branch that was tried.
                if str(error).startswith(f"'{place}' expects "):
                    raise _type_error(place, tp, value) from None
                raise
        for arg in candidates:
            try:
                return _convert(arg, value, place)
            except ConfigError:
                continue
        raise _type_error(place, tp, value)
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _type_error(place, tp, value)
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [_convert(item_tp, item, f"{place}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _type_error(place, tp, value)
        key_tp, value_tp = typing.get_args(tp) or (Any, Any)
        out = {}
        for key, item in value.items():
            if key_tp is str and not isinstance(key, str):
                raise ConfigError(f"'{place}' keys must be strings, got {type(key).__name__} {key!r}")
            out[key] = _convert(value_tp, item, _place(place, key))
        return out
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(place, tp, value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(place, tp, value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(place, tp, value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _type_error(place, tp, value)
        return value
    raise TypeError(f"config annotation {tp!r} at '{place}' is not supported by mmrl.config")


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build the dataclass `cls` from plain data (as loaded from YAML), strictly.

    Nested dataclasses, lists and dicts are built recursively. An unknown key raises ConfigError naming its
    dotted place and the closest field name (`unknown key 'rollout.grup_size' (did you mean 'group_size'?)`);
    a missing required field, or a value of the wrong type, raises ConfigError naming its place. `where` is
    the place of `data` itself (e.g. 'envs[0]'), used only in messages.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"from_dict expects a dataclass type, got {cls!r}")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"'{where or '<config>'}' expects a mapping ({cls.__name__}), got "
            f"{type(data).__name__} {_short_repr(data)}"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(fields)}"
            raise ConfigError(f"unknown key '{_place(where, key)}' ({hint})")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], _place(where, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key '{_place(where, name)}'")
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain, YAML-able data (dicts, lists, scalars) for a config dataclass; `from_dict` inverts it."""
    return dataclasses.asdict(cfg)


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two `to_dict` configs (nested dicts compared key by key)."""
    keys = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return keys


def _parse_index(segment: str) -> int | None:
    return int(segment) if re.fullmatch(r"-?[0-9]+", segment) else None


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of `data` with each `dotted.key=value` override applied, in order.

    Values are parsed as YAML (`train.total_steps=10` is an int, `model.path=null` is None,
    `envs='[{id: mypkg:MyEnv-v0}]'` is a list of mappings, `optim.lr=1e-4` is a float). A numeric segment
    indexes a list (`envs.0.kwargs.style=think`); missing intermediate mappings are created. Keys are not
    checked here: `from_dict` reports a misspelt key afterwards exactly as it would for the YAML file.
    """
    out = copy.deepcopy(dict(data))
    for override in overrides:
        key, sep, raw = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"malformed override {override!r}: expected dotted.key=value")
        segments = key.split(".")
        if any(not s for s in segments):
            raise ConfigError(f"malformed override {override!r}: empty key segment")
        try:
            value = parse_yaml(raw)
        except yaml.YAMLError as error:
            raise ConfigError(f"override {override!r}: value is not valid YAML ({error})") from None
        node: Any = out
        for depth, segment in enumerate(segments):
            last = depth == len(segments) - 1
            here = ".".join(segments[: depth + 1])
            if isinstance(node, list):
                index = _parse_index(segment)
                if index is None:
                    raise ConfigError(
                        f"override {override!r}: '{'.'.join(segments[:depth]) or key}' is a list; "
                        f"index it with a number, not {segment!r}"
                    )
                if not -len(node) <= index < len(node):
                    raise ConfigError(
                        f"override {override!r}: index {index} is out of range for "
                        f"'{'.'.join(segments[:depth])}' (length {len(node)})"
                    )
                if last:
                    node[index] = value
                else:
                    if node[index] is None:
                        node[index] = {}
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[segment] = value
                else:
                    if node.get(segment) is None:
                        node[segment] = {}
                    node = node[segment]
            else:
                parent = ".".join(segments[:depth])
                raise ConfigError(
                    f"override {override!r}: cannot set '{here}' because '{parent}' is "
                    f"{type(node).__name__} {_short_repr(node)}, not a mapping or list"
                )
    return out


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `update` merged in: mappings merge key by key, anything else (lists too) replaces."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(out.get(key), dict) and isinstance(value, Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | os.PathLike[str] | None, overrides: Iterable[str] = ()) -> Config:
    """Read a YAML config (None: all defaults), apply `key=value` overrides, build and validate a Config."""
    return config_from_data({} if path is None else read_yaml(path), overrides)


def config_from_data(data: Mapping[str, Any], overrides: Iterable[str] = (), where: str = "") -> Config:
    """A validated Config from plain data (as a YAML file holds it) and `key=value` overrides.

    The data is merged over the defaults before overrides are applied, so an override can reach into a section
    or list the data leaves out (`envs.0.kwargs.split=test` with the default envs). `where` prefixes the places
    named in errors (e.g. 'base' for a mixture search's base config).
    """
    merged = apply_overrides(_deep_merge(to_dict(Config()), data), list(overrides))
    if isinstance(merged.get("algo"), Mapping) and "action_marker" in merged["algo"]:  # a run saved before 2026-11-30
        raise ConfigError(f"'{_place(where, 'algo.action_marker')}' was removed: each env's response format "
                          "(mmrl.formats) says where the action starts; delete the key")
    cfg = from_dict(Config, merged, where)
    try:
        validate(cfg)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}" if where else str(error)) from None
    return cfg


def _check_choice(errors: list[str], place: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        errors.append(f"'{place}' must be one of {', '.join(choices)}; got {value!r}{hint}")


def validate(cfg: Config) -> None:
    """Check value ranges and choices; raise one ConfigError listing every problem, each naming its key."""
    errors: list[str] = []

    def need(ok: bool, place: str, rule: str, value: Any) -> None:
        if not ok:
            errors.append(f"'{place}' must be {rule}; got {value!r}")

    need(cfg.model.tiny_hidden_size > 0 and cfg.model.tiny_hidden_size % 32 == 0, "model.tiny_hidden_size",
         "a positive multiple of 32 (attention heads of size 32)", cfg.model.tiny_hidden_size)
    if cfg.model.attn_implementation == "flash_attention_2" and cfg.model.dtype == "float32":
        errors.append("'model.attn_implementation' flash_attention_2 needs model.dtype bfloat16 or float16; got float32")
    need(cfg.rollout.vllm.kv_cache_gib >= 1, "rollout.vllm.kv_cache_gib", ">= 1", cfg.rollout.vllm.kv_cache_gib)
    need(0 < cfg.rollout.vllm.gpu_memory_utilization <= 1, "rollout.vllm.gpu_memory_utilization", "in (0, 1]",
         cfg.rollout.vllm.gpu_memory_utilization)
    for name in ("max_model_len", "max_images_per_prompt", "tensor_parallel_size"):
        value = getattr(cfg.rollout.vllm, name)
        need(value > 0, f"rollout.vllm.{name}", "> 0", value)
    from mmrl.algos.registry import ALGORITHMS  # names only: no model code is imported

    _check_choice(errors, "algo.name", cfg.algo.name, tuple(ALGORITHMS))
    if cfg.eval.cot_judge == "corrector" and cfg.gtr.corrector == "none":
        errors.append("'eval.cot_judge' corrector needs gtr.corrector (oracle, openai or hf) to name the judge")
    prof_model = cfg.algo.name == "prof" and cfg.algo.prof_scorer == "corrector"
    if cfg.gtr.corrector != "none" and cfg.algo.name != "ppo" and not prof_model:
        errors.append("'gtr.corrector' needs algo.name: ppo (GTR trains alongside PPO) or prof with algo.prof_scorer: "
                      "corrector")
    if prof_model and cfg.gtr.corrector == "none":
        errors.append("'algo.prof_scorer' corrector needs gtr.corrector (oracle, openai or hf) to name the scorer")
    for name in ("prof_drop", "verify_per_group"):
        need(getattr(cfg.algo, name) >= 0, f"algo.{name}", ">= 0", getattr(cfg.algo, name))
    need(cfg.algo.verify_samples > 0, "algo.verify_samples", "> 0", cfg.algo.verify_samples)
    need(0 <= cfg.algo.demo_mix < 1, "algo.demo_mix", "in [0, 1)", cfg.algo.demo_mix)
    need(cfg.algo.explore_exponent >= 0, "algo.explore_exponent", ">= 0", cfg.algo.explore_exponent)
    unknown = set(cfg.algo.self_reward_envs) - set(env_names(cfg.envs))
    if unknown:
        errors.append(f"'algo.self_reward_envs' names no env of this config: {sorted(unknown)}")
    if cfg.gtr.corrector in ("openai", "hf") and not cfg.gtr.model:
        errors.append(f"'gtr.model' must name the corrector model for gtr.corrector: {cfg.gtr.corrector}")
    if cfg.algo.name == "dapo" and cfg.algo.kl_coef > 0:
        errors.append(f"'algo.kl_coef' must be 0 for algo.name: dapo (DAPO uses no KL); got {cfg.algo.kl_coef!r}")
    if cfg.algo.name in ("rloo",) and cfg.rollout.group_size < 2:
        errors.append(f"'rollout.group_size' must be >= 2 for algo.name: rloo (leave-one-out baseline); got "
                      f"{cfg.rollout.group_size!r}")
    need(cfg.algo.divergence_coef >= 0, "algo.divergence_coef", ">= 0", cfg.algo.divergence_coef)
    if cfg.algo.divergence != "none":
        need(cfg.algo.divergence_coef > 0, "algo.divergence_coef", f"> 0 with algo.divergence: {cfg.algo.divergence}",
             cfg.algo.divergence_coef)
    need(cfg.algo.divergence_batch > 0, "algo.divergence_batch", "> 0", cfg.algo.divergence_batch)
    need(cfg.algo.reference_reset_every >= 0, "algo.reference_reset_every", ">= 0", cfg.algo.reference_reset_every)
    if cfg.algo.reference_reset_every > 0 and cfg.algo.kl_coef <= 0 and cfg.algo.divergence == "none":
        errors.append("'algo.reference_reset_every' needs a reference policy: set algo.kl_coef > 0 or algo.divergence")
    if cfg.algo.reference_reset_every > 0 and cfg.train.deepspeed:
        errors.append("'algo.reference_reset_every' clears the optimiser's moments, which mmrl does not do under "
                      "DeepSpeed (train.deepspeed)")
    if cfg.algo.overlong_buffer is not None:
        need(0 <= cfg.algo.overlong_buffer <= cfg.rollout.max_new_tokens, "algo.overlong_buffer",
             f"in [0, rollout.max_new_tokens] = [0, {cfg.rollout.max_new_tokens}] or null", cfg.algo.overlong_buffer)

    for place, value in [
        ("rollout.group_size", cfg.rollout.group_size),
        ("rollout.groups_per_step", cfg.rollout.groups_per_step),
        ("rollout.max_new_tokens", cfg.rollout.max_new_tokens),
        ("rollout.max_episode_steps", cfg.rollout.max_episode_steps),
        ("rollout.generation_batch_size", cfg.rollout.generation_batch_size),
        ("algo.ppo_epochs", cfg.algo.ppo_epochs),
        ("algo.minibatch_size", cfg.algo.minibatch_size),
        ("optim.grad_accum_steps", cfg.optim.grad_accum_steps),
        ("train.total_steps", cfg.train.total_steps),
        ("train.sft_batch_size", cfg.train.sft_batch_size),
        ("rollout.env_workers", cfg.rollout.env_workers),
        ("rollout.sync_every", cfg.rollout.sync_every),
        ("train.torch_threads", cfg.train.torch_threads),
        ("eval.samples_per_episode", cfg.eval.samples_per_episode),
        ("gtr.timeout_s", cfg.gtr.timeout_s),
        ("gtr.workers", cfg.gtr.workers),
    ]:
        need(value > 0, place, "> 0", value)
    for place, value in [
        ("model.lora.r", cfg.model.lora.r),
        ("rollout.history_turns", cfg.rollout.history_turns),
        ("rollout.temperature", cfg.rollout.temperature),
        ("algo.clip_low", cfg.algo.clip_low),
        ("algo.clip_high", 0.0 if cfg.algo.clip_high is None else cfg.algo.clip_high),
        ("algo.max_resample_rounds", cfg.algo.max_resample_rounds),
        ("algo.kl_coef", cfg.algo.kl_coef),
        ("optim.lr", cfg.optim.lr),
        ("algo.entropy_coef", cfg.algo.entropy_coef),
        ("optim.weight_decay", cfg.optim.weight_decay),
        ("optim.max_grad_norm", cfg.optim.max_grad_norm),
        ("optim.warmup_steps", cfg.optim.warmup_steps),
        ("train.eval_every", cfg.train.eval_every),
        ("train.save_every", cfg.train.save_every),
        ("train.keep_checkpoints", cfg.train.keep_checkpoints),
        ("train.max_nonfinite_steps", cfg.train.max_nonfinite_steps),
        ("train.log_samples", cfg.train.log_samples),
        ("train.sample_images_per_step", cfg.train.sample_images_per_step),
        ("train.sample_images_max_mb", cfg.train.sample_images_max_mb),
        ("train.sft_steps", cfg.train.sft_steps),
        ("eval.episodes", cfg.eval.episodes),
        ("eval.temperature", cfg.eval.temperature),
        ("eval.seed_offset", cfg.eval.seed_offset),
        ("algo.value_coef", cfg.algo.value_coef),
        ("algo.thought_coef", cfg.algo.thought_coef),
        ("gtr.retries", cfg.gtr.retries),
        ("gtr.cloning_coef", cfg.gtr.cloning_coef),
        ("gtr.buffer_batch", cfg.gtr.buffer_batch),
    ]:
        need(value >= 0, place, ">= 0", value)
    need(0.0 < cfg.rollout.top_p <= 1.0, "rollout.top_p", "in (0, 1]", cfg.rollout.top_p)
    need(0.0 <= cfg.train.sft_beta <= 1.0, "train.sft_beta", "in [0, 1]", cfg.train.sft_beta)
    if cfg.train.demos is not None and cfg.train.sft_target != "expert":
        errors.append("'train.demos' labels the warm-start with the file's responses: train.sft_target must be "
                      "'expert'")
    need(0.0 <= cfg.algo.gamma <= 1.0, "algo.gamma", "in [0, 1]", cfg.algo.gamma)
    need(0.0 <= cfg.algo.gae_lambda <= 1.0, "algo.gae_lambda", "in [0, 1]", cfg.algo.gae_lambda)
    if cfg.rollout.tis_cap is not None:
        need(cfg.rollout.tis_cap >= 1.0, "rollout.tis_cap", ">= 1 or null", cfg.rollout.tis_cap)
    if cfg.algo.value_clip is not None:
        need(cfg.algo.value_clip > 0, "algo.value_clip", "> 0 or null", cfg.algo.value_clip)
    if cfg.rollout.env_memory_mb is not None:
        need(cfg.rollout.env_memory_mb > 0, "rollout.env_memory_mb", "> 0 or null", cfg.rollout.env_memory_mb)
    need(
        cfg.rollout.env_step_timeout_s > 0,
        "rollout.env_step_timeout_s",
        "> 0",
        cfg.rollout.env_step_timeout_s,
    )
    need(
        cfg.algo.clip_low < 1.0,
        "algo.clip_low",
        "< 1 (the ratio's lower bound is 1 - clip_low)",
        cfg.algo.clip_low,
    )
    need(0.0 <= cfg.model.lora.dropout < 1.0, "model.lora.dropout", "in [0, 1)", cfg.model.lora.dropout)
    need(
        len(cfg.optim.betas) == 2 and all(0.0 <= b < 1.0 for b in cfg.optim.betas),
        "optim.betas",
        "two numbers in [0, 1)",
        cfg.optim.betas,
    )
    if cfg.algo.minibatch_size > 0 and cfg.optim.grad_accum_steps > 0:
        need(
            cfg.algo.minibatch_size % cfg.optim.grad_accum_steps == 0,
            "algo.minibatch_size",
            f"divisible by optim.grad_accum_steps ({cfg.optim.grad_accum_steps})",
            cfg.algo.minibatch_size,
        )

    need(len(cfg.eval.pass_k) > 0, "eval.pass_k", "non-empty", cfg.eval.pass_k)
    for i, k in enumerate(cfg.eval.pass_k):
        need(
            1 <= k <= cfg.eval.samples_per_episode,
            f"eval.pass_k[{i}]",
            f"in [1, eval.samples_per_episode] = [1, {cfg.eval.samples_per_episode}]",
            k,
        )

    for i, k in enumerate(cfg.eval.succ_k):
        need(isinstance(k, int) and k >= 1, f"eval.succ_k[{i}]", "an int >= 1", k)

    need(len(cfg.envs) > 0, "envs", "a non-empty list", cfg.envs)
    runner_owned = {"min_pixels": ("model.min_pixels", cfg.model.min_pixels),
                    "max_pixels": ("model.max_pixels", cfg.model.max_pixels),
                    "max_steps": ("rollout.max_episode_steps", cfg.rollout.max_episode_steps),
                    "history_turns": ("rollout.history_turns", cfg.rollout.history_turns)}
    for i, env in enumerate(cfg.envs):
        need(bool(env.id.strip()), f"envs[{i}].id", "a non-empty gymnasium id", env.id)
        for name, (owner, value) in runner_owned.items():  # one source: the runner offers these to envs
            for where, kwargs in (("kwargs", env.kwargs), ("eval_kwargs", env.eval_kwargs)):
                if name in kwargs and kwargs[name] != value:
                    errors.append(f"'envs[{i}].{where}.{name}' ({kwargs[name]!r}) differs from {owner} ({value!r}); "
                                  f"set {owner} only: envs that take '{name}' get it")
        need(env.weight > 0, f"envs[{i}].weight", "> 0", env.weight)

    errors += ineffective_settings(cfg)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors) if len(errors) > 1 else errors[0])


def ineffective_settings(cfg: Config) -> list[str]:
    """One message per setting that has no effect under the rest of the config (changed from its default while
    the algorithm, KL penalty, corrector or LoRA that would read it is off): a value that silently does nothing is
    a mistake to name, not to ignore. (Switching the warm-start off with train.sft_steps=0, or a tiny model's
    sizes under model.path, stay allowed: a config is often reused that way from the command line.)"""
    problems = []

    def unused(section: Any, place: str, names: Iterable[str], why: str) -> None:
        default = type(section)()
        for name in names:
            if getattr(section, name) != getattr(default, name):
                problems.append(f"'{place}.{name}' has no effect {why}; remove it")

    from mmrl.algos.registry import ALGORITHM_FIELDS

    readers: dict[str, list[str]] = {}
    for name, fields in ALGORITHM_FIELDS.items():
        for field_name in fields:
            readers.setdefault(field_name, []).append(name)
    for field_name, names in readers.items():
        if cfg.algo.name not in names:
            unused(cfg.algo, "algo", (field_name,), f"under algo.name: {cfg.algo.name} (read by {', '.join(names)})")
    if cfg.algo.name == "ppo":
        unused(cfg.algo, "algo", ("advantage",), "under algo.name: ppo (PPO's advantages are GAE)")
    if cfg.algo.kl_coef == 0:
        unused(cfg.algo, "algo", ("kl_estimator",), "with algo.kl_coef: 0")
    gtr = {"oracle": ("model", "base_url", "api_key_env", "send_image", "retries", "temperature", "max_new_tokens"),
           "openai": ("max_new_tokens",), "hf": ("base_url", "api_key_env", "send_image", "retries")}
    if cfg.gtr.corrector == "none":
        unused(cfg.gtr, "gtr", [f.name for f in dataclasses.fields(GTRConfig) if f.name != "corrector"],
               "with gtr.corrector: none")
    else:
        unused(cfg.gtr, "gtr", gtr[cfg.gtr.corrector], f"with gtr.corrector: {cfg.gtr.corrector}")
    if cfg.model.lora.r == 0:
        unused(cfg.model.lora, "model.lora", ("alpha", "dropout", "target_modules"), "with model.lora.r: 0")
    if cfg.rollout.env_backend == "thread":
        unused(cfg.rollout, "rollout", ("env_memory_mb",), "with rollout.env_backend: thread (a thread's memory "
               "cannot be told apart from the trainer's)")
    return problems


def save_config(cfg: Config, path: str | os.PathLike[str]) -> None:
    """Write `cfg` as YAML (fields in declaration order); `load_config(path)` reads back an equal Config."""
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(to_dict(cfg), fh, sort_keys=False, allow_unicode=True)
