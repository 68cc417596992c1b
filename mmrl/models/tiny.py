"""Tiny random-initialised Qwen models built from a config: the default policy in tests and the demo.

No hub download: the tokenizer is trained locally (`mmrl.models.tokenizer`), the weights are random from a seed.
The VL model has the real Qwen2.5-VL architecture (vision tower, patch merger, M-RoPE), only small.
"""

from __future__ import annotations

import torch
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from mmrl.models.processor import VLProcessor, make_image_processor

HEAD_DIM = 32
"""Attention head size of the tiny models: the smallest that vLLM's CPU attention kernels accept."""


def _text_dims(hidden: int, layers: int, vocab: int) -> dict:
    if hidden % HEAD_DIM:
        raise ValueError(f"model.tiny_hidden_size must be a multiple of {HEAD_DIM}; got {hidden}")
    heads = hidden // HEAD_DIM
    return dict(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    )


def build_tiny_vl(
    tokenizer: PreTrainedTokenizerFast,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> tuple[Qwen2_5_VLForConditionalGeneration, VLProcessor]:
    """A Qwen2.5-VL with a 2-block vision tower and a `layers`-deep language model of width `hidden`."""
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")}
    head_dim = HEAD_DIM
    # M-RoPE splits head_dim/2 rotary frequencies over (time, height, width); the sections must sum to it.
    half = head_dim // 2
    mrope = [half - 2 * (half // 4), half // 4, half // 4]
    text = _text_dims(hidden, layers, len(tokenizer)) | _special_ids(tokenizer)
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope}
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(
            depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=hidden,
            patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[1],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        **_special_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    processor = VLProcessor(image_processor=make_image_processor(min_pixels, max_pixels), tokenizer=tokenizer)
    return model, processor


def build_tiny_text(
    tokenizer: PreTrainedTokenizerFast, hidden: int = 64, layers: int = 2, seed: int = 0
) -> Qwen2ForCausalLM:
    """A text-only Qwen2 decoder of width `hidden` sharing the local tokenizer."""
    config = Qwen2Config(**_text_dims(hidden, layers, len(tokenizer)), **_special_ids(tokenizer))
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(config)


def _special_ids(tokenizer: PreTrainedTokenizerFast) -> dict:
    return dict(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
