"""Behaviour of ``mmrl/Classification-v0`` and its image sources."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.classification import ClassificationEnv
from mmrl.envs.classification.sources import DigitsSource, FileSource

ENV_ID = "mmrl/Classification-v0"
THINK = " Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
NO_THINK = " Please directly output the answer."


def write_folder(root, classes=("cat", "dog"), per_class=6):
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (5 + i, 7), color=(40 * k, 10 * i, 200)).save(root / name / f"{i}.png")
    return root


def write_jsonl(tmp_path, per_class=6):
    images = tmp_path / "images"
    images.mkdir()
    lines = []
    for label in ("cat", "dog"):
        for i in range(per_class):
            Image.new("L", (9, 4), color=20 * i).save(images / f"{label}{i}.png")
            lines.append(json.dumps({"image": f"images/{label}{i}.png", "label": label}))
    file = tmp_path / "data.jsonl"
    file.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return file


def make(**kwargs) -> ClassificationEnv:
    return gym.make(ENV_ID, **kwargs).unwrapped


@pytest.mark.parametrize("style", ["think", "no_think"])
@pytest.mark.parametrize("source", ["shapes", "digits", "folder", "jsonl"])
def test_every_source_serves_episodes_the_expert_solves(source, style, tmp_path):
    path = {"folder": lambda: write_folder(tmp_path / "imgs"), "jsonl": lambda: write_jsonl(tmp_path)}.get(
        source
    )
    env = make(
        source=source,
        path=None if path is None else str(path()),
        style=style,
        image_size=24,
        test_fraction=0.5,
    )
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert obs in env.observation_space
        assert obs["image"].shape == (24, 24, 3) and obs["image"].dtype == np.uint8
        assert info["answer"] in env.classes and info["answer"] in info["choices"]
        assert info["expert_action"] in env.action_space
        obs, reward, terminated, truncated, step_info = env.step(info["expert_action"])
        assert (terminated, truncated) == (True, False)
        assert reward == (2.0 if style == "think" else 1.0)
        assert step_info["success"] is True and step_info["format_error"] is False
        assert step_info["answer"] == info["answer"]


def test_prompt_texts_are_cls_rl_s():
    for style, suffix in (("think", THINK), ("no_think", NO_THINK)):
        env = make(source="shapes", label="color", style=style)
        obs, info = env.reset(seed=0)
        assert obs["text"] == (
            "What type of object is in the photo?\n Please choose one from list [ "
            + ", ".join(info["choices"])
            + " ]."
            + suffix
        )
        assert env.system_prompt is None
    env = make(source="digits", style="no_think")
    obs, info = env.reset(seed=0)
    assert obs["text"].startswith("What type of object is in the photo?\n Please choose one from list [ ")
    assert info["expert_action"] == info["answer"]
    assert info["expert_thought"] == f"The object is {info['answer']}."
    think_info = make(source="digits").reset(seed=0)[1]
    assert (
        think_info["expert_action"]
        == f"<think>The object is {think_info['answer']}.</think><answer>{think_info['answer']}</answer>"
    )


def test_candidates_include_the_truth_and_are_shuffled():
    env = make(num_choices=3)
    orders = set()
    for seed in range(30):
        _, info = env.reset(seed=seed)
        assert len(info["choices"]) == 3 and len(set(info["choices"])) == 3
        assert info["answer"] in info["choices"]
        assert set(info["choices"]) <= set(env.classes)
        orders.add(info["choices"].index(info["answer"]))
    assert orders == {0, 1, 2}  # the true class is not always in the same slot
    full = make()
    assert sorted(full.reset(seed=0)[1]["choices"]) == sorted(full.classes)
    assert len(full.classes) == 12  # 4 colours x 3 shapes


def test_shape_label_modes():
    assert make(label="color").classes == ["red", "green", "blue", "yellow"]
    assert make(label="shape", shapes=["circle", "star"]).classes == ["circle", "star"]
    env = make(label="shape_color", colors=["red", "blue"], shapes=["square"])
    assert env.classes == ["red square", "blue square"]
    # Under label="color", the same class must come with different shapes (the shape is a distractor).
    env = make(label="color", colors=["red"], image_size=32)
    images = [env.reset(seed=s)[0]["image"] for s in range(12)]
    ink = [(img[:, :, 0].astype(int) - img[:, :, 1] > 100).sum() for img in images]
    assert len(set(ink)) > 1


@pytest.mark.parametrize("style", ["think", "no_think"])
def test_wrong_answers_score_zero_accuracy(style):
    env = make(style=style)
    _, info = env.reset(seed=3)
    wrong = next(c for c in env.classes if c != info["answer"])
    bad = f"<think>hmm</think><answer>{wrong}</answer>" if style == "think" else wrong
    _, reward, _, _, step_info = env.step(bad)
    assert step_info["success"] is False
    if style == "think":  # format still right: the format component alone
        assert reward == 1.0 and step_info["reward/answer_accuracy"] == 0.0 and not step_info["format_error"]
    else:
        assert reward == 0.0 and not step_info["format_error"]  # a candidate, just the wrong one
    env.reset(seed=3)
    _, reward, _, _, step_info = env.step("no idea")
    assert reward == 0.0 and step_info["success"] is False and step_info["format_error"] is True


def test_think_style_rules():
    env = make()
    _, info = env.reset(seed=1)
    label = info["answer"]
    # Normalised comparison inside <answer>, but no format reward without <think>.
    _, reward, _, _, step_info = env.step(f"<answer> {label.upper()}. </answer>")
    assert reward == 1.0 and step_info["success"] and step_info["format_error"]
    assert step_info["reward/think_answer_format"] == 0.0 and step_info["reward/answer_accuracy"] == 1.0
    env.reset(seed=1)
    assert env.step(f"\n<think>\nlooks {label}\n</think>\n<answer>{label}</answer>\n")[1] == 2.0


def test_no_think_is_exact_and_case_sensitive():
    env = make(style="no_think")
    _, info = env.reset(seed=2)
    label = info["answer"]
    assert env.step(f"  {label}\n")[1] == 1.0
    env.reset(seed=2)
    _, reward, _, _, step_info = env.step(label.upper())
    assert reward == 0.0 and step_info["format_error"] and not step_info["success"]


def test_custom_reward_weights_merge_over_the_defaults():
    env = make(reward_weights={"answer_accuracy": 3.0, "think_answer_format": 0.0})
    _, info = env.reset(seed=0)
    _, reward, _, _, step_info = env.step(info["expert_action"])
    assert reward == 3.0  # the format reward is off, yet still reported
    assert sorted(key for key in step_info if key.startswith("reward/")) == ["reward/answer_accuracy",
                                                                            "reward/think_answer_format"]
    with pytest.raises(ValueError, match="Did you mean 'answer_accuracy'"):
        make(reward_weights={"answer_acuracy": 1.0})


def test_step_before_reset_and_after_the_end_raise():
    env = make()
    with pytest.raises(RuntimeError, match="reset"):
        env.step("x")
    env.reset(seed=0)
    env.step("x")
    with pytest.raises(RuntimeError, match="reset"):
        env.step("x")


def test_render_rgb_array():
    env = make(render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert np.array_equal(frame, obs["image"]) and frame is not obs["image"]


def test_seed_fixes_image_question_and_order():
    a, b = make(num_choices=4), make(num_choices=4)
    for seed in range(5):
        (obs_a, info_a), (obs_b, info_b) = a.reset(seed=seed), b.reset(seed=seed)
        assert obs_a["text"] == obs_b["text"] and np.array_equal(obs_a["image"], obs_b["image"])
        assert info_a == info_b
    assert not np.array_equal(a.reset(seed=0)[0]["image"], a.reset(seed=1)[0]["image"])


def test_shapes_train_and_test_streams_differ():
    train, test = make(split="train"), make(split="test")
    for seed in range(20):
        assert not np.array_equal(train.reset(seed=seed)[0]["image"], test.reset(seed=seed)[0]["image"])


def test_digits_split_is_fixed_and_disjoint():
    source = DigitsSource(test_fraction=0.2)
    train, test = set(source.split_indices["train"].tolist()), set(source.split_indices["test"].tolist())
    assert not train & test and len(train) + len(test) == 1797 and len(test) == round(0.2 * 1797)
    assert np.array_equal(DigitsSource(test_fraction=0.2).split_indices["test"], source.split_indices["test"])
    image, label = source.image(0)
    assert label == "0" and image.shape == (56, 56, 3) and image.min() < 100 < image.max()


def test_file_sources_split_disjointly_and_stably(tmp_path):
    root = write_folder(tmp_path / "imgs", per_class=20)
    source = FileSource.from_folder(root, test_fraction=0.3)
    train, test = source.split_indices["train"], source.split_indices["test"]
    assert not set(train.tolist()) & set(test.tolist()) and len(train) + len(test) == 40
    assert 0 < len(test) < 40
    test_files = {source.files[i].name + source.labels[i] for i in test}
    again = FileSource.from_folder(root, test_fraction=0.3)
    assert test_files == {again.files[i].name + again.labels[i] for i in again.split_indices["test"]}
    # Split membership depends on each file alone: adding files never moves existing ones.
    (root / "cat" / "extra.png").write_bytes((root / "cat" / "0.png").read_bytes())
    grown = FileSource.from_folder(root, test_fraction=0.3)
    assert test_files <= {grown.files[i].name + grown.labels[i] for i in grown.split_indices["test"]}
    # Train and test envs only ever serve images from their own split.
    env = make(source="folder", path=str(root), split="test", test_fraction=0.3, render_mode="rgb_array")
    test_images = {source.image(i)[0].tobytes() for i in test}
    for seed in range(10):
        assert env.reset(seed=seed)[0]["image"].tobytes() in test_images


def test_folder_ignores_non_images_and_accepts_unicode_classes(tmp_path):
    root = write_folder(tmp_path / "imgs", classes=("café", "日本"), per_class=3)
    (root / "café" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    env = make(source="folder", path=str(root), test_fraction=0.0)
    assert env.classes == ["café", "日本"]
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space and info["expert_action"] in env.action_space
    assert env.step(info["expert_action"])[1] == 2.0


def test_jsonl_resolves_paths_relative_to_its_folder(tmp_path):
    file = write_jsonl(tmp_path)
    source = FileSource.from_jsonl(file)
    assert source.classes == ["cat", "dog"] and len(source.files) == 12
    image, label = source.image(0)
    assert image.shape == (56, 56, 3) and label == "cat"


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        make(source="folder", path=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="does not exist"):
        make(source="jsonl", path=str(tmp_path / "missing.jsonl"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images found"):
        make(source="folder", path=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="needs path"):
        make(source="folder")
    file = write_jsonl(tmp_path)
    with file.open("a") as f:
        f.write('{"image": "images/cat0.png", "label": "cat"\n')
    with pytest.raises(ValueError, match=r"data\.jsonl:14: not JSON"):
        make(source="jsonl", path=str(file))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "images/cat0.png", "label": "cat"}\n{"image": "nope.png", "label": "cat"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: image file .*nope\.png.* does not exist"):
        make(source="jsonl", path=str(bad))
    bad.write_text('{"img": "images/cat0.png"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: expected an object"):
        make(source="jsonl", path=str(bad))
    for kwargs in (
        {"style": "cot"},
        {"split": "val"},
        {"num_choices": 13},
        {"colors": ["teal"]},
        {"label": "size"},
        {"source": "digits", "label": "color"},
    ):
        with pytest.raises(ValueError):
            make(**kwargs)
    with pytest.raises(ValueError, match="split .* is empty"):
        make(source="digits", split="test", test_fraction=0.0)
