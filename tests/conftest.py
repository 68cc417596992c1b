"""Shared fixtures: one torch thread (2-core CI), a tiny VL and a tiny text policy built once per session."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

from mmrl.models.torchvision_compat import ensure_torchvision_importable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Importing alfworld creates $ALFWORLD_DATA (default ~/.cache/alfworld): keep tests out of the home folder.
os.environ.setdefault("ALFWORLD_DATA", tempfile.mkdtemp(prefix="alfworld-data-"))
torch.set_num_threads(1)
# Before any test module imports transformers' Qwen-VL classes (they import torchvision; see the module's note).
ensure_torchvision_importable()

CORPUS = [
    "What type of object is in the photo?\n Please choose one from list [ red, green, blue, yellow ].",
    "red green blue yellow circle square triangle",
] * 10


@pytest.fixture(scope="session")
def tiny_vl():
    from mmrl.config import ModelConfig
    from mmrl.models.loading import build_tiny_policy

    return build_tiny_policy(ModelConfig(tiny="vl"), CORPUS)


@pytest.fixture(scope="session")
def tiny_text():
    from mmrl.config import ModelConfig
    from mmrl.models.loading import build_tiny_policy

    return build_tiny_policy(ModelConfig(tiny="text"), CORPUS)
