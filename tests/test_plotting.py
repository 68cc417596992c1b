"""plots/training.png gains a per-env success panel when a run has several envs; pass@k is drawn when evaluated."""

from __future__ import annotations

import json

from PIL import Image

from mmrl.plotting import held_out_curve, per_env_success_keys, plot_run


def _write(run_dir, rows):
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_per_env_success_and_pass_at_k_are_plotted(tmp_path):
    base = [{"step": s, "train/return_mean": s / 4, "train/success_rate": s / 4} for s in (1, 2, 3)]
    evals = [{"step": s, "eval/success_rate": s / 4, "eval/pass@1": s / 4, "eval/pass@2": s / 3, "eval/pass@4": s / 3.5}
             for s in (0, 3)]
    per_env = [{"step": s, "train/a/success_rate": 0.1 * s, "train/mmrl/B-v0/success_rate": 0.2 * s,
                "eval/a/success_rate": 0.3} for s in (1, 2, 3)]
    _write(tmp_path / "one", base + evals)
    _write(tmp_path / "two", base + evals + per_env)
    assert per_env_success_keys(base + per_env) == ["eval/a/success_rate", "train/a/success_rate",
                                                    "train/mmrl/B-v0/success_rate"]
    one, two = plot_run(tmp_path / "one"), plot_run(tmp_path / "two")
    assert Image.open(two).size[0] > 1.4 * Image.open(one).size[0]  # a third panel: success per env
    assert (tmp_path / "two" / "plots" / "pass_at_k.png").is_file()  # the last evaluation's pass@1, 2, 4


def test_the_held_out_curve_starts_from_the_warm_started_score():
    """RL starts from the warm-started weights: the curve's step 0 is the score after the warm-start, and the untouched
    model's step-0 score comes apart (a lone marker), not as a line climbing from 0 over the first RL steps."""
    rows = [{"step": 0, "eval/success_rate": 0.0}, {"step": 0, "sft/success_rate": 0.54},
            {"step": 10, "eval/success_rate": 0.6}, {"step": 20, "eval/success_rate": 0.42}]
    assert held_out_curve(rows) == ([(0, 0.54), (10, 0.6), (20, 0.42)], 0.0)
    no_warm_start = [r for r in rows if "sft/success_rate" not in r]
    assert held_out_curve(no_warm_start) == ([(0, 0.0), (10, 0.6), (20, 0.42)], None)
