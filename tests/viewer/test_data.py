"""What the viewer serves and shows: only image files inside the run directory; responses split by the env's format."""

from __future__ import annotations

import json
import os

import pytest

from mmrl.viewer.data import EpisodeFilter, Refused, RunData, resolve_served, view_episode


def test_only_images_inside_the_run_directory_are_served(tmp_path):
    run = tmp_path / "run"
    (run / "images").mkdir(parents=True)
    (run / "images" / "a.png").write_bytes(b"png")
    (run / "config.yaml").write_text("x: 1")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    os.symlink(outside, run / "images" / "link.png")
    os.symlink(tmp_path, run / "up")
    assert resolve_served(run, "images/a.png") == (run / "images" / "a.png").resolve()
    assert resolve_served(run, "config.yaml") is None  # inside, but not an image
    assert resolve_served(run, "images/missing.png") is None
    for bad in ("../secret.png", "images/../../secret.png", "/etc/passwd", str(outside), "images/link.png",
                "up/secret.png", "images\\..\\..\\secret.png", "a\x00.png", ""):
        with pytest.raises(Refused):
            resolve_served(run, bad)


def test_turns_are_split_by_the_env_format_and_show_gtr_side_by_side():
    row = {"step": 2, "kind": "train", "env": "e", "seed": 1, "format": "json", "return": 1.0, "success": True,
           "turns": [{"prompt": "p", "response": 'I see 3. {"thoughts": "add one", "action": "+"}', "reward": 1.0,
                      "image": "images/x.png",
                      "info": {"reward/format": 0.5, "gtr_verdict": "NO", "gtr_thought": "add one",
                               "gtr_corrected_thought": "subtract one", "success": True}}]}
    (turn,) = view_episode(7, row)["turns"]
    assert (turn["thought"], turn["action"]) == ("add one", "+")
    assert turn["rewards"] == {"format": 0.5} and turn["image"] == "files/images/x.png"
    assert turn["gtr"] == {"verdict": "NO", "thought": "add one", "corrected_thought": "subtract one"}
    assert turn["info"] == {"success": True}
    plain = view_episode(0, {**row, "format": "no-such-format"})["turns"][0]  # an unknown name reads as plain
    assert plain["thought"] is None and plain["action"] == row["turns"][0]["response"]


def test_filters_and_newest_first(tmp_path):
    rows = [{"step": s, "kind": k, "env": e, "seed": 0, "return": r, "success": r > 0, "turns": []}
            for s, k, e, r in [(1, "train", "a", 0.0), (1, "eval", "b", 1.0), (2, "train", "a", 2.0)]]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = RunData(tmp_path)
    ids = lambda **kw: [e["id"] for e in data.episodes(EpisodeFilter(**kw))[1]]  # noqa: E731
    assert ids() == [2, 1, 0]
    assert ids(step=1) == [1, 0] and ids(kind="train") == [2, 0] and ids(env="b") == [1]
    assert ids(success=False) == [0] and ids(min_return=0.5, max_return=1.5) == [1]
    version = data.version()
    with open(tmp_path / "samples.jsonl", "a") as fh:  # a run still training appends
        fh.write(json.dumps({**rows[0], "step": 3}) + "\n")
    assert data.version() != version and data.summary()["steps"] == [1, 2, 3]
