"""Qwen2.5-VL-3B-Instruct's shapes as a transformers config (random weights, no download), and the model FLOPs of
a forward pass and of a training step, counted from the shapes.

The sizes are the published config.json of Qwen/Qwen2.5-VL-3B-Instruct: language model hidden 2048, 36 layers,
16 query / 2 key-value heads of 128, MLP 11008, vocabulary 151936, tied embeddings, M-RoPE sections [16, 24, 24];
vision tower 32 blocks of width 1280 (16 heads, MLP 3420, full attention in blocks 7, 15, 23, 31 and 112-pixel
windows elsewhere), 14-pixel patches, 2x2 merge into width 2048. 3,754,622,976 parameters in all.

FLOPs count every matrix multiply as 2 * m * n * k (the convention of PaLM's MFU, Chowdhery et al. 2022, App. B):
linear layers, the patch embedding, the attention products QK^T and AV, and the LM head on the rows whose logits
are kept. Norms, rotary embeddings, softmax and activations are left out. Causal text attention counts the
query-key pairs each query actually sees (L(L+1)/2 per sequence); vision attention is bidirectional, inside each
window or over the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import Qwen2_5_VLConfig

QWEN2_5_VL_3B = dict(
    hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
    vocab_size=151936, max_position_embeddings=128000, rms_norm_eps=1e-6, tie_word_embeddings=True,
    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
)
QWEN2_5_VL_3B_VISION = dict(
    depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048, patch_size=14,
    spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31],
    in_channels=3, hidden_act="silu",
)
QWEN2_5_VL_3B_PARAMETERS = 3_754_622_976


def qwen2_5_vl_3b_config(text_layers: int = 36, vision_depth: int = 32, token_ids: dict[str, int] | None = None
                         ) -> Qwen2_5_VLConfig:
    """Qwen2.5-VL-3B's config, optionally with fewer language-model layers or vision blocks (a cheap smoke test
    of the same widths). `token_ids` maps image_token_id, video_token_id, vision_start_token_id,
    vision_end_token_id, eos_token_id, pad_token_id to a local tokenizer's ids (the shapes do not depend on them)."""
    vision = dict(QWEN2_5_VL_3B_VISION, depth=vision_depth)
    vision["fullatt_block_indexes"] = [i for i in vision["fullatt_block_indexes"] if i < vision_depth] or [vision_depth - 1]
    ids = dict(image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
               vision_end_token_id=151653, eos_token_id=151645, pad_token_id=151643) | (token_ids or {})
    text_ids = {k: ids[k] for k in ("eos_token_id", "pad_token_id")}
    return Qwen2_5_VLConfig(text_config=dict(QWEN2_5_VL_3B, num_hidden_layers=text_layers, **text_ids),
                            vision_config=vision, tie_word_embeddings=True, **ids)


@dataclass
class Batch:
    """The shape of one training micro-batch: `sequences` rows of `prompt_len + completion_len` tokens, no padding;
    each distinct prompt (`sequences / group_size` of them) has one image of `image_grid` = (t, h, w) patches,
    which the vision tower encodes once for its whole group."""

    sequences: int
    prompt_len: int
    completion_len: int
    image_grid: tuple[int, int, int]
    group_size: int = 1


def _linear(tokens: int, fan_in: int, fan_out: int) -> int:
    return 2 * tokens * fan_in * fan_out


