"""`algo.name` -> algorithm class. Adding an algorithm = one module in mmrl/algos/ + one line here (+ its config
fields in `mmrl.config.AlgoConfig`). Entries are 'module:Class' strings, imported when chosen, so reading the list
of names (config validation) imports no model code."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmrl.algos.base import Algorithm
    from mmrl.config import Config

ALGORITHMS: dict[str, str] = {
    "grpo": "mmrl.algos.grpo:GRPO",
    "ppo": "mmrl.algos.ppo:PPO",
    "rloo": "mmrl.algos.grpo:RLOO",
    "drgrpo": "mmrl.algos.grpo:DrGRPO",
    "dapo": "mmrl.algos.grpo:DAPO",
    "gigpo": "mmrl.algos.gigpo:GiGPO",
    "rover": "mmrl.algos.rover:ROVER",
    "prof": "mmrl.algos.prof:PROF",
    "rise": "mmrl.algos.rise:RISE",
    "rlplus": "mmrl.algos.rlplus:RLPlus",
    "spark": "mmrl.algos.spark:SPARK",
}

ALGORITHM_FIELDS: dict[str, tuple[str, ...]] = {
    "ppo": ("gamma", "gae_lambda", "value_coef", "value_trunk_grad", "value_clip", "thought_coef", "ratio_level",
            "normalize_advantages"),
    "gigpo": ("gamma", "gigpo_omega"),
    "prof": ("prof_drop", "prof_scorer"),
    "rise": ("verify_per_group", "verify_samples", "verify_coef"),
    "spark": ("verify_per_group", "verify_samples", "verify_coef", "self_reward_envs"),
    "rlplus": ("demo_mix", "explore_exponent"),
}
"""`AlgoConfig` fields that only some algorithms read; set under another algorithm, one is a config error."""


def algorithm_class(name: str) -> type[Algorithm]:
    if name not in ALGORITHMS:
        raise ValueError(f"algo.name: unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}")
    module, cls = ALGORITHMS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_algorithm(cfg: Config) -> Algorithm:
    """The algorithm object named by `cfg.algo.name`, built once per run."""
    return algorithm_class(cfg.algo.name)(cfg)
