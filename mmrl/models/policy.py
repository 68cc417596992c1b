"""The policy: a (VL or text) causal LM with its processor, turning chat prompts into token log-probs.

A sample is a prompt (chat messages + images, encoded once) and a completion (token ids). Batches are laid out
as `[left-padded prompt | right-padded completion]`, so every completion starts at the same column and only the
completion's logits are computed (`logits_to_keep`). Vision special tokens are masked out of every distribution:
a random policy that samples `<|image_pad|>` would crash the next forward, and probability mass would otherwise
drift onto tokens the policy may never emit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from mmrl.models.tokenizer import VISION_TOKENS
from mmrl.models.value_head import VALUE_HEAD


@dataclass
class Prompt:
    """One model input, encoded once: chat messages rendered with the chat template, plus their images."""

    messages: list[dict]
    text: str
    input_ids: torch.Tensor  # (T,)
    images: list[Image.Image] = field(default_factory=list)
    pixel_values: torch.Tensor | None = None  # (patches, C*14*14*2) for Qwen-VL
    image_grid_thw: torch.Tensor | None = None  # (n_images, 3)
    positions: torch.Tensor | None = None  # (3, T) M-RoPE positions of a VL prompt, computed once on first use


@dataclass
class Scores:
    """What one forward pass says about (prompt, completion) pairs."""

    logprobs: torch.Tensor  # (B, Tc) log-probs of the completion tokens (0 on padding)
    mask: torch.Tensor  # (B, Tc) 1 on real completion tokens
    entropy: torch.Tensor | None = None  # (B, Tc)
    values: torch.Tensor | None = None  # (B,) V(prompt) from the value head
    vocab_mean: torch.Tensor | None = None  # (B, Tc) mean over the vocabulary of log p(v | state), detached (ROVER)


def _defuse(text: str) -> str:
    """Break vision special-token strings in free text (an env's text, a model's earlier answer): the tokenizer
    would otherwise parse them as real image placeholders and the forward pass would fail."""
    for token in VISION_TOKENS:
        text = text.replace(token, token.replace("<|", "<\u200b|"))
    return text


def _without_vision_tokens(message: dict) -> dict:
    content = message["content"]
    if isinstance(content, str):
        return {**message, "content": _defuse(content)}
    parts = [{**p, "text": _defuse(p["text"])} if p.get("type") == "text" else p for p in content]
    return {**message, "content": parts}


class Policy:
    """Wraps a model and its processor (VL) or tokenizer (text). `model` may be a peft or DeepSpeed wrapper."""

    def __init__(self, model: torch.nn.Module, processor, tokenizer, is_vl: bool):
        self.model = model
        self.processor = processor
        self.tokenizer = tokenizer
        self.is_vl = is_vl
        vocab = tokenizer.get_vocab()
        self.suppressed_ids = sorted(vocab[t] for t in VISION_TOKENS if t in vocab)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.stop_ids = sorted({i for i in (tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|endoftext|>")) if isinstance(i, int)})
        self.image_token_id = vocab.get("<|image_pad|>")

    @property
    def image_bounds(self) -> tuple[int, int] | None:
        """(min_pixels, max_pixels): the image area range the processor resizes to (VL models); None for text."""
        if not self.is_vl:
            return None
        size = self.processor.image_processor.size
        return int(size["shortest_edge"]), int(size["longest_edge"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ encoding
    def encode(self, messages: list[dict], images: list[np.ndarray | Image.Image] = ()) -> Prompt:
        """Render chat messages with the chat template and encode them (and their images) for the model."""
        return self.encode_many([(messages, images)])[0]

    def encode_many(self, items: list[tuple[list[dict], list[np.ndarray | Image.Image]]]) -> list[Prompt]:
        """`encode` for many (messages, images) pairs, with one processor call for all the images (much cheaper
        than one call each: the cost is mostly per call)."""
        rendered = []
        for messages, images in items:
            pil = [im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im, dtype=np.uint8))
                   for im in images]
            if pil and not self.is_vl:
                raise ValueError("this model is text-only but the observation has an image; use a VL model or a "
                                 "text env")
            messages = [_without_vision_tokens(m) for m in messages]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            rendered.append((messages, text, pil))
        prompts: list[Prompt | None] = [None] * len(rendered)
        visual = [i for i, (_, _, pil) in enumerate(rendered) if pil]
        if visual:
            enc = self.processor(text=[rendered[i][1] for i in visual], images=[im for i in visual for im in rendered[i][2]],
                                 return_tensors="pt", padding=True)
            merge = self.processor.image_processor.merge_size ** 2
            patches = (enc["image_grid_thw"].prod(-1)).tolist()
            image_at, patch_at = 0, 0
            for row, i in enumerate(visual):
                messages, text, pil = rendered[i]
                n_images = len(pil)
                grid = enc["image_grid_thw"][image_at : image_at + n_images]
                n_patches = int(sum(patches[image_at : image_at + n_images]))
                ids = enc["input_ids"][row][enc["attention_mask"][row].bool()]
                assert int((ids == self.image_token_id).sum()) == n_patches // merge
                prompts[i] = Prompt(messages, text, ids, pil, enc["pixel_values"][patch_at : patch_at + n_patches], grid)
                image_at, patch_at = image_at + n_images, patch_at + n_patches
        for i, (messages, text, pil) in enumerate(rendered):
            if not pil:
                ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
                prompts[i] = Prompt(messages, text, ids)
        return prompts

    def encode_completion(self, text: str) -> list[int]:
        """Token ids of a response the policy should have given (an SFT label), ending with the stop token."""
        ids = self.tokenizer(_defuse(text), add_special_tokens=False)["input_ids"]
        return ids + [self.tokenizer.eos_token_id]

    def decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    # ------------------------------------------------------------------ batching
    def collate(self, prompts: list[Prompt], completions: list[list[int]] | None = None) -> dict:
        """Model inputs for `[left-padded prompt | right-padded completion]`; `completion_mask` marks real tokens."""
        completions = completions if completions is not None else [[] for _ in prompts]
        pad = torch.nn.utils.rnn.pad_sequence
        prompt_ids = pad([p.input_ids for p in prompts], batch_first=True, padding_value=self.pad_id,
                         padding_side="left")  # (B, Tp)
        p_len = prompt_ids.shape[1]
        c_lens = torch.tensor([len(c) for c in completions])  # (B,)
        c_len = int(c_lens.max()) if len(c_lens) else 0
        completion_ids = pad([torch.tensor(c, dtype=torch.long) for c in completions], batch_first=True,
                             padding_value=self.pad_id)  # (B, Tc)
        input_ids = torch.cat([prompt_ids, completion_ids[:, :c_len]], dim=1)  # (B, L)
        p_lens = torch.tensor([len(p.input_ids) for p in prompts])  # (B,)
        columns = torch.arange(p_len + c_len)  # (L,)
        in_prompt = columns >= (p_len - p_lens).unsqueeze(1)  # (B, L), true from the first real prompt token
        completion_mask = (torch.arange(c_len) < c_lens.unsqueeze(1)).float()  # (B, Tc)
        attention = torch.cat([in_prompt[:, :p_len], completion_mask.bool()], dim=1).long()  # (B, L)
        batch_inputs = {"input_ids": input_ids, "attention_mask": attention}
        with_images = [p for p in prompts if p.pixel_values is not None]
        if with_images:
            batch_inputs["pixel_values"] = torch.cat([p.pixel_values for p in with_images])
            batch_inputs["image_grid_thw"] = torch.cat([p.image_grid_thw for p in with_images])
            batch_inputs["mm_token_type_ids"] = (input_ids == self.image_token_id).long()
            # M-RoPE positions: each prompt's own (cached), then the completion continues the text positions.
            own = pad([self._mrope_positions(p).T for p in prompts], batch_first=True, padding_side="left")  # (B, Tp, 3)
            after = own[:, -1:, :] + 1 + torch.arange(c_len).view(1, -1, 1)  # (B, Tc, 3)
            batch_inputs["position_ids"] = torch.cat([own, after], dim=1).permute(2, 0, 1).contiguous()  # (3, B, L)
        else:
            # Text positions count real tokens only, as generate() does with left padding.
            batch_inputs["position_ids"] = (attention.cumsum(-1) - 1).clamp(min=0)
        device = self.device
        out = {k: v.to(device) for k, v in batch_inputs.items()}
        out["completion_mask"] = completion_mask.to(device)
        out["prompt_len"] = p_len
        return out

    def _mrope_positions(self, prompt: Prompt) -> torch.Tensor:
        if prompt.positions is None:
            ids = prompt.input_ids[None].to(self.device)  # (1, T)
            positions, _ = self._rope_owner().get_rope_index(
                ids, mm_token_type_ids=(ids == self.image_token_id).long(),
                image_grid_thw=prompt.image_grid_thw.to(self.device), attention_mask=torch.ones_like(ids),
            )
            prompt.positions = positions[:, 0].cpu()  # (3, T)
        return prompt.positions

    def _rope_owner(self) -> torch.nn.Module:
        """The submodule computing M-RoPE indices (found through peft or DeepSpeed wrappers)."""
        if getattr(self, "_rope_module", None) is None:
            self._rope_module = next(m for m in self.model.modules() if hasattr(m, "get_rope_index"))
        return self._rope_module

    def _forward(self, prompts: list[Prompt], batch: dict, logits_to_keep: int, hidden: bool = False):
        """The model's output on the batch (logits, and all hidden states when `hidden`). For VL prompts each distinct prompt's images pass the vision tower once, however
        many samples of a group share them, and are scattered into the token embeddings (same values and
        gradients as the plain forward, which would encode every copy)."""
        if "pixel_values" not in batch:
            return self.model(**batch, logits_to_keep=logits_to_keep, use_cache=False, output_hidden_states=hidden)
        index: dict[int, int] = {}
        distinct: list[Prompt] = []
        for p in prompts:
            if p.pixel_values is not None and id(p) not in index:
                index[id(p)] = len(distinct)
                distinct.append(p)
        device = self.device
        features = self.model.get_image_features(
            torch.cat([p.pixel_values for p in distinct]).to(device),
            torch.cat([p.image_grid_thw for p in distinct]).to(device),
        ).pooler_output  # one (tokens, H) tensor per image
        per_prompt, start = [], 0
        for p in distinct:
            k = len(p.image_grid_thw)
            per_prompt.append(torch.cat(features[start : start + k]))
            start += k
        rows = torch.cat([per_prompt[index[id(p)]] for p in prompts if p.pixel_values is not None])  # (N_img_tok, H)
        ids = batch["input_ids"]
        embeds = self.model.get_input_embeddings()(ids)  # (B, L, H)
        embeds = embeds.masked_scatter((ids == self.image_token_id).unsqueeze(-1), rows.to(embeds.dtype))
        return self.model(inputs_embeds=embeds, attention_mask=batch["attention_mask"],
                          position_ids=batch["position_ids"], logits_to_keep=logits_to_keep, use_cache=False,
                          output_hidden_states=hidden)

    # ------------------------------------------------------------------ log-probs
    def completion_logprobs(
        self, prompts: list[Prompt], completions: list[list[int]], temperature: float = 1.0,
        with_entropy: bool | str = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Per-token log p(completion | prompt) under the sampling distribution (logits / temperature).

        Returns (logprobs (B, Tc), mask (B, Tc), entropy (B, Tc) or None). Gradients flow to the log-probs when
        enabled; to the entropy only with `with_entropy="grad"`.
        """
        scores = self.score(prompts, completions, temperature, with_entropy)
        return scores.logprobs, scores.mask, scores.entropy

    def score(self, prompts: list[Prompt], completions: list[list[int]], temperature: float = 1.0,
              with_entropy: bool | str = False, with_values: bool = False, value_trunk_grad: bool = True,
              with_vocab_mean: bool = False) -> Scores:
        """`completion_logprobs`, plus with `with_values` the value head's V(prompt) (B,), read from the last
        hidden state at the prompt's final token (it sees the observation, not the answer), in the same forward.
        `value_trunk_grad=False` detaches that hidden state: the value loss then trains the head alone.
        `with_vocab_mean` adds, at every completion position, the mean of log p over the vocabulary (the tokens the
        policy may emit), detached: ROVER's value of a state under the uniform random policy."""
        batch = self.collate(prompts, completions)
        mask = batch.pop("completion_mask")
        p_len = batch.pop("prompt_len")
        c_len = mask.shape[1]
        if c_len == 0 and not with_values:  # nothing to score: no forward pass
            empty = mask.new_zeros(mask.shape)
            return Scores(empty, mask, empty if with_entropy else None)
        out = self._forward(prompts, batch, logits_to_keep=c_len + 1, hidden=with_values)
        values = None
        if with_values:
            head = self.model.get_submodule(VALUE_HEAD)
            # In the head's own dtype: DeepSpeed's bf16 mode casts the whole model, the head included.
            features = out.hidden_states[-1][:, p_len - 1].to(head.weight.dtype)  # (B, H)
            values = head(features if value_trunk_grad else features.detach()).squeeze(-1).float()  # (B,)
        if c_len == 0:
            empty = mask.new_zeros(mask.shape)
            return Scores(empty, mask, empty if with_entropy else None, values)
        # The logit at column t predicts token t+1: keep the last c_len+1 columns, drop the final one.
        logits = out.logits[:, :-1].float() / max(temperature, 1e-6)  # (B, Tc, V)
        if self.suppressed_ids:
            logits[..., self.suppressed_ids] = float("-inf")
        logp_all = torch.log_softmax(logits, dim=-1)  # (B, Tc, V)
        target = batch["input_ids"][:, -c_len:]  # (B, Tc)
        logprobs = logp_all.gather(-1, target.unsqueeze(-1)).squeeze(-1) * mask  # (B, Tc)
        entropy = None
        if with_entropy:  # differentiable only when the caller trains on it (an entropy bonus)
            with torch.set_grad_enabled(torch.is_grad_enabled() and with_entropy == "grad"):
                # Masked tokens have log p = -inf; zero them before the product (p * -inf would be NaN, and
                # torch.where would still send a NaN gradient through the discarded branch).
                finite_logp = logp_all.masked_fill(torch.isinf(logp_all), 0.0)
                entropy = -(logp_all.exp() * finite_logp).sum(-1) * mask  # (B, Tc)
        vocab_mean = None
        if with_vocab_mean:
            with torch.no_grad():
                finite = torch.isfinite(logp_all)  # (B, Tc, V) suppressed tokens are -inf
                vocab_mean = logp_all.masked_fill(~finite, 0.0).sum(-1) / finite.sum(-1) * mask  # (B, Tc)
        return Scores(logprobs, mask, entropy, values, vocab_mean)