def _window_patch_counts(config: Qwen2_5_VLConfig, grid: tuple[int, int, int]) -> list[int]:
    """Patches in each attention window of one image: windows of window_size pixels, in whole merged tokens."""
    vision = config.vision_config
    t, h, w = grid
    merge = vision.spatial_merge_size
    per_side = vision.window_size // merge // vision.patch_size  # merged tokens along a window's side

    def sides(n: int) -> list[int]:
        full, rest = divmod(n // merge, per_side)
        return [per_side] * full + ([rest] if rest else [])

    return [a * b * merge * merge for _ in range(t) for a in sides(h) for b in sides(w)]


def vision_forward_flops(config: Qwen2_5_VLConfig, grid: tuple[int, int, int]) -> int:
    """One image through the vision tower and patch merger."""
    v = config.vision_config
    patches = grid[0] * grid[1] * grid[2]
    width, mlp = v.hidden_size, v.intermediate_size
    flops = _linear(patches, v.in_channels * v.temporal_patch_size * v.patch_size ** 2, width)  # patch embedding
    per_block = _linear(patches, width, 3 * width) + _linear(patches, width, width) + 3 * _linear(patches, width, mlp)
    windowed_pairs = sum(n * n for n in _window_patch_counts(config, grid))
    for block in range(v.depth):
        pairs = patches * patches if block in v.fullatt_block_indexes else windowed_pairs
        flops += per_block + 2 * 2 * width * pairs  # QK^T and AV over every head
    merged, wide = patches // v.spatial_merge_size ** 2, width * v.spatial_merge_size ** 2
    return flops + _linear(merged, wide, wide) + _linear(merged, wide, v.out_hidden_size)


def text_layers_forward_flops(config: Qwen2_5_VLConfig, sequences: int, length: int, causal: bool = True) -> int:
    """The decoder layers on `sequences` rows of `length` tokens (no LM head)."""
    t = config.text_config
    head_dim = t.hidden_size // t.num_attention_heads
    q, kv = t.num_attention_heads * head_dim, t.num_key_value_heads * head_dim
    tokens = sequences * length
    linear = (_linear(tokens, t.hidden_size, q + 2 * kv) + _linear(tokens, q, t.hidden_size)
              + 3 * _linear(tokens, t.hidden_size, t.intermediate_size))
    pairs = sequences * (length * (length + 1) // 2 if causal else length * length)
    return t.num_hidden_layers * (linear + 2 * 2 * q * pairs)


def lm_head_flops(config: Qwen2_5_VLConfig, rows: int) -> int:
    return _linear(rows, config.text_config.hidden_size, config.text_config.vocab_size)


def lora_forward_flops(config: Qwen2_5_VLConfig, tokens: int, rank: int, targets: tuple[str, ...]) -> int:
    """The LoRA branches (x A B) on the language model's `targets` projections."""
    t = config.text_config
    head_dim = t.hidden_size // t.num_attention_heads
    q, kv = t.num_attention_heads * head_dim, t.num_key_value_heads * head_dim
    shapes = {"q_proj": (t.hidden_size, q), "k_proj": (t.hidden_size, kv), "v_proj": (t.hidden_size, kv),
              "o_proj": (q, t.hidden_size), "gate_proj": (t.hidden_size, t.intermediate_size),
              "up_proj": (t.hidden_size, t.intermediate_size), "down_proj": (t.intermediate_size, t.hidden_size)}
    per_layer = sum(_linear(tokens, shapes[m][0], rank) + _linear(tokens, rank, shapes[m][1]) for m in targets)
    return t.num_hidden_layers * per_layer


def forward_flops(config: Qwen2_5_VLConfig, batch: Batch) -> dict[str, int]:
    """Forward FLOPs of mmrl's scoring pass on `batch`, by part. The LM head runs on completion_len + 1 rows per
    sequence (`logits_to_keep`), as in `Policy.score`."""
    images = batch.sequences // batch.group_size
    length = batch.prompt_len + batch.completion_len
    return {"vision": images * vision_forward_flops(config, batch.image_grid),
            "text": text_layers_forward_flops(config, batch.sequences, length),
            "lm_head": lm_head_flops(config, batch.sequences * (batch.completion_len + 1))}


def train_step_flops(config: Qwen2_5_VLConfig, batch: Batch, lora_rank: int = 0,
                     lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")) -> int:
    """Model FLOPs of forward + backward (recomputation by gradient checkpointing is not counted, as MFU asks).

    Full fine-tuning: backward = 2 x forward (gradients of activations and of weights). LoRA: the frozen weights
    need no weight gradient, so the language model and LM head cost 1 x forward in backward (activation gradients
    must still reach the first adapted layer), the LoRA branches 2 x, and the frozen vision tower nothing: no
    trained weight lies below it."""
    parts = forward_flops(config, batch)
    if lora_rank == 0:
        return 3 * sum(parts.values())
    tokens = batch.sequences * (batch.prompt_len + batch.completion_len)
    lora = lora_forward_flops(config, tokens, lora_rank, lora_targets)
    return parts["vision"] + 2 * (parts["text"] + parts["lm_head"]) + 3 * lora
