"""benchmarks/compare_gtr.py reads two runs' metrics, plots them and prints held-out and diversity numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _write_run(run_dir: Path, success: list[float], distinct: float) -> None:
    run_dir.mkdir(parents=True)
    rows = [{"step": 0, "eval/success_rate": 0.0}, {"step": 0, "sft/success_rate": 0.5}]
    for step, s in enumerate(success, start=1):
        rows.append({"step": step, "train/success_rate": s, "gtr/thought_distinct_2": distinct,
                     "gtr/thought_duplicate_fraction": 1 - distinct, "gtr/correction_rate": 0.1,
                     "eval/success_rate": s, "eval/thought_distinct_2": distinct,
                     "eval/thought_duplicate_fraction": 1 - distinct})
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_compare_gtr_summarises_and_plots_existing_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop("compare_gtr", None)
    import compare_gtr

    _write_run(tmp_path / "ppo", [0.5, 0.6, 0.7], 0.2)
    _write_run(tmp_path / "ppo___gtr__oracle", [0.5, 0.8, 0.9], 0.6)
    plot = tmp_path / "gtr.png"
    assert compare_gtr.main(["--skip-train", "--out-dir", str(tmp_path), "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 10_000
    out = capsys.readouterr().out
    ppo_line = next(line for line in out.splitlines() if line.startswith("PPO "))
    gtr_line = next(line for line in out.splitlines() if line.startswith("PPO + GTR"))
    # held-out start (after warm-start) 0.5, end = last eval, train mean of the last 10 steps, distinct-2
    assert [float(x) for x in ppo_line.split()[1:5]] == [0.5, 0.7, 0.6, 0.2]
    assert [float(x) for x in gtr_line.split()[4:8]] == [0.5, 0.9, round(2.2 / 3, 3), 0.6]
