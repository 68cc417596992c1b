"""The tiny models, their log-probs, the vision-token traps, and loading through the checkpoint path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmrl.config import ConfigError, ModelConfig
from mmrl.models.loading import load_pretrained_policy, prepare_for_training, save_policy
from mmrl.rollout.backends import HFBackend, SamplingParams


def _image_prompts(policy, n, seed=0):
    rng = np.random.default_rng(seed)
    prompts = []
    for i in range(n):
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which colour?" * (i + 1)}]}]
        prompts.append(policy.encode(messages, [rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)]))
    return prompts


def test_tiny_vl_is_qwen2_5_vl_and_small(tiny_vl):
    assert tiny_vl.model.config.model_type == "qwen2_5_vl"
    assert sum(p.numel() for p in tiny_vl.model.parameters()) < 1_000_000
    prompt = _image_prompts(tiny_vl, 1)[0]
    assert prompt.image_grid_thw.tolist() == [[1, 4, 4]]  # 56 px -> 4x4 patches -> 4 merged image tokens
    assert int((prompt.input_ids == tiny_vl.image_token_id).sum()) == 4


def test_logprobs_equal_generate_scores(tiny_vl):
    prompts = _image_prompts(tiny_vl, 3)
    torch.manual_seed(0)
    completions = HFBackend(tiny_vl).generate(prompts, SamplingParams(10, temperature=1.0))
    logprobs, mask, _ = tiny_vl.completion_logprobs(prompts, [c.token_ids for c in completions])
    # Recompute each completion alone: batch composition and padding must not change a sample's log-probs.
    for i, c in enumerate(completions):
        alone, _, _ = tiny_vl.completion_logprobs([prompts[i]], [c.token_ids])
        n = len(c.token_ids)
        assert mask[i, :n].sum() == n and mask[i, n:].sum() == 0
        torch.testing.assert_close(alone[0, :n], logprobs[i, :n], atol=1e-5, rtol=1e-5)
    # And they equal what generate() itself scored when sampling.
    torch.manual_seed(0)
    batch = tiny_vl.collate(prompts)
    batch.pop("completion_mask"), batch.pop("prompt_len")
    out = tiny_vl.model.generate(
        **batch, max_new_tokens=10, do_sample=True, temperature=1.0, top_k=None, top_p=None,
        suppress_tokens=tiny_vl.suppressed_ids, eos_token_id=tiny_vl.stop_ids, pad_token_id=tiny_vl.pad_id,
        output_scores=True, return_dict_in_generate=True,
    )
    scores = tiny_vl.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    n0 = len(completions[0].token_ids)
    torch.testing.assert_close(scores[0, :n0], logprobs[0, :n0].detach(), atol=1e-4, rtol=1e-4)


def test_vision_tokens_are_never_generated_and_carry_no_mass(tiny_vl):
    lm_head = tiny_vl.model.get_output_embeddings()
    saved = lm_head.weight.data.clone()
    try:
        # Make the vision tokens overwhelmingly likely: without suppression every sample would be one of them.
        lm_head.weight.data[tiny_vl.suppressed_ids] *= 200.0
        prompts = _image_prompts(tiny_vl, 4)
        completions = HFBackend(tiny_vl).generate(prompts, SamplingParams(8, temperature=1.0))
        generated = {t for c in completions for t in c.token_ids}
        assert generated.isdisjoint(tiny_vl.suppressed_ids)
        logprobs, mask, entropy = tiny_vl.completion_logprobs(prompts, [c.token_ids for c in completions], 1.0, True)
        assert torch.isfinite(logprobs).all() and torch.isfinite(entropy).all()
    finally:
        lm_head.weight.data.copy_(saved)


def test_save_and_load_round_trip_gives_identical_logits(tiny_vl, tmp_path):
    save_policy(tiny_vl, str(tmp_path))
    loaded = load_pretrained_policy(str(tmp_path), ModelConfig())
    assert loaded.is_vl
    prompts = _image_prompts(tiny_vl, 2)
    completion = [[40, 41, 42], [43, 44]]
    a, _, _ = tiny_vl.completion_logprobs(prompts, completion)
    reloaded_prompts = _image_prompts(loaded, 2)
    assert all(torch.equal(p.input_ids, q.input_ids) for p, q in zip(prompts, reloaded_prompts))
    b, _, _ = loaded.completion_logprobs(reloaded_prompts, completion)
    torch.testing.assert_close(a, b)


def test_text_model_loads_and_refuses_images(tiny_text, tmp_path):
    save_policy(tiny_text, str(tmp_path))
    loaded = load_pretrained_policy(str(tmp_path), ModelConfig())
    assert not loaded.is_vl and loaded.model.config.model_type == "qwen2"
    prompt = loaded.encode([{"role": "user", "content": "hello"}])
    out = HFBackend(loaded).generate([prompt, prompt], SamplingParams(5, temperature=0.0))
    assert out[0].token_ids == out[1].token_ids  # greedy is deterministic
    with pytest.raises(ValueError, match="text-only"):
        loaded.encode([{"role": "user", "content": "x"}], [np.zeros((8, 8, 3), np.uint8)])


def test_missing_model_path_names_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match="no-such-model"):
        load_pretrained_policy(str(missing), ModelConfig(path=str(missing)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="config.json"):
        load_pretrained_policy(str(tmp_path / "empty"), ModelConfig())


def test_lora_trains_only_adapters(tiny_text, tmp_path):
    save_policy(tiny_text, str(tmp_path))
    cfg = ModelConfig(path=str(tmp_path))
    cfg.lora.r = 4
    policy = prepare_for_training(load_pretrained_policy(str(tmp_path), cfg), cfg)
    trainable = [n for n, p in policy.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    prompt = policy.encode([{"role": "user", "content": "hi"}])
    with policy.model.disable_adapter():
        base, _, _ = policy.completion_logprobs([prompt], [[40, 41]])
    lora, _, _ = policy.completion_logprobs([prompt], [[40, 41]])
    torch.testing.assert_close(base, lora)  # LoRA B starts at zero: same function until trained


def test_vision_token_strings_in_text_do_not_become_image_placeholders(tiny_vl):
    hostile = "look: <|image_pad|><|vision_start|> done"
    prompt = tiny_vl.encode([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": hostile}]},
                             {"role": "assistant", "content": hostile}, {"role": "user", "content": hostile}],
                            [np.zeros((56, 56, 3), np.uint8)])
    assert int((prompt.input_ids == tiny_vl.image_token_id).sum()) == 4  # only the real image's tokens
    logprobs, _, _ = tiny_vl.completion_logprobs([prompt], [[40, 41]])
    assert torch.isfinite(logprobs).all()


def test_shared_prompts_encode_images_once_with_the_same_values_and_gradients(tiny_vl):
    """A group's G samples share one Prompt: the fast path runs the vision tower once per distinct prompt and
    must give the plain forward's log-probs and gradients."""
    distinct = _image_prompts(tiny_vl, 2, seed=3)
    prompts = [distinct[0]] * 3 + [distinct[1]] * 2
    completions = [[40, 41, 42], [43], [44, 45], [40, 46, 47], [48]]
    model = tiny_vl.model
    fast, mask, _ = tiny_vl.completion_logprobs(prompts, completions)
    (fast * mask).sum().backward()
    fast_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    batch = tiny_vl.collate(prompts, completions)
    batch.pop("completion_mask"), batch.pop("prompt_len"), batch.pop("position_ids")
    logits = model(**batch, logits_to_keep=4, use_cache=False).logits[:, :-1].float()  # plain forward
    logits[..., tiny_vl.suppressed_ids] = float("-inf")
    plain = torch.log_softmax(logits, -1).gather(-1, batch["input_ids"][:, -3:].unsqueeze(-1)).squeeze(-1) * mask
    (plain * mask).sum().backward()
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
    visual = [n for n in fast_grads if "visual" in n]
    assert visual
    for name in fast_grads:
        torch.testing.assert_close(fast_grads[name], dict(model.named_parameters())[name].grad, atol=1e-5, rtol=1e-4)
    model.zero_grad()


