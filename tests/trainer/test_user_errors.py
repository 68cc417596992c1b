"""User mistakes that used to end in a traceback (or in silence): each is one line naming the problem, exit status 2,
or a warning line when the run is legal but trains nothing."""

from __future__ import annotations

import json
import logging
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mmrl.cli import main
from mmrl.models.loading import save_policy

TINY = ["model.tiny=text", "rollout.group_size=2", "rollout.groups_per_step=2", "rollout.max_new_tokens=2",
        "eval.episodes=2", "train.progress=false", "train.total_steps=1", "train.sft_steps=0"]
TEXT_ENV = "envs=[{id: mmrl/NumberLine-v0, kwargs: {render_image: false}}]"


def _png_header(path, width: int, height: int) -> None:
    """A PNG whose header claims width x height pixels (no pixel data: readers judge the size from the header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
                     + struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _one_line_error(capsys, *args) -> str:
    assert main(["train", "configs/quickstart.yaml", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("mmrl train: error: ")
    return line


def test_env_mistakes_are_named_before_the_run_directory_exists(tmp_path, capsys):
    run_dir = tmp_path / "run"
    line = _one_line_error(capsys, "envs=[{id: 'nosuchmodule:x/Y-v0'}]", *TINY, f"train.output_dir={run_dir}")
    assert "envs[0].id 'nosuchmodule:x/Y-v0': no module named 'nosuchmodule'" in line
    line = _one_line_error(capsys, "envs=[{id: mmrl/NumberLine-v0, eval_kwargs: {splt: test}}]", *TINY,
                           f"train.output_dir={run_dir}")
    assert "envs[0].eval_kwargs: mmrl/NumberLine-v0 takes no argument 'splt'" in line
    assert not run_dir.exists()


def test_a_model_path_with_a_broken_config_or_no_weights_is_one_line(tmp_path, capsys, tiny_text):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    line = _one_line_error(capsys, TEXT_ENV, *TINY, f"model.path={broken}", f"train.output_dir={tmp_path / 'a'}")
    assert f"{broken / 'config.json'} cannot be read as a model config" in line
    empty = tmp_path / "empty"
    save_policy(tiny_text, str(empty))
    (empty / "model.safetensors").unlink()
    line = _one_line_error(capsys, TEXT_ENV, *TINY, f"model.path={empty}", f"train.output_dir={tmp_path / 'b'}")
    assert "holds no weights" in line and str(empty) in line


def test_an_output_dir_that_cannot_be_written_is_one_line(capsys):
    line = _one_line_error(capsys, TEXT_ENV, *TINY, "train.output_dir=/sys/fs/mmrl-test/run")
    assert "train.output_dir: cannot write to /sys/fs/mmrl-test/run" in line


def test_a_decompression_bomb_in_an_image_folder_is_one_line_naming_the_file(tmp_path, capsys, caplog):
    for name in ("red", "blue"):
        (tmp_path / "data" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "data" / name / "a.png")
    (tmp_path / "data" / "green").mkdir()  # an empty class folder: left out, with a warning
    from mmrl.envs.classification.sources import FileSource

    with caplog.at_level(logging.WARNING, logger="mmrl.envs"):
        assert FileSource.from_folder(tmp_path / "data").classes == ["blue", "red"]
    assert "class folder(s) green hold no" in caplog.text
    _png_header(tmp_path / "data" / "red" / "huge.png", 20000, 20000)
    line = _one_line_error(capsys, "envs=[{id: mmrl/Classification-v0, kwargs: {source: folder, path: "
                                   f"{tmp_path / 'data'}}}}}]", *TINY, f"train.output_dir={tmp_path / 'run'}")
    assert "huge.png" in line and "too large to load safely" in line


@pytest.mark.parametrize("change, message", [
    ({"image": "corrupt.jpg"}, "corrupt.jpg' cannot be read as an image"),
    ({"image": "huge.png"}, "huge.png' is too large to load safely"),
    ({"bboxs": [["left", 0, 4, 4]]}, "bboxs must be a list of [x1, y1, x2, y2] finite numbers"),
    ({"bboxs": [[0, 0, float("inf"), 4]]}, "bboxs must be a list of [x1, y1, x2, y2] finite numbers"),
    ({"width": float("inf")}, "width and height must be positive finite numbers"),
])
def test_bad_vqa_records_are_named_by_file_and_line(tmp_path, change, message):
    from mmrl.envs.vqa.records import load_jsonl

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    _png_header(tmp_path / "huge.png", 20000, 20000)
    good = {"image": "ok.png", "question": "q?", "possible_answers": ["a"], "image_caption": "c",
            "bboxs": [[0, 0, 4, 4]], "width": 8, "height": 8}
    file = tmp_path / "records.jsonl"
    file.write_text(json.dumps(good) + "\n" + json.dumps(good | change) + "\n")  # json writes inf as Infinity
    with pytest.raises(ValueError) as err:
        load_jsonl(file)
    assert str(err.value).startswith(f"{file}:2: ") and message in str(err.value)


def test_a_group_of_one_under_grpo_warns_that_nothing_trains(tmp_path, capsys):
    assert main(["train", "configs/quickstart.yaml", TEXT_ENV, *TINY, "rollout.group_size=1",
                 "train.eval_every=0", f"train.output_dir={tmp_path}"]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: rollout.group_size=1 under algo.name grpo: a group of one episode has nothing to "
                        "compare with, so every group-relative advantage is 0 and the policy gradient trains "
                        "nothing; set rollout.group_size >= 2"]
