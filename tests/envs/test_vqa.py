"""Behaviour of ``mmrl/VQAGrounding-v0``: procedural scenes checked from their pixels, expert responses, the
JSONL loader and the model-input rescaling. (check_env, determinism and pickling: ``test_registry.py``.)"""

from __future__ import annotations

import json
import re

import cv2
import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from mmrl.envs import mmrl_env_ids
from mmrl.envs.vqa import VQAGroundingEnv, model_input_size
from mmrl.envs.vqa.records import REQUIRED_KEYS
from mmrl.envs.vqa.scenes import BACKGROUNDS, COLORS, NUMBER_WORDS

ENV_ID = "mmrl/VQAGrounding-v0"


def make(**kwargs) -> VQAGroundingEnv:
    return gym.make(ENV_ID, **kwargs).unwrapped


@pytest.fixture(scope="module")
def env():
    return make()


def colour_mask(image, color):
    return (image == np.array(COLORS[color], dtype=np.uint8)).all(axis=-1)


def pixels_in(mask, box):
    x1, y1, x2, y2 = box
    return int(mask[y1:y2, x1:x2].sum())


def centre_of(mask, box):
    """Centre of mass of ``mask``'s pixels inside ``box``."""
    x1, y1, x2, y2 = box
    ys, xs = np.nonzero(mask[y1:y2, x1:x2])
    return x1 + xs.mean(), y1 + ys.mean()


def describe(image, box):
    """(colour, shape) of the object in ``box``, from its pixels: the colour they have and how much of the box
    they fill (square ~1, circle ~pi/4, triangle ~1/2)."""
    x1, y1, x2, y2 = box
    patch = image[y1:y2, x1:x2]
    found = [name for name in COLORS if colour_mask(patch, name).any()]
    assert len(found) == 1, found
    fill = colour_mask(patch, found[0]).mean()
    shape = "square" if fill > 0.9 else "circle" if fill > 0.65 else "triangle"
    return found[0], shape


def check_from_pixels(image, question, answers, boxes):
    """Re-derive the answer from the image alone (colours of pixels in the given boxes), independently of the
    generator's object list. Returns the question's kind."""
    height, width = image.shape[:2]
    background = image[0, 0]
    assert any((background == np.array(rgb)).all() for rgb in BACKGROUNDS.values())
    foreground = ~(image == background).all(axis=-1)
    for box in boxes:  # every box holds object pixels and is tight around them
        x1, y1, x2, y2 = box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        inside = foreground[y1:y2, x1:x2]
        assert inside.any(axis=0)[[0, -1]].all() and inside.any(axis=1)[[0, -1]].all()

    if match := re.fullmatch(r"How many (\w+) objects are there\?", question):
        mask = colour_mask(image, match[1])
        count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        assert answers == [str(count - 1), NUMBER_WORDS[count - 1]]
        assert len(boxes) == count - 1
        assert sum(pixels_in(mask, box) for box in boxes) == mask.sum()  # the boxes hold every such pixel
        return "count"
    if match := re.fullmatch(r"What color is the (?:small |large )?(\w+)\?", question):
        (box,) = boxes
        assert [describe(image, box)] == [(answers[0], match[1])] and len(answers) == 1
        return "color"
    if match := re.fullmatch(
        r"Is the (\w+) (\w+) in the (\w+) half or the (\w+) half of the image\?", question
    ):
        (box,) = boxes
        assert describe(image, box) == (match[1], match[2])
        x, y = centre_of(colour_mask(image, match[1]), box)
        if match[3] == "left":
            assert answers == ["left" if x < width / 2 else "right"]
        else:
            assert answers == ["top" if y < height / 2 else "bottom"]
        return "position"
    if match := re.fullmatch(
        r"Is the (\w+) (\w+) (to the left of|to the right of|above) the (\w+) (\w+)\?", question
    ):
        assert len(boxes) == 2
        by_name = {describe(image, b): centre_of(colour_mask(image, describe(image, b)[0]), b) for b in boxes}
        (ax, ay), (bx, by) = by_name[(match[1], match[2])], by_name[(match[4], match[5])]
        truth = {"to the left of": ax < bx, "to the right of": ax > bx, "above": ay < by}[match[3]]
        assert answers == ["yes" if truth else "no"]
        return "relation"
    raise AssertionError(f"unexpected question {question!r}")