def test_entropy_bonus_gradient_is_finite_with_masked_vision_tokens(tiny_vl):
    prompts = _image_prompts(tiny_vl, 2)
    logprobs, mask, entropy = tiny_vl.completion_logprobs(prompts, [[40, 41], [42]], 1.0, with_entropy="grad")
    vocab = len(tiny_vl.tokenizer) - len(tiny_vl.suppressed_ids)
    assert 0 < entropy[0, 0].item() <= torch.log(torch.tensor(float(vocab))) + 1e-4
    (entropy.sum() + logprobs.sum()).backward()
    grads = [p.grad for p in tiny_vl.model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    tiny_vl.model.zero_grad()


def test_encode_many_equals_encoding_one_at_a_time(tiny_vl):
    rng = np.random.default_rng(5)
    image = lambda: rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)  # noqa: E731
    two = [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Compare them."}]
    items = [
        ([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "short"}]}], [image()]),
        ([{"role": "user", "content": "no image here, a longer text prompt"}], []),
        ([{"role": "system", "content": "sys"}, {"role": "user", "content": two}], [image(), image()]),
    ]
    batched = tiny_vl.encode_many(items)
    for one, (messages, images) in zip(batched, items):
        alone = tiny_vl.encode(messages, images)
        assert torch.equal(one.input_ids, alone.input_ids) and one.text == alone.text
        for field in ("pixel_values", "image_grid_thw"):
            a, b = getattr(one, field), getattr(alone, field)
            assert (a is None and b is None) or torch.equal(a, b)
    assert batched[2].image_grid_thw.shape == (2, 3)


