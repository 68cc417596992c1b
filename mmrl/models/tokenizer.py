"""A small byte-level BPE tokenizer trained locally, with Qwen's special tokens and chat template.

Used by the tiny random models (tests, demo); real checkpoints bring their own tokenizer. Byte-level BPE encodes
any text, so a model's hostile output always round-trips; the merges come from the project's own prompt texts so
that answers (class names, tags) are a few tokens long.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

IM_START, IM_END, ENDOFTEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
VISION_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END, *VISION_TOKENS]

# Qwen's chat format: content is a string or a list of {"type": "image"} / {"type": "text", "text": ...} parts.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Text the tokenizer always learns from, besides the env prompts passed in.
_BASE_CORPUS = [
    "<think> </think> <answer> </answer>",
    "The answer is 0 1 2 3 4 5 6 7 8 9 10 11 12 13 24 + - * / ( ) = .",
    '{"thoughts": "", "action": ""}',
    "system user assistant You are a helpful assistant.",
]


def train_tokenizer(corpus: list[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus` and wrap it as a Qwen-style chat tokenizer (deterministic)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Repeat the base texts so their merges win over rare prompt words.
    tok.train_from_iterator(_BASE_CORPUS * 20 + list(corpus), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START, *VISION_TOKENS],
        padding_side="left",
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped
