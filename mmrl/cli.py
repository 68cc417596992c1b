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
  view RUN_DIR [--port P]        browse a run in a local web page (curves; episodes with images, thought/action,
                                 rewards, GTR corrections); follows a run still training (the `view` extra)
  iterate CONFIG --rounds N [k=v ...]  iterative SFT <-> RL: RL, SFT on the run's successes, RL again (each
                                 round's held-out success in <out>/iterate.md and .png); --astro: round 0's SFT on
                                 depth-first search traces (Countdown)
  serve MODEL_DIR [options ...]  vLLM's OpenAI-compatible server on a checkpoint folder (a GTR corrector endpoint);
                                 options go to vLLM's server, e.g. --port 8000 --served-model-name corrector
  mixture search CONFIG [k=v ...]  MoDoMoDo: proxy runs on proposed env mixtures, fit, optimise (, confirm)
  mixture fit RESULTS_CSV        fit the quadratic predictor to a search's results; writes predictor.json
  mixture optimize RESULTS_CSV   print the mixture the fitted predictor scores highest (JSON)
  demos ENV_ID [key=value ...] --n N --out PATH
                                 write N demonstrations of the env's expert (JSONL + PNG images; train.demos)
  demos --from-run RUN_DIR --out PATH
                                 the successful sampled episodes of a run as demonstrations (iterative SFT -> RL)
  alfworld generate --out DIR --n N [--tasks T ...] [--split S] [--seed S]
                                 write N solvable ALFWorld games (ALFWorld's folder layout) from the FloorPlan
                                 layouts the alfworld wheel ships; load them with mmrl/ALFWorld-v0 data_path=DIR

exit status: 0 done; 2 a user error (config, path, data: one line names it); 3 training stopped by a fault guard
(non-finite steps in a row, non-finite weights, a final checkpoint that could not be written); 143 / 130 stopped by
SIGTERM / SIGINT after writing a checkpoint (the same command resumes)
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
    it = sub.add_parser("iterate", help="iterative SFT <-> RL", description="Iterative SFT <-> RL rounds.")
    it.add_argument("config")
    it.add_argument("overrides", nargs="*", help="dotted key=value overrides for every round")
    it.add_argument("--rounds", type=int, default=2)
    it.add_argument("--sft-from", default="current", help="current (the last round's policy) or fresh")
    it.add_argument("--sft-steps", type=int, default=50, help="supervised steps on the last round's successes")
    it.add_argument("--astro", action="store_true", help="round 0's SFT on search traces")
    it.add_argument("--out", default=None, help="folder of the rounds (default runs/<run_name>_iterate)")
    plot = sub.add_parser("plot", help="plot a run's curves", description="Draw RUN_DIR/plots/training.png.")
    plot.add_argument("run_dir")
    view = sub.add_parser("view", help="browse a run in a local web page",
                          description="Serve a page to browse RUN_DIR's curves and episodes (127.0.0.1 only).")
    view.add_argument("run_dir")
    view.add_argument("--port", type=int, default=8765)
    view.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve = sub.add_parser("serve", help="serve a checkpoint with vLLM's OpenAI-compatible server",
                           description="Start vLLM's OpenAI-compatible server on a checkpoint folder (e.g. for "
                                       "gtr.corrector: openai); options after MODEL_DIR go to vLLM's server.")
    serve.add_argument("model_dir")
    serve.add_argument("options", nargs=argparse.REMAINDER, help="vLLM server options, e.g. --port 8000")
    demos = sub.add_parser("demos", help="write demonstrations (JSONL) for train.demos",
                           description="Write demonstrations from an env's expert or from a run's successes.")
    demos.add_argument("env_id", nargs="?", help="env id whose expert plays (omit with --from-run)")
    demos.add_argument("kwargs", nargs="*", help="env kwargs as key=value, values parsed as YAML")
    demos.add_argument("--n", type=int, default=None, help="number of episodes (with ENV_ID)")
    demos.add_argument("--out", required=True, help="output JSONL (images go to <stem>_images/ beside it)")
    demos.add_argument("--seed", type=int, default=0, help="first reset seed (default 0)")
    demos.add_argument("--max-steps", type=int, default=100, help="longest episode (default 100)")
    demos.add_argument("--keep-failures", action="store_true", help="keep expert episodes that do not succeed")
    demos.add_argument("--from-run", default=None, help="a run directory: its successful sampled episodes")
    _add_mixture_parser(sub)
    _add_alfworld_parser(sub)
    return parser


def _add_alfworld_parser(sub) -> None:
    alf = sub.add_parser("alfworld", help="ALFWorld games", description="ALFWorld game tools.")
    asub = alf.add_subparsers(dest="alfworld_command", required=True, metavar="ACTION")
    gen = asub.add_parser("generate", help="generate solvable games from the wheel's FloorPlan layouts")
    gen.add_argument("--out", required=True, help="output folder (games go to OUT/SPLIT/...)")
    gen.add_argument("--n", type=int, required=True, help="number of games (task types taken in turn)")
    gen.add_argument("--tasks", nargs="+", default=None, help="task types (default: all six)")
    gen.add_argument("--split", default="train", help="split folder name (default: train)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--max-receptacles", type=int, default=16, help="only scenes this small (default 16)")
    gen.add_argument("--distractors", type=int, default=4, help="other objects placed per game (default 4)")


def _add_mixture_parser(sub) -> None:
    mix = sub.add_parser("mixture", help="search env mixtures (MoDoMoDo)", description="Mixture search.")
    msub = mix.add_subparsers(dest="mixture_command", required=True, metavar="ACTION")
    search = msub.add_parser("search", help="proxy runs -> predictor -> best mixture")
    search.add_argument("config", help="mixture search YAML (see configs/mixture_quickstart.yaml)")
    search.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. search.n_random=2")
    fit = msub.add_parser("fit", help="fit the predictor to a results.csv")
    fit.add_argument("results", help="results.csv of a search")
    fit.add_argument("--ridge", type=float, default=None, help="ridge (default: chosen by cross-validation)")
    opt = msub.add_parser("optimize", help="best mixture of a results.csv")
    opt.add_argument("results", help="results.csv of a search")
    opt.add_argument("--ridge", type=float, default=None, help="ridge (default: chosen by cross-validation)")
    opt.add_argument("--bounds", default=None, help="per-domain bounds as JSON, e.g. '[[0,1],[0.1,0.5],[0,1]]'")


def _run_mixture(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mmrl.mixtures import search

    if args.mixture_command == "search":
        cfg = search.load_search_config(args.config, args.overrides)
        try:
            summary = search.run_search(cfg)
        except (KeyboardInterrupt, SystemExit) as stop:  # SystemExit: SIGTERM (its proxy runs are killed)
            print(f"mmrl mixture search: stopped; finished runs are in {search.search_directory(cfg)}/results.csv "
                  "and the same command resumes", file=sys.stderr)
            return 130 if isinstance(stop, KeyboardInterrupt) else int(stop.code or 1)
        print(json.dumps({k: summary[k] for k in ("search_dir", "n_runs", "n_failed", "best")}, indent=2))
        return 0
    from mmrl.config import UserError

    domains, _, rows = search.read_results(args.results)
    try:
        bounds = json.loads(args.bounds) if getattr(args, "bounds", None) else None
    except json.JSONDecodeError as err:
        raise UserError(f"--bounds is not JSON: {err}") from None
    W, y = search.ok_rows(rows)
    predictor, report = search.fit_predictor(W, y, domains, args.ridge)
    if args.mixture_command == "fit":
        path = Path(args.results).parent / "predictor.json"
        path.write_text(json.dumps({**predictor.to_dict(), **report}, indent=2) + "\n")
        print(json.dumps({k: report[k] for k in ("n_runs", "ridge", "ridge_choice", "cv", "terms")}, indent=2))
        print(f"wrote {path}")
        return 0
    print(json.dumps(search.best_mixture(predictor, domains, bounds), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from mmrl.config import UserError
    from mmrl.faults import RunHalted

    try:
        return _run(args)
    except UserError as err:  # a config, path or data the user can fix: one line; anything else is a bug
        print(f"mmrl {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except RunHalted as stop:  # a fault guard or a stop signal ended the run on purpose (mmrl/faults.py)
        print(f"mmrl {args.command}: {' '.join(str(stop).split())}", file=sys.stderr)
        return stop.code


def _run(args: argparse.Namespace) -> int:
    if args.command == "envs":
        import gymnasium as gym

        import mmrl.envs  # noqa: F401

        for env_id in sorted(k for k in gym.registry if k.startswith("mmrl/")):
            print(env_id)
        return 0
    if args.command == "play":
        from mmrl.config import ConfigError, parse_yaml
        from mmrl.play import play

        kwargs = {}
        for item in args.kwargs:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"play: expected key=value, got {item!r}")
            kwargs[key] = parse_yaml(value)
        play(args.env_id, kwargs, args.seed, Path(args.image_dir), sys.stdin, sys.stdout)
        return 0
    if args.command == "iterate":
        from mmrl.iterate import iterate

        iterate(args.config, args.overrides, args.rounds, args.sft_from, args.sft_steps, args.astro, out=args.out)
        return 0
    if args.command == "plot":
        from mmrl.plotting import plot_run

        print(plot_run(args.run_dir))
        return 0
    if args.command == "mixture":
        return _run_mixture(args)
    if args.command == "view":
        from mmrl.viewer import view

        view(args.run_dir, args.host, args.port)
        return 0
    if args.command == "serve":
        from mmrl.serve import serve

        serve(args.model_dir, args.options)
        return 0
    if args.command == "alfworld":
        from mmrl.config import UserError
        from mmrl.envs.alfworld.generate import TASK_TYPES, generate, summarize

        try:
            games = generate(args.out, args.n, args.tasks or TASK_TYPES, args.split, args.seed,
                             args.max_receptacles, args.distractors, log=lambda line: print(line, file=sys.stderr))
        except ValueError as err:  # the arguments ask for games that cannot be made
            raise UserError(f"alfworld generate: {err}") from err
        print(json.dumps(summarize(games), indent=2))
        return 0
    if args.command == "demos":
        return _run_demos(args)
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


def _run_demos(args: argparse.Namespace) -> int:
    from mmrl import demos
    from mmrl.config import EnvSpec, UserError

    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if args.from_run is not None:
        if args.env_id is not None or args.n is not None:
            raise UserError("demos: give either ENV_ID --n N or --from-run RUN_DIR, not both")
        written = demos.run_demos(args.from_run, log)
    else:
        if args.env_id is None or args.n is None or args.n <= 0:
            raise UserError("demos: give ENV_ID and --n N > 0 (or --from-run RUN_DIR)")
        spec = EnvSpec(id=args.env_id, kwargs=demos.parse_env_kwargs(args.kwargs))
        written = demos.expert_demos(spec, args.n, args.seed, args.max_steps, not args.keep_failures, log)
    n = demos.write_demos(args.out, written)
    turns = sum(len(d.turns) for d in written)
    print(json.dumps({"out": args.out, "demos": n, "turns": turns,
                      "successes": sum(bool(d.success) for d in written)}, indent=2))
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
