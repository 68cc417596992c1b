"""Run by Python at start-up in processes whose PYTHONPATH holds this folder: vLLM's child processes (its engine
core, its model inspection) when mmrl starts vLLM on a machine whose torchvision cannot load (the CPU install).
They import torchvision before anything of mmrl, so the fix of `mmrl.models.torchvision_compat` is applied here.
"""

from mmrl.models.torchvision_compat import ensure_torchvision_importable

ensure_torchvision_importable()
