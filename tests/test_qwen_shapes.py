"""benchmarks/qwen_shapes.py (Qwen2.5-VL-3B's shapes and their FLOP count) and a CPU smoke run of
benchmarks/bench_update.py with the layer counts cut down: the GPU benchmark's model and arithmetic are checked
here, so a GPU session only measures time and memory."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from tests.trainer.helpers import REPO, mmrl_env

spec = importlib.util.spec_from_file_location("qwen_shapes", REPO / "benchmarks" / "qwen_shapes.py")
shapes = sys.modules["qwen_shapes"] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
spec.loader.exec_module(shapes)

# Published parameter counts of Qwen2.5-VL-3B's parts (a printout of the released model).
DECODER_LAYER, VISION_BLOCK = 77_076_992, 19_702_200


def test_the_3b_config_has_the_published_parameter_counts():
    with torch.device("meta"):  # shapes only: no memory, no time
        model = Qwen2_5_VLForConditionalGeneration(shapes.qwen2_5_vl_3b_config())
    assert sum(p.numel() for p in model.parameters()) == shapes.QWEN2_5_VL_3B_PARAMETERS == 3_754_622_976
    assert sum(p.numel() for p in model.model.language_model.layers[0].parameters()) == DECODER_LAYER
    assert sum(p.numel() for p in model.model.visual.blocks[0].parameters()) == VISION_BLOCK
    text, vision = model.config.text_config, model.config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads,
            text.intermediate_size, text.vocab_size) == (2048, 36, 16, 2, 11008, 151936)
    assert (vision.depth, vision.hidden_size, vision.out_hidden_size, vision.fullatt_block_indexes) == (
        32, 1280, 2048, [7, 15, 23, 31])
    cut = shapes.qwen2_5_vl_3b_config(text_layers=2, vision_depth=3)
    assert (cut.text_config.num_hidden_layers, cut.vision_config.depth, cut.vision_config.fullatt_block_indexes,
            cut.text_config.hidden_size) == (2, 3, [2], 2048)


def _tiny() -> Qwen2_5_VLConfig:
    """Text: width 64, 2 layers, 2 heads of 32, 1 KV head, MLP 96, vocab 100. Vision: 2 blocks (the second with
    full attention) of width 32, MLP 48, windows of 56 px = 2x2 merged tokens = 16 patches; out 64."""
    return Qwen2_5_VLConfig(
        text_config=dict(vocab_size=100, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, eos_token_id=0, pad_token_id=0,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [8, 4, 4]}),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=48, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                           fullatt_block_indexes=[1]),
        image_token_id=99, video_token_id=98, vision_start_token_id=97, vision_end_token_id=96)


# 2 sequences of 40 prompt + 5 completion tokens, each with its own 112x168 px image: 8x12 = 96 patches.
BATCH = shapes.Batch(sequences=2, prompt_len=40, completion_len=5, image_grid=(1, 8, 12))


def test_forward_flops_equal_a_hand_count_on_a_tiny_shape():
    patches, tokens = 96, 2 * 45
    vision = (2 * patches * (3 * 2 * 14 * 14) * 32  # patch embedding (a 2x14x14x3 -> 32 convolution)
              + 2 * (2 * patches * 32 * 96 + 2 * patches * 32 * 32 + 3 * 2 * patches * 32 * 48)  # qkv, proj, MLP
              + 2 * 2 * 32 * (6 * 16 * 16)  # block 0: 6 windows of 2x2 merged tokens = 16 patches
              + 2 * 2 * 32 * (96 * 96)  # block 1: the whole image
              + 2 * 24 * 128 * 128 + 2 * 24 * 128 * 64)  # merger on 24 merged tokens of width 4 x 32
    assert vision == 13_123_584
    text_layer = (2 * tokens * 64 * (64 + 32 + 32) + 2 * tokens * 64 * 64 + 3 * 2 * tokens * 64 * 96
                  + 2 * 2 * 64 * (2 * 45 * 46 // 2))  # causal: query i sees i + 1 keys
    lm_head = 2 * (2 * 6) * 64 * 100  # logits only for the 5 completion tokens + 1, per sequence
    assert shapes.forward_flops(_tiny(), BATCH) == {"vision": 2 * vision, "text": 2 * text_layer, "lm_head": lm_head}
    assert shapes.train_step_flops(_tiny(), BATCH) == 3 * (2 * vision + 2 * text_layer + lm_head)
    lora = 2 * (2 * tokens * 4 * ((64 + 64) + (64 + 32) + (64 + 32) + (64 + 64)))  # rank 4 on q, k, v, o
    assert shapes.train_step_flops(_tiny(), BATCH, lora_rank=4) == 2 * vision + 2 * (2 * text_layer + lm_head) + 3 * lora


def test_forward_flops_equal_torch_flop_counter_on_the_model_itself():
    """torch's FlopCounterMode counts the matmuls the model really runs. Eager attention computes every query-key
    pair, masked ones too, so the text attention is compared non-causal; the counter also sees the rotary tables'
    outer product (3 M-RoPE axes x sequences x head_dim/2 x length, x2), which is not model FLOPs."""
    config = _tiny()
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    length, image_tokens = 45, 24
    ids = torch.randint(0, 90, (2, length))
    ids[:, 2 : 2 + image_tokens] = config.image_token_id
    inputs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=(ids == 99).long(),
                  pixel_values=torch.randn(2 * 96, 3 * 2 * 14 * 14), image_grid_thw=torch.tensor([[1, 8, 12]] * 2))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**inputs, logits_to_keep=BATCH.completion_len + 1)
    parts = shapes.forward_flops(config, BATCH)
    rotary = 2 * 3 * 2 * (32 // 2) * length
    expected = parts["vision"] + shapes.text_layers_forward_flops(config, 2, length, causal=False) + parts["lm_head"]
    assert counter.get_total_flops() == expected + rotary


@pytest.mark.slow
def test_bench_update_runs_the_3b_widths_with_one_layer_on_cpu(tmp_path):
    """The real 3B widths and vocabulary with 1 language-model layer and 1 vision block, LoRA rank 8, one update in
    float32: the benchmark builds the model, trains it through mmrl's loss and Updater, and reports its numbers."""
    out = tmp_path / "result.json"
    args = ["--layers", "1", "--vision-depth", "1", "--lora", "8", "--sequences", "2", "--group-size", "2",
            "--prompt-tokens", "24", "--completion-tokens", "4", "--image-px", "56", "--steps", "1", "--warmup", "0",
            "--dtype", "float32", "--out", str(out)]
    done = subprocess.run([sys.executable, "benchmarks/bench_update.py", *args], cwd=REPO, env=mmrl_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    lora = 1 * 8 * ((2048 + 2048) + (2048 + 256) * 2 + (2048 + 2048))  # q, k, v, o adapters of the one layer
    base = shapes.QWEN2_5_VL_3B_PARAMETERS - 35 * DECODER_LAYER - 31 * VISION_BLOCK
    assert (result["parameters"], result["trainable"]) == (base + lora, lora)
    config = shapes.qwen2_5_vl_3b_config(1, 1)
    batch = shapes.Batch(2, 24, 4, (1, 4, 4), 2)
    assert result["train_flops_per_step"] == shapes.train_step_flops(config, batch, 8)
    assert result["step_s"] > 0 and math.isfinite(result["losses"][0])
    assert result["grad_norms"][0] > 0 and math.isfinite(result["grad_norms"][0])
    assert result["mfu"] == round(result["train_flops_per_step"] / result["step_s"] / 989e12, 4)
