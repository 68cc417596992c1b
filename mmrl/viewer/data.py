"""What `mmrl view` shows, read from a run directory: metrics rows, the logged episodes with each response split
into thought and action by the env's response format (:mod:`mmrl.formats`, the one owner of that split), episode
filters, and the one rule for which files may be served. No web library here: the server calls these.

A run that is still training is followed: the files are read again whenever their size or time changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mmrl.formats import PLAIN, ResponseFormat, get_format
from mmrl.logger import read_jsonl

SERVED_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                   ".webp": "image/webp"}
"""The only files the viewer serves from a run directory: images (episode observations, plots)."""
GTR_KEYS = ("gtr_verdict", "gtr_thought", "gtr_corrected_thought")


class Refused(Exception):
    """A requested path that points outside the run directory (`..`, an absolute path, a link leaving it)."""


def resolve_served(run_dir: Path, relative: str) -> Path | None:
    """The file under `run_dir` that `relative` names, if the viewer may serve it; None when there is no such
    image file. Raises Refused for a path that leaves the run directory: one holding `..`, an absolute path, a
    backslash or NUL, or a link (anywhere on the way) that resolves outside it."""
    if not relative or "\x00" in relative or "\\" in relative or relative.startswith("/"):
        raise Refused(relative)
    parts = PurePosixPath(relative).parts
    if any(p in ("..", ".") for p in parts) or PurePosixPath(relative).is_absolute():
        raise Refused(relative)
    root = run_dir.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        raise Refused(relative)
    if target.suffix.lower() not in SERVED_SUFFIXES or not target.is_file():
        return None
    return target


def _format(name: Any) -> ResponseFormat:
    try:
        return get_format(name) if isinstance(name, str) else PLAIN
    except ValueError:
        return PLAIN


def view_turn(turn: dict, fmt: ResponseFormat) -> dict[str, Any]:
    """One turn as the page shows it: text fields as they are (the page inserts them as text, never as markup),
    the response split into thought and action, reward components, and GTR's original vs corrected thought."""
    response = turn.get("response") if isinstance(turn.get("response"), str) else ""
    info = turn.get("info") if isinstance(turn.get("info"), dict) else {}
    image = turn.get("image")
    gtr = {k.removeprefix("gtr_"): info[k] for k in GTR_KEYS if k in info}
    return {
        "image": f"files/{image}" if isinstance(image, str) and image else None,
        "image_omitted": turn.get("image_omitted"),
        "prompt": turn.get("prompt") if isinstance(turn.get("prompt"), str) else "",
        "response": response,
        "thought": fmt.thought(response) if fmt.has_thought else None,
        "action": fmt.action(response),
        "reward": turn.get("reward"),
        "rewards": {k.removeprefix("reward/"): v for k, v in info.items() if k.startswith("reward/")},
        "gtr": gtr or None,
        "info": {k: v for k, v in info.items() if not k.startswith("reward/") and k not in GTR_KEYS},
    }


def view_episode(index: int, row: dict) -> dict[str, Any]:
    fmt = _format(row.get("format"))
    turns = row.get("turns") if isinstance(row.get("turns"), list) else []
    return {"id": index, "step": row.get("step"), "kind": row.get("kind", "train"), "env": row.get("env"),
            "seed": row.get("seed"), "format": fmt.name, "return": row.get("return"),
            "success": bool(row.get("success")), "error": row.get("error"),
            "turns": [view_turn(t, fmt) for t in turns if isinstance(t, dict)]}


@dataclass
class EpisodeFilter:
    """Which logged episodes to show; None matches all."""

    kind: str | None = None
    step: int | None = None
    env: str | None = None
    success: bool | None = None
    min_return: float | None = None
    max_return: float | None = None

    def matches(self, row: dict) -> bool:
        ret = row.get("return")
        ret = ret if isinstance(ret, (int, float)) and math.isfinite(ret) else None
        return ((self.kind is None or row.get("kind", "train") == self.kind)
                and (self.step is None or row.get("step") == self.step)
                and (self.env is None or row.get("env") == self.env)
                and (self.success is None or bool(row.get("success")) == self.success)
                and (self.min_return is None or (ret is not None and ret >= self.min_return))
                and (self.max_return is None or (ret is not None and ret <= self.max_return)))


class RunData:
    """A run directory's metrics and samples, read again when the files change."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._cache: dict[str, tuple[tuple[int, int], list[dict]]] = {}

    def _rows(self, name: str) -> list[dict]:
        path = self.run_dir / name
        try:
            stat = path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            return []
        cached = self._cache.get(name)
        if cached is None or cached[0] != key:
            rows = [r for r in read_jsonl(path) if isinstance(r, dict)]
            self._cache[name] = cached = (key, rows)
        return cached[1]

    def metrics(self) -> list[dict]:
        return self._rows("metrics.jsonl")

    def samples(self) -> list[dict]:
        return self._rows("samples.jsonl")

    def version(self) -> str:
        """Changes whenever metrics.jsonl or samples.jsonl does (the page polls it to follow a running run)."""
        parts = []
        for name in ("metrics.jsonl", "samples.jsonl"):
            try:
                stat = (self.run_dir / name).stat()
                parts.append(f"{stat.st_mtime_ns}-{stat.st_size}")
            except OSError:
                parts.append("-")
        return "/".join(parts)

    def summary(self) -> dict[str, Any]:
        samples = self.samples()
        steps = sorted({r["step"] for r in samples if isinstance(r.get("step"), int)})
        return {"name": self.run_dir.resolve().name, "version": self.version(), "steps": steps,
                "kinds": sorted({str(r.get("kind", "train")) for r in samples}),
                "envs": sorted({str(r.get("env")) for r in samples}), "episodes": len(samples),
                "plots": sorted(p.name for p in (self.run_dir / "plots").glob("*.png"))
                if (self.run_dir / "plots").is_dir() else []}

    def episodes(self, where: EpisodeFilter, limit: int = 200) -> tuple[int, list[dict]]:
        """(how many logged episodes match, the newest `limit` of them (last logged first) as the page shows them)."""
        matched = [(i, r) for i, r in enumerate(self.samples()) if where.matches(r)]
        return len(matched), [view_episode(i, r) for i, r in reversed(matched[-limit:])]
