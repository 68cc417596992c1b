"""The command line as a new user meets it: help, envs, a user's own env, eval, plot, and clear errors."""

from __future__ import annotations

import json
import textwrap

import pytest

from mmrl.logger import read_jsonl
from tests.trainer.helpers import SMALL, run_mmrl

USER_MODULE = '''
"""A user's own env, registered outside mmrl: the answer is the number of letters in a word."""
import gymnasium as gym
import numpy as np
from gymnasium import spaces


class LetterCount(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Dict({
            "text": spaces.Text(200, charset="abcdefghijklmnopqrstuvwxyzHowmanylettersin?: "),
            "image": spaces.Box(0, 255, (32, 32, 3), np.uint8),
        })
        self.action_space = spaces.Text(64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.word = ["cat", "house", "tree"][int(self.np_random.integers(3))]
        image = np.full((32, 32, 3), 40 * len(self.word), np.uint8)
        return {"text": f"How many letters in {self.word}?", "image": image}, {"expert_action": str(len(self.word))}

    def step(self, action):
        correct = action.strip() == str(len(self.word))
        obs = {"text": "done", "image": np.zeros((32, 32, 3), np.uint8)}
        return obs, 2.0 if correct else 0.5, True, False, {"success": correct}


gym.register("their/Env-v0", entry_point=LetterCount)
'''


def test_help_lists_every_command():
    out = run_mmrl("--help")
    assert out.returncode == 0
    for command in ("train", "eval", "envs", "plot"):
        assert command in out.stdout


def test_envs_lists_registered_ids():
    out = run_mmrl("envs")
    assert out.returncode == 0
    assert "mmrl/Classification-v0" in out.stdout.splitlines()


def test_config_typo_names_the_key(tmp_path):
    out = run_mmrl("train", "configs/quickstart.yaml", "rollout.grup_size=4", f"train.output_dir={tmp_path}")
    assert out.returncode == 2
    assert "rollout.grup_size" in out.stderr and "group_size" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_model_path_names_the_path(tmp_path):
    out = run_mmrl("train", "configs/quickstart.yaml", "model.path=/models/not-here", f"train.output_dir={tmp_path}")
    assert out.returncode == 2 and "/models/not-here" in out.stderr


@pytest.mark.slow
def test_users_own_env_trains_then_evaluates_and_plots(tmp_path):
    module_dir = tmp_path / "site"
    module_dir.mkdir()
    (module_dir / "theirmodule.py").write_text(textwrap.dedent(USER_MODULE))
    run_dir = tmp_path / "run"
    out = run_mmrl("train", "configs/quickstart.yaml", "envs=[{id: 'theirmodule:their/Env-v0'}]", *SMALL,
                   "train.total_steps=2", f"train.output_dir={run_dir}", extra_path=str(module_dir))
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "train/return_mean" in r]
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:  # every episode scored by the user's env: 0.5 or 2.0 each
        assert 0.5 <= r["train/return_mean"] <= 2.0
    samples = read_jsonl(run_dir / "samples.jsonl")
    assert samples and samples[0]["env"] == "theirmodule:their/Env-v0"
    assert "How many letters in" in samples[0]["turns"][0]["prompt"]
    assert (run_dir / "checkpoints" / "step_2" / "model.safetensors").is_file()
    assert (run_dir / "plots" / "training.png").is_file()

    evaluated = run_mmrl("eval", str(run_dir), extra_path=str(module_dir))
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    result = json.loads(evaluated.stdout)
    assert 0.0 <= result["success_rate"] <= 1.0 and result["checkpoint"].endswith("step_2")
    last_eval = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "eval/success_rate" in r][-1]
    assert result["success_rate"] == last_eval["eval/success_rate"]  # same checkpoint, seeds and decoding

    (run_dir / "plots" / "training.png").unlink()
    plotted = run_mmrl("plot", str(run_dir))
    assert plotted.returncode == 0 and (run_dir / "plots" / "training.png").is_file()


LABEL_FREE_MODULE = '''
"""A user's env as the Gymnasium docs teach it: its info gives only `success` (no expert, no admissible list)."""
import gymnasium as gym
from gymnasium import spaces


class SayYes(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Text(64)
        self.action_space = spaces.Text(64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "Say yes.", {}

    def step(self, action):
        said = action.strip().lower() == "yes"
        return "Said.", float(said), True, False, {"success": said}


gym.register("their/Env-v0", entry_point=SayYes)
'''


def test_the_readme_command_trains_a_label_free_user_env(tmp_path):
    """`mmrl train configs/quickstart.yaml envs='[{id: theirmodule:their/Env-v0}]'` with the quickstart's
    warm-start left on: the env has nothing to warm-start on, so one warning line says the warm-start is skipped."""
    (tmp_path / "theirmodule.py").write_text(textwrap.dedent(LABEL_FREE_MODULE))
    run_dir = tmp_path / "run"
    out = run_mmrl("train", "configs/quickstart.yaml", "envs=[{id: theirmodule:their/Env-v0}]",
                   "rollout.group_size=2", "rollout.groups_per_step=2", "eval.episodes=2", "train.progress=false",
                   "train.total_steps=1", f"train.output_dir={run_dir}", extra_path=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    warnings = [line for line in out.stdout.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: train.sft_steps > 0 but theirmodule:their/Env-v0 gives no "
                        "info['admissible_actions'] at reset: the warm-start is skipped"]
    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "train/return_mean" in r]
    assert [r["step"] for r in rows] == [1]
    assert not any(k.startswith("sft/") for r in read_jsonl(run_dir / "metrics.jsonl") for k in r)


def test_a_bug_shows_its_traceback_while_user_errors_are_one_line(monkeypatch, capsys):
    """`mmrl` turns only user errors (config, paths, data) into one line and exit status 2; a ValueError raised
    by a bug inside the trainer propagates with its traceback."""
    import mmrl.trainer
    from mmrl.cli import main

    def broken(cfg):
        raise ValueError("a bug inside the trainer")

    monkeypatch.setattr(mmrl.trainer, "train", broken)
    with pytest.raises(ValueError, match="a bug inside the trainer"):
        main(["train", "configs/quickstart.yaml", "train.progress=false"])
    assert main(["train", "configs/quickstart.yaml", "optim.lrr=1"]) == 2
    assert main(["play", "mmrl/NoSuchEnv-v0"]) == 2
    assert main(["eval", "/no/such/run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("mmrl ") and ": error: " in line for line in err)
    assert "optim.lrr" in err[0] and "NoSuchEnv" in err[1] and "/no/such/run" in err[2]
