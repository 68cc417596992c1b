"""Agent diagnostics of multi-turn episodes: invalid-action rate, success by turn, success per task type, and the
plot that draws them."""

from __future__ import annotations

from mmrl.distributed import DistContext
from mmrl.episode_metrics import episode_metrics, turn_marks
from mmrl.logger import read_jsonl
from mmrl.plotting import plot_run
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn


def _episode(task_type: str, invalid: list[bool], won: bool) -> Episode:
    turns = [Turn(None, Completion([1], "x", True), 0.0, {"invalid_action": bad, "success": False}) for bad in invalid]
    turns[-1].info["success"] = won
    return Episode(EpisodeRequest(0, 0), {"task_type": task_type}, turns)


def test_invalid_actions_success_by_turn_and_per_task_type():
    episodes = [_episode("heat", [True, False], True),              # won at turn 2
                _episode("heat", [True, True, True, True, True], False),
                _episode("cool", [False], True)]                    # won at turn 1
    m = episode_metrics(episodes, ["alfworld"], DistContext(), "eval")
    assert m["eval/invalid_action_rate"] == 6 / 8
    assert turn_marks(5) == [1, 2, 4, 5]
    assert [m[f"eval/success_by_turn/{k}"] for k in (1, 2, 4, 5)] == [1 / 3, 2 / 3, 2 / 3, 2 / 3]
    assert m["eval/success_turn_mean"] == 1.5
    assert m["eval/task/heat/success_rate"] == 0.5 and m["eval/task/cool/success_rate"] == 1.0
    one_step = episode_metrics([_episode("x", [False], True)], ["a"], DistContext(), "train")
    assert not any("success_by_turn" in k for k in one_step)  # one-step runs: no per-turn curve


def test_plot_run_draws_the_agent_diagnostics_of_a_multi_turn_run(tmp_path):
    import json

    rows = [{"step": s, "eval/turns_mean": 5 - s, "eval/invalid_action_rate": 0.5 / (s + 1),
             "eval/success_by_turn/1": 0.1 * s, "eval/success_by_turn/4": 0.2 * s, "eval/task/heat/success_rate": 0.2,
             "train/return_mean": 0.0, "train/success_rate": 0.0, "eval/success_rate": 0.2 * s} for s in range(3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_run(tmp_path)
    assert (tmp_path / "plots" / "agent.png").stat().st_size > 10_000 and len(read_jsonl(tmp_path / "metrics.jsonl"))
