"""Checkpoints under `<run>/checkpoints/step_N/`: the model (save_pretrained, safetensors), trainer state and
RNG states. Written into `step_N.tmp/` and renamed when complete, with a `COMPLETE` marker, so a run killed
mid-save never leaves a checkpoint that looks usable.

Faults (mmrl/faults.py has the loop's side): a write that fails for lack of space or permission is described in
plain words (`write_problem`) and its `step_N.tmp` removed, so the previous checkpoint stays the latest; a checkpoint
whose files are missing, truncated or hold non-finite weights is skipped for the newest usable one
(`latest_usable`, used by resume and by `mmrl eval`).
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

MARKER = "COMPLETE"
_STEP_DIR = re.compile(r"^step_(\d+)$")


def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step}"


def temp_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step}.tmp"


def complete_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every finished checkpoint, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / MARKER).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = complete_checkpoints(run_dir)
    return found[-1][1] if found else None


def begin(run_dir: str | Path, step: int) -> Path:
    """A fresh temporary folder to write step `step` into (a stale one from a killed save is removed)."""
    tmp = temp_dir(run_dir, step)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def finish(run_dir: str | Path, step: int, keep: int) -> Path:
    """Mark the temporary folder complete, move it into place, and prune all but the `keep` newest up to `step`
    (a later one is left for this run to overwrite: it was skipped as unusable, or belongs to an older attempt)."""
    tmp, final = temp_dir(run_dir, step), checkpoint_dir(run_dir, step)
    (tmp / MARKER).write_text("ok\n")
    with open(tmp / MARKER) as fh:  # flush the marker before the rename makes it visible
        os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    done = [(s, p) for s, p in complete_checkpoints(run_dir) if s <= step]
    for _, old in done[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def abandon(run_dir: str | Path, step: int) -> None:
    """Remove the temporary folder of a save that failed (best effort: the disk may still refuse)."""
    shutil.rmtree(temp_dir(run_dir, step), ignore_errors=True)


_FULL_DISK_MARKS = ("unexpected pos", "PytorchStreamWriter", "file write failed", "No space left")


def write_problem(err: BaseException, directory: str | Path) -> str | None:
    """Plain words for a checkpoint write that failed because of the storage (full disk, read-only or not writable
    folder), with the free space left; None for any other error (a bug, which keeps its traceback). torch.save
    reports a full disk as a RuntimeError ('[enforce fail at inline_container.cc] unexpected pos')."""
    code = getattr(err, "errno", None)
    if isinstance(err, OSError) and code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{directory} is not writable ({os.strerror(code).lower()})"
    storage = (isinstance(err, OSError) and code in (errno.ENOSPC, errno.EDQUOT)) or (
        isinstance(err, RuntimeError) and any(mark in str(err) for mark in _FULL_DISK_MARKS))
    if not storage and isinstance(err, OSError) and code == errno.EIO:
        storage = True
    if not storage:
        return None
    return f"the disk is full or failing (no space left on device?): {_free_space(directory)} ({type(err).__name__})"


class Writer:
    """Runs the steps of one checkpoint write, keeping the first storage problem (`write_problem`) instead of
    raising it; once one failed, later steps are skipped except collective ones (which every process must enter).
    Any other error is a bug and propagates."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.problem: str | None = None

    def __call__(self, write: Callable[[], object], collective: bool = False) -> None:
        if self.problem is not None and not collective:
            return
        try:
            write()
        except (OSError, RuntimeError) as err:
            why = write_problem(err, self.directory)
            if why is None:
                raise
            self.problem = self.problem or why


def _free_space(directory: str | Path) -> str:
    path = Path(directory)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return "free space unknown"
    return f"{free / 2**20:.0f} MiB free on the disk holding {path}"


def weight_files(path: Path) -> list[Path]:
    """The safetensors files holding a checkpoint's weights (full model, shards, or a LoRA adapter)."""
    return sorted(path.glob("*.safetensors"))


def nonfinite_weights(files: list[Path]) -> str | None:
    """The first tensor holding NaN or inf in `files` ('file: tensor'), else None; reads one tensor at a time."""
    import torch
    from safetensors import safe_open

    for file in files:
        with safe_open(str(file), "pt") as fh:
            for name in fh.keys():
                tensor = fh.get_tensor(name)
                if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                    return f"{file.name}: {name}"
    return None


def problem(path: str | Path, rank: int = 0, for_training: bool = True) -> str | None:
    """Why checkpoint folder `path` cannot be used, in plain words, or None when it can: a missing file, a
    truncated or corrupt weights or state file, or weights holding NaN/inf. `for_training` also checks what resuming
    needs (trainer state, optimiser, this rank's RNG state); evaluation needs only the weights."""
    path = Path(path)
    files = weight_files(path)
    if not files:
        return "it holds no *.safetensors weights"
    from safetensors import SafetensorError, safe_open

    for file in files:
        try:
            with safe_open(str(file), "pt"):
                pass
        except (SafetensorError, OSError) as err:
            return f"{file.name} is truncated or corrupt ({' '.join(str(err).split())})"
    if for_training:
        needed = ["trainer_state.pt", f"rng_rank{rank}.pt"]
        if not (path / "deepspeed").is_dir():
            needed.append("optimizer.pt")
        for name in needed:
            if not (path / name).is_file():
                return f"{name} is missing"
            try:
                zipfile.ZipFile(path / name).close()  # torch.save writes a zip: a cut file has no central directory
            except (zipfile.BadZipFile, OSError):
                return f"{name} is truncated or corrupt"
    bad = nonfinite_weights(files)
    if bad is not None:
        return f"its weights hold NaN or inf ({bad})"
    return None


def latest_usable(run_dir: str | Path, rank: int = 0, for_training: bool = True,
                  warn: Callable[[str], None] = print) -> Path | None:
    """The newest complete checkpoint that `problem` finds nothing wrong with; each newer one skipped is named
    with its reason through `warn`."""
    for _, path in reversed(complete_checkpoints(run_dir)):
        why = problem(path, rank, for_training)
        if why is None:
            return path
        warn(f"warning: checkpoint {path} is unusable ({why}); trying the one before it")
    return None


def rng_state() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
