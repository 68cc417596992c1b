"""Demonstration files: expert -> JSONL (+ PNG) -> read -> warm-start pairs with RL's prompts; errors name the line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmrl.cli import main
from mmrl.config import EnvSpec, RolloutConfig, load_config, save_config
from mmrl.demos import DemoError, demo_inputs, expert_demos, read_demos, run_demos, write_demos
from mmrl.distributed import DistContext
from mmrl.rollout.backends import HFBackend, SamplingParams
from mmrl.rollout.runner import EnvPool, EpisodeRequest, EpisodeRunner
from mmrl.warm_start import demo_file

NUMBERLINE = EnvSpec(id="mmrl/NumberLine-v0")  # images


def test_expert_demos_round_trip_into_the_warm_start_with_rl_prompts(tiny_vl, tmp_path):
    demos = expert_demos(NUMBERLINE, 2, seed=4)
    assert len(demos) == 2 and all(d.success and len(d.turns) >= 1 for d in demos)
    path = tmp_path / "demos.jsonl"
    assert write_demos(path, demos) == 2
    back = read_demos(path)
    assert [d.seed for d in back] == [4, 5] and back[0].env == "mmrl/NumberLine-v0"
    for a, b in zip(demos, back):
        assert [t.response for t in a.turns] == [t.response for t in b.turns]
        assert [t.observation for t in a.turns] == [t.observation for t in b.turns]
        assert all(t.image.startswith(str(tmp_path / "demos_images")) for t in b.turns)
        images = [demo_inputs([d], 0)[0] for d in (a, b)]  # PNG beside the file: lossless
        assert all(np.array_equal(x[1][0], y[1][0]) for x, y in zip(*images))
    # The warm-start consumes the file: its prompts are exactly the ones an expert rollout builds in RL.
    cfg = load_config(None, [f"train.demos={path}", "train.sft_batch_size=3", "rollout.history_turns=2",
                             f"train.output_dir={tmp_path}"])
    runner = EpisodeRunner(EnvPool([NUMBERLINE]), tiny_vl, HFBackend(tiny_vl),
                           RolloutConfig(history_turns=2, max_episode_steps=10))
    source = demo_file(cfg, runner, DistContext())
    episodes = runner.run([EpisodeRequest(0, 4), EpisodeRequest(0, 5)], SamplingParams(4), expert_beta=1.0)
    rl = [(t.label, t.prompt.text) for ep in episodes for t in ep.turns]
    assert len(source.labels) == sum(len(d.turns) for d in demos) == len(rl)
    assert [(label, p.text) for p, label in zip(source.prompts, source.labels)] == rl
    batch = source.batch(0)
    assert len(batch) == 3 and all(p.pixel_values is not None for p, _ in batch)
    runner.close()


def test_bad_lines_and_images_are_errors_naming_file_and_line(tmp_path):
    good = {"env": "mmrl/NumberLine-v0", "seed": 0, "turns": [{"observation": "o", "image": None, "response": "r"}]}
    path = tmp_path / "d.jsonl"
    cases = {
        "not json {": "not JSON",
        json.dumps({**good, "turns": []}): "'turns' must be a non-empty list",
        json.dumps({**good, "turns": [{"observation": "o"}]}): "turn 0 must be an object",
        json.dumps({**good, "colour": 1}): "unknown key(s) ['colour']",
        json.dumps({**good, "turns": [{"observation": "o", "image": "missing.png", "response": "r"}]}):
            "missing.png does not exist",
    }
    for line, message in cases.items():
        path.write_text(json.dumps(good) + "\n\n" + line + "\n")
        with pytest.raises(DemoError) as err:
            read_demos(path)
        assert f"{path}:3: " in str(err.value) and message in str(err.value)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    path.write_text(json.dumps({**good, "turns": [{"observation": "o", "image": "broken.png", "response": "r"}]}))
    with pytest.raises(DemoError, match=r"d.jsonl:1: turn 0: image .*broken.png cannot be read"):
        read_demos(path)
    assert main(["train", "configs/quickstart.yaml", f"train.demos={path}", "train.sft_target=random_admissible",
                 f"train.output_dir={tmp_path}/run"]) == 2


def test_a_runs_successful_samples_become_demos(tmp_path):
    cfg = load_config(None, ["envs=[{id: mmrl/NumberLine-v0, kwargs: {render_image: false}}]",
                             f"train.output_dir={tmp_path}"])
    save_config(cfg, tmp_path / "config.yaml")
    (won,) = expert_demos(cfg.envs[0], 1, seed=7)
    rows = [{"step": 3, "env": "mmrl/NumberLine-v0", "seed": 7, "success": True,
             "turns": [{"response": t.response} for t in won.turns]},
            {"step": 3, "env": "mmrl/NumberLine-v0", "seed": 8, "success": False, "turns": [{"response": "x"}]}]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (demo,) = run_demos(tmp_path)
    assert demo.seed == 7 and demo.success and demo.source.startswith("run:")
    assert [t.observation for t in demo.turns] == [t.observation for t in won.turns]
    out = tmp_path / "from_run.jsonl"
    assert main(["demos", "--from-run", str(tmp_path), "--out", str(out)]) == 0
    assert len(read_demos(out)) == 1