def test_registered():
    assert ENV_ID in mmrl_env_ids()


@pytest.mark.parametrize("split", ["train", "test"])
def test_procedural_answers_match_the_pixels_and_the_expert_scores_max(split):
    env = make(split=split)
    kinds = set()
    for seed in range(60):
        obs, info = env.reset(seed=seed)
        record = env._record
        kinds.add(
            check_from_pixels(obs["image"], record["question"], info["possible_answers"], record["bboxs"])
        )
        assert obs["text"].startswith(record["question"] + "\n")
        assert "<caption>" in obs["text"] and "308x252" in obs["text"]
        # The caption's object count is the number of separate blobs of object pixels.
        number = re.search(r"with (\w+) objects", record["image_caption"])[1]
        foreground = ~(obs["image"] == obs["image"][0, 0]).all(axis=-1)
        blobs, _ = cv2.connectedComponents(foreground.astype(np.uint8), connectivity=8)
        assert 2 <= NUMBER_WORDS.index(number) == blobs - 1 <= 5
        _, reward, terminated, truncated, step_info = env.step(info["expert_action"])
        assert (terminated, truncated) == (True, False)
        assert reward == pytest.approx(4.0)
        assert step_info["success"] is True and step_info["format_error"] is False
        assert step_info["iou"] == 1.0 and step_info["reward/bbox"] == 1.0
        for name in ("satori_format", "caption", "answer"):
            assert step_info[f"reward/{name}"] == pytest.approx(1.0)
        for action in info["admissible_actions"]:
            env.reset(seed=seed)
            assert env.step(action)[4]["success"] is True
    assert kinds == {"count", "color", "position", "relation"}


def test_scene_options_draw_fewer_larger_objects():
    small_env = make(image_size=(84, 112))
    big_env = make(image_size=(84, 112), object_count=(2, 3), size_scale=2.0)
    areas = {}
    for name, env in (("default", small_env), ("big", big_env)):
        counts, box_areas = set(), []
        for seed in range(40):
            obs, info = env.reset(seed=seed)
            record = env._record
            check_from_pixels(obs["image"], record["question"], info["possible_answers"], record["bboxs"])
            foreground = ~(obs["image"] == obs["image"][0, 0]).all(axis=-1)
            counts.add(cv2.connectedComponents(foreground.astype(np.uint8), connectivity=8)[0] - 1)
            box_areas += [(b[2] - b[0]) * (b[3] - b[1]) for b in record["bboxs"]]
            assert env.step(info["expert_action"])[1] == pytest.approx(4.0)
        assert counts <= ({2, 3} if name == "big" else {2, 3, 4, 5})
        areas[name] = np.mean(box_areas)
    assert counts == {2, 3}
    # Radii doubled: boxes about four times the area (fewer objects also leave room for the large ones).
    assert 3.0 < areas["big"] / areas["default"] < 5.0


@pytest.mark.parametrize(
    "options, match",
    [
        ({"object_count": (1, 3)}, "object_count"),
        ({"object_count": (3, 2)}, "object_count"),
        ({"object_count": (2, 6)}, "object_count"),
        ({"size_scale": 0.0}, "size_scale"),
        ({"size_scale": 3.5}, "size_scale"),
    ],
)
def test_scene_option_errors(options, match):
    with pytest.raises(ValueError, match=match):
        make(image_size=(84, 112), **options)


def test_train_and_test_streams_differ(env):
    test_env = make(split="test")
    for seed in range(5):
        train_obs, _ = env.reset(seed=seed)
        test_obs, _ = test_env.reset(seed=seed)
        assert not np.array_equal(train_obs["image"], test_obs["image"])


def test_wrong_and_malformed_responses(env):
    _, info = env.reset(seed=3)
    wrong = info["expert_action"].replace(
        f"<answer>{info['possible_answers'][0]}</answer>", "<answer>??</answer>"
    )
    _, reward, _, _, step_info = env.step(wrong)
    assert step_info["success"] is False and reward == pytest.approx(3.0)
    env.reset(seed=3)
    _, reward, _, _, step_info = env.step(f"<answer>{info['possible_answers'][0]}</answer>")
    assert step_info["success"] is True and step_info["format_error"] is True and reward == 1.0
    with pytest.raises(RuntimeError):
        env.step("again")


