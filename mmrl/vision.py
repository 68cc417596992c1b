"""Image sizes the vision-language models see: Qwen2-VL / Qwen2.5-VL's resize bounds (one place for both the
model config and the envs that must know the size the model sees, e.g. to rescale boxes)."""

QWEN_MIN_PIXELS = 3136
"""Qwen2.5-VL's default smallest image area (pixels, 56 x 56) after resizing."""
QWEN_MAX_PIXELS = 12845056
"""Qwen2.5-VL's default largest image area (pixels, 3584 x 3584) after resizing."""
