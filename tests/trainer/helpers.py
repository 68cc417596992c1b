"""Run `mmrl` as a user would: a subprocess with the CLI, on a small config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SMALL = [
    "rollout.group_size=4", "rollout.groups_per_step=4", "rollout.max_new_tokens=4",
    "eval.episodes=8", "train.progress=false", "train.sft_steps=0",
]


def mmrl_env(extra_path: str | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, env.get("PYTHONPATH")) if p)
    return env


def mmrl_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmrl.cli", *args]


def run_mmrl(*args: str, extra_path: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(mmrl_cmd(*args), cwd=REPO, env=mmrl_env(extra_path), capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
