"""The critic for PPO: a linear value head on the policy's last hidden state (RL4VLM's actor-critic layout).

The head is registered as the submodule `value_head` of the policy's model (whatever wraps it: peft, DeepSpeed),
so one optimiser, one DeepSpeed engine and one gradient clip serve actor and critic. It is saved beside the
weights as `value_head.safetensors`, never inside them, so a checkpoint still loads as a plain Hugging Face model.
"""

from __future__ import annotations

import os

import torch
from safetensors.torch import load_file, save_file

VALUE_HEAD = "value_head"
VALUE_HEAD_FILE = "value_head.safetensors"


def _hidden_size(model: torch.nn.Module) -> int:
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(text.hidden_size)


def has_value_head(model: torch.nn.Module) -> bool:
    return VALUE_HEAD in model._modules


def attach_value_head(model: torch.nn.Module, directory: str | os.PathLike | None = None) -> torch.nn.Module:
    """Give `model` a float32 value head: loaded from `directory/value_head.safetensors` when that file exists
    (a resumed run), else new with a zero output layer (V = 0 everywhere at the start, so the first advantages
    are the plain discounted returns)."""
    if has_value_head(model):
        return model.get_submodule(VALUE_HEAD)
    head = torch.nn.Linear(_hidden_size(model), 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    path = None if directory is None else os.path.join(directory, VALUE_HEAD_FILE)
    if path is not None and os.path.isfile(path):
        head.load_state_dict(load_file(path))
    head.to(next(model.parameters()).device)
    model.add_module(VALUE_HEAD, head)
    return head


class detached_value_head:
    """Context manager: the model without its value head (for `save_pretrained`), which is restored after."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.head: torch.nn.Module | None = None

    def __enter__(self) -> torch.nn.Module | None:
        self.head = self.model._modules.pop(VALUE_HEAD, None)
        return self.head

    def __exit__(self, *exc) -> None:
        if self.head is not None:
            self.model.add_module(VALUE_HEAD, self.head)


def save_value_head(head: torch.nn.Module, directory: str | os.PathLike) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    save_file(state, os.path.join(directory, VALUE_HEAD_FILE))
