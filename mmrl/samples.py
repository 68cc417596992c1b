"""What `samples.jsonl` holds: one row per logged episode, turn by turn, with the images the model saw kept as
PNG files in the run directory (`images/<content hash>.png`), so that `mmrl view` (and W&B) can show them.

A row: `step`, `kind` (`train`: a training step's sampled episode; `eval`: a held-out episode of the evaluation at
that step; `eval_after_warm_start`: the held-out evaluation right after the supervised warm-start), `env`, `seed`,
`format` (the env's response format, :mod:`mmrl.formats`), `return`, `success`, `error`, and `turns`: each with
`prompt`, `response`, `reward`, `info` (reward components, GTR's `gtr_thought` / `gtr_corrected_thought`, ...) and
`image` (the PNG's path relative to the run directory, or None: a text turn, an episode past the per-step image
bound, or the size cap reached; then `image_omitted` says which).

Images are bounded three ways: only the first `train.sample_images_per_step` logged episodes of each batch keep
theirs, equal images are stored once (named by a hash of their pixels), and once `images/` holds
`train.sample_images_max_mb` no new file is written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

IMAGE_DIR = "images"
"""Folder of the run directory that holds the episodes' PNG files."""


class ImageStore:
    """PNG files under `<run>/images/`, named by a hash of their pixels (an image seen again is not written twice),
    up to `max_bytes` in all (counting files already there, e.g. from before a resume)."""

    def __init__(self, run_dir: Path, max_bytes: int):
        self.run_dir = Path(run_dir)
        self.folder = self.run_dir / IMAGE_DIR
        self.max_bytes = max_bytes
        self.known: set[str] = set()
        self.total_bytes = 0
        if self.folder.is_dir():
            for path in self.folder.glob("*.png"):
                self.known.add(path.name)
                self.total_bytes += path.stat().st_size

    def put(self, image: Image.Image | np.ndarray) -> str | None:
        """The run-relative path of `image`'s PNG (written now unless an equal image was); None when writing it
        would pass the size cap."""
        pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
        digest = hashlib.blake2b(f"{pil.mode}{pil.size}".encode() + pil.tobytes(), digest_size=16).hexdigest()
        name = f"{digest}.png"
        if name not in self.known:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{name}.tmp"
            pil.save(tmp, format="PNG")
            size = tmp.stat().st_size
            if self.total_bytes + size > self.max_bytes:
                tmp.unlink()
                return None
            tmp.replace(self.folder / name)  # a viewer never reads a half-written file
            self.known.add(name)
            self.total_bytes += size
        return f"{IMAGE_DIR}/{name}"


def spread(items: list, n: int) -> list:
    """`n` items taken evenly over `items` (all of them when there are no more than `n`), in order: the same
    positions at every evaluation, so held-out episodes logged at two steps are the same prompts."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def episode_rows(episodes: list, env_names: list[str], step: int, kind: str, images: ImageStore | None,
                 with_images: int) -> list[dict[str, Any]]:
    """samples.jsonl rows of `episodes` (mmrl.rollout.runner.Episode); the first `with_images` keep their images."""
    rows = []
    for index, ep in enumerate(episodes):
        turns = []
        for turn in ep.turns:
            row = {"prompt": turn.prompt.text, "response": turn.completion.text, "reward": turn.reward,
                   "info": turn.info, "image": None}
            if turn.prompt.images:
                if images is None or index >= with_images:
                    row["image_omitted"] = "per-step bound"
                else:
                    row["image"] = images.put(turn.prompt.images[-1])  # the current observation's image
                    if row["image"] is None:
                        row["image_omitted"] = "size cap"
            turns.append(row)
        rows.append({"step": step, "kind": kind, "env": env_names[ep.request.env_index], "seed": ep.request.seed,
                     "format": ep.response_format.name, "return": ep.total_reward, "success": ep.success,
                     "error": ep.error, "turns": turns})
    return rows
