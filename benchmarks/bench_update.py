"""mmrl's policy update on a random-init model of Qwen2.5-VL-3B's shapes: step time, training MFU, peak memory.

    python benchmarks/bench_update.py [--lora 64] [--gradient-checkpointing] [--out result.json]
    torchrun --standalone --nproc_per_node 1 benchmarks/bench_update.py --deepspeed configs/deepspeed/zero3.json

One update = the trainer's own GRPO loss (`mmrl.algos.grpo.GRPO.loss`: clipped policy gradient on the scored
completions) on a micro-batch of `--sequences` rows (each: a text prompt with one image, then a completion), its
backward and the optimiser step, through `mmrl.distributed.Updater` (plain AdamW with float32 master weights, or
the DeepSpeed engine). No generation: this measures the update alone. The model is built from the published
config (benchmarks/qwen_shapes.py) with random weights on the device, in bfloat16 (`--dtype`); a DeepSpeed JSON
gets bf16 switched on. Prompts are random token ids around one `<|image_pad|>` run and random pixels.

MFU = model FLOPs of forward + backward (qwen_shapes.train_step_flops; recomputation not counted) / median step
time / the accelerator's peak dense bf16 FLOP/s (`--peak-tflops`, default 989: H100/H200 SXM).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from gpu_check import bf16_deepspeed_json
from qwen_shapes import QWEN2_5_VL_3B_PARAMETERS, Batch, qwen2_5_vl_3b_config, train_step_flops
from transformers import AutoModelForImageTextToText

from mmrl.algos.base import Sample
from mmrl.algos.registry import make_algorithm
from mmrl.config import Config, LoraConfig, ModelConfig
from mmrl.distributed import Updater, init_distributed
from mmrl.models.loading import check_attention_available, prepare_for_training
from mmrl.models.policy import Policy, Prompt
from mmrl.models.tokenizer import train_tokenizer

ROOT = Path(__file__).resolve().parents[1]
PATCH_PIXELS = 14
MERGE = 2


def random_samples(policy: Policy, batch: Batch, vocab: int, seed: int = 0) -> list[Sample]:
    """`batch.sequences` samples of exactly prompt_len + completion_len tokens (no padding), one image per prompt,
    `group_size` samples sharing each prompt, advantages +-1."""
    gen = torch.Generator().manual_seed(seed)
    t, h, w = batch.image_grid
    image_tokens = t * h * w // MERGE ** 2
    special = set(policy.tokenizer.all_special_ids)
    ordinary = torch.tensor([i for i in range(min(vocab, len(policy.tokenizer))) if i not in special])

    def tokens(n: int) -> torch.Tensor:
        return ordinary[torch.randint(len(ordinary), (n,), generator=gen)]

    vocab_ids = policy.tokenizer.get_vocab()
    start, end = vocab_ids["<|vision_start|>"], vocab_ids["<|vision_end|>"]
    text = batch.prompt_len - image_tokens - 2
    if text < 2:
        raise ValueError(f"--prompt-tokens must exceed the image's {image_tokens} tokens + 4")
    samples = []
    for _ in range(batch.sequences // batch.group_size):
        ids = torch.cat([tokens(text // 2), torch.tensor([start]), torch.full((image_tokens,), policy.image_token_id),
                         torch.tensor([end]), tokens(text - text // 2)])
        pixels = torch.randn(t * h * w, 3 * 2 * PATCH_PIXELS ** 2, generator=gen)
        prompt = Prompt([], "", ids, [], pixels, torch.tensor([[t, h, w]]))
        for _ in range(batch.group_size):
            advantage = float(torch.randint(2, (1,), generator=gen)) * 2 - 1
            samples.append(Sample(prompt, tokens(batch.completion_len).tolist(), advantage=advantage))
    return samples


def build_policy(args: argparse.Namespace, device: torch.device) -> Policy:
    tokenizer = train_tokenizer(["red green blue yellow circle square triangle what colour is it"] * 8, 512)
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in [
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")]}
    ids |= {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    config = qwen2_5_vl_3b_config(args.layers, args.vision_depth, ids)
    check_attention_available(args.attn_implementation)
    config._attn_implementation = args.attn_implementation
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(
            config, dtype=getattr(torch, args.dtype), attn_implementation=args.attn_implementation
        )
    policy = Policy(model, None, tokenizer, is_vl=True)
    lora = LoraConfig(r=args.lora, alpha=2 * max(args.lora, 1))
    return prepare_for_training(policy, ModelConfig(lora=lora, gradient_checkpointing=args.gradient_checkpointing))


def run(args: argparse.Namespace) -> dict:
    ctx = init_distributed(args.deepspeed)
    device = ctx.device
    deepspeed = args.deepspeed
    if deepspeed and args.dtype == "bfloat16":
        deepspeed = bf16_deepspeed_json(deepspeed, Path(tempfile.mkdtemp()))
    policy = build_policy(args, device)
    model = policy.model
    config = model.config
    side = args.image_px // PATCH_PIXELS
    batch = Batch(args.sequences, args.prompt_tokens, args.completion_tokens, (1, side, side), args.group_size)
    samples = random_samples(policy, batch, config.text_config.vocab_size)
    cfg = Config()
    cfg.algo.kl_coef, cfg.optim.lr = 0.0, 1e-6
    steps = args.warmup + args.steps
    algorithm = make_algorithm(cfg)  # grpo
    updater = Updater(model, cfg.optim, steps, args.sequences, ctx, deepspeed)
    params = list(model.parameters())
    total = sum(getattr(p, "ds_numel", p.numel()) for p in params)
    trainable = sum(getattr(p, "ds_numel", p.numel()) for p in params if p.requires_grad)
    cuda = device.type == "cuda"
    times, losses, norms = [], [], []
    model.train()
    for _ in range(steps):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss, _ = algorithm.loss(policy, samples, None)
        norms.append(updater.micro_step(loss))
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    step_s = statistics.median(times[args.warmup:])
    flops = train_step_flops(config, batch, args.lora, tuple(LoraConfig().target_modules))
    return {
        "setup": {"layers": args.layers, "vision_depth": args.vision_depth, "lora": args.lora,
                  "gradient_checkpointing": args.gradient_checkpointing, "attn": args.attn_implementation,
                  "dtype": args.dtype, "zero_stage": updater.zero_stage, "deepspeed": args.deepspeed, "device": str(device),
                  "batch": vars(batch) | {"image_px": args.image_px}},
        "parameters": total, "trainable": trainable,
        "published_3b_parameters": QWEN2_5_VL_3B_PARAMETERS,
        "step_s": round(step_s, 4), "step_times_s": [round(t, 4) for t in times],
        "tokens_per_step": args.sequences * (args.prompt_tokens + args.completion_tokens),
        "train_flops_per_step": flops, "achieved_tflops": round(flops / step_s / 1e12, 2),
        "mfu": round(flops / step_s / (args.peak_tflops * 1e12), 4),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None,
        "losses": losses, "grad_norms": norms,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=36, help="language-model layers (36: the real 3B)")
    parser.add_argument("--vision-depth", type=int, default=32, help="vision blocks (32: the real 3B)")
    parser.add_argument("--lora", type=int, default=0, help="LoRA rank on q/k/v/o (0: full fine-tuning)")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--attn-implementation", default="sdpa", choices=("sdpa", "eager", "flash_attention_2"))
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"),
                        help="weights dtype (float32 only for the CPU smoke test)")
    parser.add_argument("--deepspeed", default=None, help="a DeepSpeed JSON (bf16 is switched on); run under torchrun")
    parser.add_argument("--sequences", type=int, default=8, help="rows per micro-batch (one optimiser step)")
    parser.add_argument("--group-size", type=int, default=4, help="rows sharing one prompt and image (GRPO's G)")
    parser.add_argument("--prompt-tokens", type=int, default=512, help="prompt length, image tokens included")
    parser.add_argument("--completion-tokens", type=int, default=256)
    parser.add_argument("--image-px", type=int, default=448, help="square image side (448 px: 256 image tokens)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="peak dense bf16 TFLOP/s of the device")
    parser.add_argument("--out", type=Path, default=None, help="also write the result here (JSON)")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    result = run(args)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