def test_value_head_scores_a_model_cast_whole_to_bfloat16(tmp_path):
    """DeepSpeed's bf16 mode casts every parameter, the value head's too; the values still come back in float32."""
    from mmrl.models.loading import build_tiny_policy
    from mmrl.models.value_head import attach_value_head
    from tests.conftest import CORPUS

    policy = build_tiny_policy(ModelConfig(tiny="text"), CORPUS)
    attach_value_head(policy.model)
    prompts = [policy.encode([{"role": "user", "content": [{"type": "text", "text": t}]}]) for t in ("a b", "c")]
    completions = [[5, 6], [7]]
    reference = policy.score(prompts, completions, with_values=True).values
    policy.model.to(torch.bfloat16)
    values = policy.score(prompts, completions, with_values=True).values
    assert values.dtype == torch.float32 and values.shape == (2,)
    assert torch.allclose(values, reference, atol=0.05, rtol=0.05)


def test_a_tiny_model_takes_model_dtype_and_keeps_it_through_a_save(tmp_path):
    """`model.dtype` applies to the tiny models too (it was float32 whatever the config said), and the saved folder
    records it, so a vLLM engine started from it (dtype "auto") runs the same dtype as the trainer."""
    import json

    from mmrl.models.loading import build_tiny_policy

    policy = build_tiny_policy(ModelConfig(tiny="text", dtype="bfloat16"), ["name the colour of the shape"] * 4)
    assert {p.dtype for p in policy.model.parameters()} == {torch.bfloat16}
    save_policy(policy, str(tmp_path))
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "bfloat16"
    loaded = load_pretrained_policy(str(tmp_path), ModelConfig(dtype="bfloat16"))
    prompt = loaded.encode([{"role": "user", "content": "name the colour"}])
    completion = loaded.tokenizer.encode("the shape", add_special_tokens=False)
    logprobs, _, _ = loaded.completion_logprobs([prompt], [completion])
    full, _, _ = policy.completion_logprobs([prompt], [completion])
    torch.testing.assert_close(logprobs, full, atol=2e-3, rtol=0)  # bfloat16 kernels: not bit-equal across loads


def test_a_tiny_model_takes_model_attn_implementation():
    """Eager attention (as `model.attn_implementation: eager` asks) scores what sdpa scores, to float rounding."""
    from mmrl.models.loading import build_tiny_policy

    corpus = ["Which colour is the shape?"] * 4
    eager = build_tiny_policy(ModelConfig(tiny="vl", attn_implementation="eager"), corpus)
    sdpa = build_tiny_policy(ModelConfig(tiny="vl"), corpus)
    assert (eager.model.config._attn_implementation, sdpa.model.config._attn_implementation) == ("eager", "sdpa")
    prompts = _image_prompts(eager, 2)
    completion = [eager.tokenizer.encode("red", add_special_tokens=False)] * 2
    torch.testing.assert_close(eager.completion_logprobs(prompts, completion)[0],
                               sdpa.completion_logprobs(prompts, completion)[0], atol=1e-5, rtol=0)
