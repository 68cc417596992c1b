"""Build or load the policy: a tiny random model (tests, demo) or a real checkpoint from a local directory.

The same code serves both: a tiny model is saved with `save_pretrained` into the run and loaded back through the
path branch, exactly as `model.path: /models/Qwen2.5-VL-3B-Instruct` would be.
"""

from __future__ import annotations

import importlib.util
import os

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer
from transformers.utils import logging as hf_logging

from mmrl.config import ConfigError, ModelConfig
from mmrl.models.policy import Policy
from mmrl.models.processor import VLProcessor
from mmrl.models.tiny import build_tiny_text, build_tiny_vl
from mmrl.models.tokenizer import train_tokenizer
from mmrl.models.value_head import detached_value_head, save_value_head

VL_MODEL_TYPES = {"qwen2_5_vl", "qwen2_vl", "qwen3_vl"}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json")
"""Files `from_pretrained` reads weights from."""
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

hf_logging.disable_progress_bar()


def build_tiny_policy(cfg: ModelConfig, corpus: list[str]) -> Policy:
    """A random tiny model whose tokenizer is trained on `corpus` (the envs' own prompt texts), in `model.dtype` and
    with `model.attn_implementation`, as a checkpoint loaded from `model.path` would be."""
    check_attention_available(cfg.attn_implementation)
    tokenizer = train_tokenizer(corpus, cfg.tiny_vocab_size)
    processor = None
    if cfg.tiny == "vl":
        model, processor = build_tiny_vl(
            tokenizer, cfg.tiny_hidden_size, cfg.tiny_layers, cfg.seed, cfg.min_pixels, cfg.max_pixels
        )
    else:
        model = build_tiny_text(tokenizer, cfg.tiny_hidden_size, cfg.tiny_layers, cfg.seed)
    model.set_attn_implementation(cfg.attn_implementation)
    return Policy(model.to(_DTYPES[cfg.dtype]), processor, tokenizer, is_vl=processor is not None)


def load_pretrained_policy(path: str, cfg: ModelConfig) -> Policy:
    """Load a Hugging Face checkpoint folder (VL or text-only), or raise naming the path that is missing."""
    if not os.path.isdir(path):
        raise ConfigError(f"model.path: no such directory: {path!r}")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ConfigError(f"model.path: {path!r} has no config.json (not a save_pretrained folder)")
    check_attention_available(cfg.attn_implementation)
    try:
        model_type = AutoConfig.from_pretrained(path).model_type
    except (OSError, ValueError) as err:  # not JSON, or no model_type transformers knows
        raise ConfigError(f"model.path: {os.path.join(path, 'config.json')} cannot be read as a model config: "
                          f"{' '.join(str(err).split())[:300]}") from None
    if not any(name.endswith(WEIGHT_SUFFIXES) for name in os.listdir(path)):
        raise ConfigError(f"model.path: {path!r} holds no weights (no *.safetensors or *.bin file)")
    kwargs = dict(dtype=_DTYPES[cfg.dtype], attn_implementation=cfg.attn_implementation)
    if model_type in VL_MODEL_TYPES:
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
        processor = VLProcessor.load(path, cfg.min_pixels, cfg.max_pixels)
        return Policy(model, processor, processor.tokenizer, is_vl=True)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    return Policy(model, None, AutoTokenizer.from_pretrained(path, padding_side="left"), is_vl=False)


def check_attention_available(name: str) -> None:
    """flash_attention_2 needs the flash-attn package and a CUDA GPU: without them, one line naming the key rather
    than an ImportError from deep inside `from_pretrained`."""
    if name != "flash_attention_2":
        return
    missing = [why for why, ok in [("the flash-attn package is not installed", importlib.util.find_spec("flash_attn")),
                                   ("no CUDA GPU is visible", torch.cuda.is_available())] if not ok]
    if missing:
        raise ConfigError(f"'model.attn_implementation' flash_attention_2 cannot run here: {' and '.join(missing)}; "
                          "use sdpa (the default)")


def prepare_for_training(policy: Policy, cfg: ModelConfig, adapter_path: str | None = None) -> Policy:
    """Attach LoRA adapters (new, or trainable ones loaded from a checkpoint) and gradient checkpointing."""
    if adapter_path is not None or cfg.lora.r > 0:
        from peft import LoraConfig, PeftModel, get_peft_model

        if adapter_path is not None:
            policy.model = PeftModel.from_pretrained(policy.model, adapter_path, is_trainable=True)
        else:
            lora = LoraConfig(
                r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM",
            )
            policy.model = get_peft_model(policy.model, lora)
    if cfg.gradient_checkpointing:
        policy.model.gradient_checkpointing_enable()
    return policy


def base_model_path(cfg: ModelConfig, run_dir: str | os.PathLike) -> str:
    """Where a run's initial weights live: `model.path`, or the tiny model saved in `<run>/base_model`."""
    return cfg.path or os.path.join(run_dir, "base_model")


def load_run_policy(cfg: ModelConfig, base: str, checkpoint_dir: str | os.PathLike | None = None) -> Policy:
    """A run's policy ready to train: its base weights, or one of its checkpoints (full weights, or a LoRA adapter
    over the base)."""
    adapter, source = None, base
    if checkpoint_dir is not None:
        if os.path.isfile(os.path.join(checkpoint_dir, "adapter_config.json")):
            adapter = str(checkpoint_dir)
        else:
            source = str(checkpoint_dir)
    return prepare_for_training(load_pretrained_policy(source, cfg), cfg, adapter)


def save_policy(policy: Policy, directory: str) -> None:
    """`save_pretrained` of the model (or its LoRA adapter) and of the processor/tokenizer, as safetensors; a PPO
    value head goes to its own file beside them."""
    with detached_value_head(policy.model) as head:
        policy.model.save_pretrained(directory, safe_serialization=True)
    if head is not None:
        save_value_head(head, directory)
    (policy.processor or policy.tokenizer).save_pretrained(directory)
