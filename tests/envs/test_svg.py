"""``mmrl/SVG-v0`` (SGP): the render gate, the similarity and scene check, and hostile SVG."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.vqa.svg import SVGEnv
from mmrl.rewards.svg import SIMILARITIES, get_similarity, render_svg, screen_svg

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
          f'{HEAD[:-1]}><title>&d;</title></svg>')


def answer(svg: str) -> str:
    return f"<think>draw</think><answer>{svg}</answer>"


def test_the_expert_scores_one_and_worse_drawings_score_less():
    env = gym.make("mmrl/SVG-v0")
    _, info = env.reset(seed=3)
    _, reward, _, _, step_info = env.step(info["expert_action"])
    assert reward == pytest.approx(1.0) and step_info["success"]
    blank = HEAD + '<rect width="64" height="64" fill="#ffffff"/></svg>'
    env.reset(seed=3)
    _, blank_reward, _, _, blank_info = env.step(answer(blank))
    assert blank_info["reward/svg_render"] == 1.0 and blank_info["reward/svg_scene"] == 0.0
    # the expert minus its last shape: renders, nearer than blank, not a match
    partial = info["answer"].rsplit("<", 2)[0] + "</svg>"
    env.reset(seed=3)
    _, partial_reward, _, _, partial_info = env.step(answer(partial))
    assert blank_reward < partial_reward < reward and not partial_info["success"]


@pytest.mark.parametrize("svg", [
    "not svg at all", "<svg", LAUGHS,
    f'{HEAD}<image href="/etc/passwd" width="64" height="64"/></svg>',
    f'{HEAD[:-1]} xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="file:///etc/hosts"/></svg>',
    f'{HEAD}<rect width="64" height="64" fill="url(http://example.com/x)"/></svg>',
    f'{HEAD}<rect width="64" height="64" style="fill:red"/></svg>',
    f'{HEAD}<foreignObject><p>x</p></foreignObject></svg>',
    HEAD + '<g>' * 50 + '</g>' * 50 + '</svg>',
    HEAD + '<rect width="1" height="1"/>' * 400 + '</svg>',
    '<html><svg/></html>',
])
def test_hostile_or_foreign_svg_is_rejected_by_the_gate(svg):
    start = time.perf_counter()
    assert screen_svg(svg) is None and render_svg(svg, 64, 64) is None
    assert time.perf_counter() - start < 1.0
    env = SVGEnv()
    env.reset(seed=0)
    _, reward, _, _, info = env.step(answer(svg))
    assert reward == 0.0 and info["format_error"]


def test_huge_declared_sizes_render_at_the_fixed_size_fast():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="100000000" height="100000000" viewBox="0 0 1e9 1e9">'
           '<circle cx="5e8" cy="5e8" r="4e8" fill="#dc1e1e"/></svg>')
    start = time.perf_counter()
    image = render_svg(svg, 64, 64)
    assert image is not None and image.shape == (64, 64, 3) and time.perf_counter() - start < 2.0
    assert (image[32, 32] == (220, 30, 30)).all()


def test_the_similarity_is_pluggable():
    target = np.full((64, 64, 3), 255, np.uint8)
    assert SIMILARITIES["iou_ssim"](target, target, [(220, 30, 30)]) == pytest.approx(1.0)
    assert get_similarity("mmrl.rewards.svg:iou_ssim") is SIMILARITIES["iou_ssim"]
    with pytest.raises(ValueError, match="similarity"):
        SVGEnv(similarity="dino")
