"""Models: the tiny default policies, loading real checkpoints, LoRA, the value head."""

from mmrl.models.torchvision_compat import ensure_torchvision_importable

ensure_torchvision_importable()  # before anything imports transformers' Qwen2.5-VL code (see the module)
