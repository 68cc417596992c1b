"""`mmrl` command line: train, eval, envs, plot."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HELP = """\
mmrl: RL from verifiable rewards for vision-language agents and text LLMs.

commands:
  train CONFIG [key=value ...]   train (or resume) the run a YAML config describes; dotted overrides are parsed
                                 as YAML, e.g. train.total_steps=50 envs='[{id: mypkg:MyEnv-v0}]'
  eval RUN_DIR|CHECKPOINT        evaluate a run's latest checkpoint (or one checkpoint folder) on held-out seeds;
                                 prints JSON with success_rate, pass@k, response_length, format_error_rate
  envs                           list registered mmrl env ids, one per line
  play ENV_ID [key=value ...]    play an env yourself in the terminal (images saved to files, paths printed);
                                 key=value pairs are env kwargs, e.g. mmrl play mmrl/Points24-v0 render_image=true
  plot RUN_DIR                   draw RUN_DIR/plots/training.png from metrics.jsonl
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmrl", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    # The `deepspeed` launcher passes --local_rank=N before the command; the rank is read from torch.distributed.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = sub.add_parser("train", help="train or resume a run", description="Train (or resume) a run.")
    train.add_argument("config", help="YAML config file (see configs/)")
    train.add_argument("overrides", nargs="*", help="dotted key=value overrides, values parsed as YAML")
    train.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    ev = sub.add_parser("eval", help="evaluate a run or checkpoint", description="Evaluate on held-out seeds.")
    ev.add_argument("target", help="run directory (latest checkpoint) or a checkpoints/step_N folder")
    ev.add_argument("overrides", nargs="*", help="overrides, e.g. eval.episodes=200 eval.samples_per_episode=4")
    sub.add_parser("envs", help="list registered env ids", description="List registered mmrl env ids.")
    play = sub.add_parser("play", help="play an env in the terminal", description="Play one episode of an env.")
    play.add_argument("env_id")
    play.add_argument("kwargs", nargs="*", help="env kwargs as key=value, values parsed as YAML")
    play.add_argument("--seed", type=int, default=0)
    play.add_argument("--image-dir", default="runs/play", help="where observation images are saved")
    plot = sub.add_parser("plot", help="plot a run's curves", description="Draw RUN_DIR/plots/training.png.")
    plot.add_argument("run_dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from mmrl.config import ConfigError

    try:
        return _run(args)
    except (ConfigError, FileNotFoundError, ValueError, NotImplementedError) as err:
        print(f"mmrl {args.command}: error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "envs":
        import gymnasium as gym

        import mmrl.envs  # noqa: F401

        for env_id in sorted(k for k in gym.registry if k.startswith("mmrl/")):
            print(env_id)
        return 0
    if args.command == "play":
        import yaml

        from mmrl.config import ConfigError
        from mmrl.play import play

        kwargs = {}
        for item in args.kwargs:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"play: expected key=value, got {item!r}")
            kwargs[key] = yaml.safe_load(value)
        play(args.env_id, kwargs, args.seed, Path(args.image_dir), sys.stdin, sys.stdout)
        return 0
    if args.command == "plot":
        from mmrl.plotting import plot_run

        print(plot_run(args.run_dir))
        return 0
    if args.command == "eval":
        from mmrl.eval import evaluate_checkpoint

        print(json.dumps(evaluate_checkpoint(args.target, args.overrides), indent=2))
        return 0
    from mmrl.config import load_config
    from mmrl.trainer import train

    cfg = load_config(args.config, args.overrides)
    summary = train(cfg)
    if summary:
        print(_story(summary, cfg))
        print(json.dumps(summary, indent=2))
    return 0


def _story(summary: dict, cfg) -> str:
    """One line a person reads: held-out success before, after the warm-start, and after RL."""
    parts = [f"held-out success {summary['initial/eval_success_rate']:.2f} at start"]
    if "sft/eval_success_rate" in summary:
        parts.append(f"{summary['sft/eval_success_rate']:.2f} after the warm-start")
    parts.append(f"{summary['final/eval_success_rate']:.2f} after RL (step {summary['final/step']})")
    from mmrl.trainer import run_directory

    return " -> ".join(parts) + f"; plot: {run_directory(cfg) / 'plots' / 'training.png'}"


if __name__ == "__main__":
    sys.exit(main())
