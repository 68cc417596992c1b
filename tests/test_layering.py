"""Arrows point down: envs and rewards import nothing of the trainer side; core modules do not reach into an env
family; the mixture search uses the trainer's public API, not the CLI or private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TRAINER_SIDE = ("mmrl.config", "mmrl.metrics", "mmrl.trainer", "mmrl.correctors", "mmrl.rollout", "mmrl.models",
                "mmrl.eval", "mmrl.cli", "mmrl.logger", "mmrl.distributed", "mmrl.ppo", "mmrl.algos")


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement in a file, nested ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [alias.name for alias in node.names]))
    return out


def files(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", ["envs", "rewards"])
def test_envs_and_rewards_import_nothing_of_the_trainer_side(folder):
    bad = [(p.relative_to(REPO), m) for p in files(folder) for m, _ in imports(p) if m.startswith(TRAINER_SIDE)]
    assert not bad


def test_core_modules_do_not_import_an_env_family():
    """(The CLI's `mmrl alfworld generate` command is that family's tool, the one exception.)"""
    bad = [(p.relative_to(REPO), m) for p in files("mmrl") for m, _ in imports(p)
           if m.startswith(("mmrl.envs.cards", "mmrl.envs.text", "mmrl.envs.vqa", "mmrl.envs.alfworld"))
           and (p.name, m) != ("cli.py", "mmrl.envs.alfworld.generate")]
    assert not bad


def test_the_mixture_search_uses_only_public_names_and_not_the_cli():
    bad = [(p.relative_to(REPO), m, n) for p in files("mixtures") for m, names in imports(p)
           for n in names or [""] if m.startswith("mmrl.") and not m.startswith("mmrl.mixtures")
           and (m == "mmrl.cli" or n.startswith("_"))]
    assert not bad
