"""`mmrl serve MODEL_DIR [vLLM server options]`: vLLM's OpenAI-compatible server on a checkpoint folder.

The endpoint GTR's `openai` corrector (or any OpenAI client) talks to, e.g. a run's checkpoint as a corrector:
`mmrl serve runs/x/checkpoints/step_100 --host 127.0.0.1 --port 8000 --served-model-name corrector`. It is vLLM's
own server (`vllm.entrypoints.openai.api_server`); mmrl only prepares the process: on CPU machines a KV-cache size
(1 GiB unless VLLM_CPU_KVCACHE_SPACE is set) and the torchvision fix for vLLM's child processes
(`mmrl.models.torchvision_compat`). On a GPU machine `vllm serve MODEL_DIR` does the same.
"""

from __future__ import annotations

import os
import sys


def server_command(model_dir: str, options: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start vLLM's server on `model_dir`."""
    import torch

    from mmrl.models.torchvision_compat import child_process_environment, ensure_torchvision_importable

    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise FileNotFoundError(f"serve: {model_dir!r} is not a checkpoint folder (no config.json)")
    ensure_torchvision_importable()
    env = dict(os.environ) | child_process_environment()
    if not torch.cuda.is_available():
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, *options], env


def serve(model_dir: str, options: list[str]) -> None:
    """Replace this process with the server (signals and exit codes are then vLLM's own)."""
    command, env = server_command(model_dir, options)
    os.execve(command[0], command, env)