def test_answer_only_weights():
    env = make(reward_weights={"satori_format": 0.0, "caption": 0.0, "bbox": 0.0})
    _, info = env.reset(seed=0)
    _, reward, _, _, step_info = env.step(info["expert_action"])
    assert reward == 1.0 and step_info["reward/caption"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="iou"):
        make(reward_weights={"iou": 1.0})


def test_model_input_size_is_qwens_smart_resize():
    # 240/28 = 8.6 -> 9 * 28; 320/28 = 11.4 -> 11 * 28.
    assert model_input_size(240, 320, 3136, 12845056) == (252, 308)
    # Too many pixels: scale by sqrt(76800 / 15680) then floor to multiples of 28.
    assert model_input_size(240, 320, 3136, 28 * 28 * 20) == (84, 140)


def test_small_max_pixels_rescales_boxes():
    env = make(max_pixels=28 * 28 * 20)
    assert (env.input_width, env.input_height) == (140, 84)
    obs, info = env.reset(seed=1)
    assert "140x84 pixels" in obs["text"]
    assert env.step(info["expert_action"])[1] == pytest.approx(4.0)
    # The true boxes given in original pixels (not rescaled to the input) score less.
    env.reset(seed=1)
    record = env._record
    original = "[" + ", ".join(str(list(b)) for b in record["bboxs"]) + "]"
    unscaled = re.sub(r"<bbox>.*</bbox>", f"<bbox>{original}</bbox>", info["expert_action"])
    assert env.step(unscaled)[4]["iou"] < 0.6


def write_dataset(tmp_path, n=4):
    images = tmp_path / "imgs"
    images.mkdir()
    lines = []
    for i in range(n):
        pixels = np.full((120, 160, 3), 255, dtype=np.uint8)
        pixels[30:60, 40 + 10 * i : 80 + 10 * i] = (220, 30, 30)
        Image.fromarray(pixels).save(images / f"{i}.png")
        record = {
            "image": f"imgs/{i}.png",
            "question": f"What colour is the block number {i}? Ünïcode ✓",
            "possible_answers": ["red", "Red"],
            "image_caption": "A red block on a white background, très simple.",
            "bboxs": [[40 + 10 * i, 30, 80 + 10 * i, 60]],
            "width": 160,
            "height": 120,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    file = tmp_path / "vqa.jsonl"
    file.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return file


def test_jsonl_source(tmp_path):
    file = write_dataset(tmp_path)
    env = make(source="jsonl", path=str(file), test_fraction=0.0)
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        assert obs in env.observation_space and obs["image"].shape == (240, 320, 3)
        record = env._record
        # 160x120 -> 320x240: boxes doubled; the red block is where the box says.
        (box,) = record["bboxs"]
        x1, y1, x2, y2 = (int(v) for v in box)
        assert (y1, y2) == (60, 120) and x2 - x1 == 80
        assert colour_mask(obs["image"], "red")[y1:y2, x1:x2].all()
        assert info["expert_action"] in env.action_space
        _, reward, _, _, step_info = env.step(info["expert_action"])
        assert reward == pytest.approx(4.0) and step_info["success"] is True
    assert len(make(source="jsonl", path=str(file), split="test", test_fraction=1.0)._indices) == 4


def test_jsonl_errors(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(ValueError, match=r"VQA records file .*nope\.jsonl does not exist"):
        make(source="jsonl", path=str(missing))
    with pytest.raises(ValueError, match="needs path"):
        make(source="jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"image": "x.png", "question": "q"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing keys"):
        make(source="jsonl", path=str(bad))
    fields = {key: 1 for key in REQUIRED_KEYS} | {"image": "x.png", "bboxs": [[0, 0, 1, 1]], "width": 0}
    bad.write_text(json.dumps(fields), "utf-8")
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(ValueError, match="width and height"):
        make(source="jsonl", path=str(bad))
    file = write_dataset(tmp_path)
    (tmp_path / "imgs" / "2.png").unlink()
    with pytest.raises(FileNotFoundError, match="2.png"):
        make(source="jsonl", path=str(file))
