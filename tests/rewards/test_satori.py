"""SATORI-R1's rewards: format, caption, bbox (union IoU with rescaling) and answer, and ``satori_reward``."""

from __future__ import annotations

import math
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrl.rewards import call_reward, reward_names
from mmrl.rewards.caption import caption, caption_similarity, caption_tokens
from mmrl.rewards.combine import RewardWeights
from mmrl.rewards.grounding import bbox, parse_boxes, union_iou
from mmrl.rewards.satori import answer, matches_satori_format, satori_format

SPEC_FORMAT = re.compile(
    r"^\s*<caption>.*?</caption>\s*<bbox>\s*\[\[.*?\]\]\s*</bbox>\s*<answer>.*?</answer>\s*$", re.DOTALL
)
GOOD = "<caption>A red circle on white.</caption> <bbox>[[0, 0, 10, 10]]</bbox> <answer>red</answer>"


def box_reward(boxes_text, truth, **sizes):
    completion = f"<bbox>{boxes_text}</bbox>"
    columns = {key: [value] for key, value in sizes.items()}
    return bbox([completion], bboxs=[truth], **columns)[0]


def test_rewards_are_registered_and_callable_by_name():
    assert {"satori_format", "caption", "bbox", "answer"} <= set(reward_names())
    assert call_reward("satori_format", [GOOD, "x"], timeout_s=None) == [1.0, 0.0]


# -- format ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (GOOD, True),
        ("\n  " + GOOD.replace(" <bbox>", "\n<bbox>\n") + "\n", True),
        ("<caption></caption><bbox>[[]]</bbox><answer></answer>", True),
        ("<caption>x</caption> <bbox>[[1,2,3,4]]</bbox>", False),  # no answer
        ("<caption>x</caption> <answer>y</answer>", False),  # no boxes
        ("<caption>x</caption> <bbox>[1,2,3,4]</bbox> <answer>y</answer>", False),  # not a list of lists
        ("<bbox>[[1,2,3,4]]</bbox> <caption>x</caption> <answer>y</answer>", False),  # wrong order
        (GOOD + " trailing", False),
        ("prefix " + GOOD, False),
    ],
)
def test_satori_format_cases(text, expected):
    assert matches_satori_format(text) is expected
    assert satori_format([text]) == [float(expected)]


pieces = st.lists(
    st.sampled_from(
        [
            "<caption>",
            "</caption>",
            "<bbox>",
            "</bbox>",
            "<answer>",
            "</answer>",
            "[[",
            "]]",
            "[",
            "]",
            " ",
            "\n",
            "\x1c",
            "x",
            "1,2",
        ]
    ),
    max_size=14,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(pieces)
def test_satori_format_equals_the_spec_regex(text):
    assert matches_satori_format(text) == bool(SPEC_FORMAT.match(text))


def test_satori_format_is_linear_on_hostile_input():
    hostile = "<caption>" + "</caption> <bbox> [[" * 20_000 + "]] </bbox> <answer>" * 20_000
    start = time.perf_counter()
    assert matches_satori_format(hostile) is False
    assert matches_satori_format(hostile + "</answer>") is True
    assert time.perf_counter() - start < 0.5


# -- bbox --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "predicted, truth, expected",
    [
        ([[0, 0, 10, 10]], [[0, 0, 10, 10]], 1.0),
        ([[0, 0, 10, 10]], [[5, 5, 15, 15]], 25 / 175),  # overlapping
        ([[0, 0, 10, 10]], [[2, 2, 4, 4]], 4 / 100),  # nested
        ([[0, 0, 10, 10]], [[20, 20, 30, 30]], 0.0),  # disjoint
        ([[0, 0, 10, 10], [20, 0, 30, 10]], [[0, 0, 30, 10]], 200 / 300),  # multiple predicted
        ([[0, 0, 10, 10], [5, 0, 15, 10]], [[0, 0, 15, 10]], 1.0),  # overlapping predictions count once
        ([[0, 0, 10, 10]], [[0, 0, 5, 10], [5, 0, 10, 10]], 1.0),  # multiple true boxes
        ([[0, 0, 0, 10], [0, 0, 10, 10]], [[0, 0, 10, 10]], 1.0),  # zero-area box dropped
        ([[3, 3, 3, 3]], [[0, 0, 10, 10]], 0.0),  # only degenerate boxes
        ([[10, 10, 0, 0]], [[0, 0, 10, 10]], 1.0),  # swapped corners normalised
        ([[10, 0, 0, 10]], [[0, 0, 5, 10]], 0.5),  # x2 < x1 only
    ],
)
def test_union_iou_hand_computed(predicted, truth, expected):
    assert union_iou(predicted, truth) == pytest.approx(expected)
    assert box_reward(str(predicted), truth, width=100, height=100) == pytest.approx(expected)


def test_boxes_outside_the_image_are_clipped():
    assert box_reward("[[-10, -10, 10, 10]]", [[0, 0, 10, 10]], width=20, height=20) == 1.0
    assert box_reward("[[15, 15, 40, 40]]", [[10, 10, 20, 20]], width=20, height=20) == pytest.approx(
        25 / 100
    )
    assert box_reward("[[30, 30, 40, 40]]", [[0, 0, 10, 10]], width=20, height=20) == 0.0
    assert union_iou([[-10, -10, 10, 10]], [[0, 0, 10, 10]]) == pytest.approx(100 / 400)  # no size: no clip


def test_boxes_are_rescaled_from_the_input_size_to_the_original():
    # The model saw 50x50; the original is 100 wide and 200 high.
    sizes = {"width": 100, "height": 200, "input_width": 50, "input_height": 50}
    assert box_reward("[[0, 0, 25, 25]]", [[0, 0, 50, 100]], **sizes) == 1.0
    assert box_reward("[[0, 0, 25, 25]]", [[0, 0, 50, 100]], width=100, height=200) == pytest.approx(0.125)
    # Rounded to the original's pixel grid: 12.4 * 2 = 24.8 -> 25.
    assert box_reward("[[0, 0, 12.4, 50]]", [[0, 0, 25, 200]], **sizes) == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[[a, b, c, d]]",
        "[[1, 2, 3]]",
        "nan",
        "[[nan, 0, 10, 10]]",
        "[[1e999, 0, 10, 10]]",
        "{x: 1}",
        "[[0, 0, 10, 10",
    ],
)
def test_junk_boxes_score_zero(text):
    assert box_reward(text, [[0, 0, 10, 10]], width=20, height=20) == 0.0


def test_box_parser_is_tolerant_and_missing_tags_score_zero():
    assert parse_boxes("[[1, 2, 3, 4], junk, [ -5.5 ,+6,.5, 8e1 ]]") == [(1, 2, 3, 4), (-5.5, 6, 0.5, 80.0)]
    assert bbox(["no tags at all", "<bbox>[[0,0,10,10]]"], bboxs=[[[0, 0, 10, 10]]] * 2) == [0.0, 0.0]
    assert bbox(["<bbox>[[0,0,10,10]]</bbox>"] * 2, bboxs=[None, []]) == [None, None]
    assert bbox(["<bbox>[[0,0,10,10]]</bbox>"]) == [0.0]  # no column at all


# -- caption -----------------------------------------------------------------------------------------------


def test_caption_hand_computed():
    # BLEU-4: all n-gram precisions 1, brevity penalty exp(1 - 6/4); ROUGE-L: LCS 4, P = 1, R = 4/6 -> F = 0.8.
    expected = (math.exp(1 - 6 / 4) + 0.8) / 2
    score = caption_similarity("The big red circle", "the big red circle is here")
    assert score == pytest.approx(expected)
    assert caption(["<caption>The big red circle</caption>"], caption=["the big red circle is here"]) == [
        pytest.approx(expected)
    ]


def test_caption_identical_unicode_and_missing():
    reference = "Ein großer Äpfel neben einem 红色的 Kreis, très chaud!"
    assert caption_tokens(reference)[:3] == ["ein", "großer", "äpfel"]
    assert caption_similarity(reference.title(), reference) == pytest.approx(1.0)
    assert caption_similarity("völlig anders", reference) < 0.1
    assert caption(["no tag", "<caption></caption>", "<caption>x</caption>"], caption=["x", "x", None]) == [
        0.0,
        0.0,
        None,
    ]


# -- answer and the total ----------------------------------------------------------------------------------


def test_answer_exact_after_strip():
    completions = ["<answer> 2 </answer>", "<answer>Two</answer>", "<answer>two</answer>", "2", "<answer>3"]
    assert answer(completions, possible_answers=[["2", "two"]] * 5) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert answer(["<answer>2</answer>"], possible_answers=[None]) == [None]
    assert answer(["<answer>2</answer>"]) == [0.0] and caption(["<caption>a</caption>"]) == [0.0]


SATORI = {"satori_format": 1.0, "caption": 1.0, "bbox": 1.0, "answer": 1.0}


def _columns(record):
    return {"caption": record["image_caption"], **{k: v for k, v in record.items() if k != "image_caption"}}


def test_satori_reward_total_and_weights():
    record = {
        "image_caption": "A red circle on white.",
        "bboxs": [[0, 0, 20, 20]],
        "width": 40,
        "height": 40,
        "input_width": 20,
        "input_height": 20,
        "possible_answers": ["red"],
    }
    total, components = RewardWeights(SATORI).score(GOOD, **_columns(record))
    assert components == {"satori_format": 1.0, "caption": pytest.approx(1.0), "bbox": 1.0, "answer": 1.0}
    assert total == pytest.approx(4.0)
    answer_only = RewardWeights(SATORI, {"satori_format": 0, "caption": 0, "bbox": 0})
    assert answer_only.score(GOOD.replace("red</answer>", "blue</answer>"), **_columns(record))[0] == 0.0
    total, components = answer_only.score(GOOD, **_columns(record))
    assert total == 1.0 and components["bbox"] == 1.0  # off, yet still reported
    total, components = RewardWeights(SATORI).score("junk", **_columns({**record, "bboxs": None}))
    assert total == 0.0 and set(components.values()) == {0.0}
    with pytest.raises(ValueError, match="iou"):
        RewardWeights(SATORI, {"iou": 1.0})


coordinates = st.floats() | st.integers(-(10**400), 10**400) | st.sampled_from([1e300, -1e300, 0.5, 1.5])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(coordinates, min_size=4, max_size=4), max_size=4),
    st.lists(st.lists(coordinates, min_size=4, max_size=4), max_size=4),
    st.sampled_from([None, 1, 100]),
)
def test_union_iou_never_raises_and_stays_in_range(predicted, truth, size):
    assert 0.0 <= union_iou(predicted, truth, size, size) <= 1.0
    assert union_iou(truth, predicted, size, size) == union_iou(predicted, truth, size, size)


# -- nothing raises ----------------------------------------------------------------------------------------

anything = st.one_of(
    st.none(), st.integers(), st.floats(), st.text(max_size=20), st.lists(st.integers(), max_size=5)
)


@settings(max_examples=150, deadline=None)
@given(
    completion=st.one_of(
        st.text(max_size=200), pieces, st.builds(lambda b: f"<bbox>{b}</bbox>", st.text(max_size=60))
    ),
    boxes=st.one_of(anything, st.lists(st.lists(st.floats(), min_size=4, max_size=4), max_size=3)),
    sizes=st.lists(anything, min_size=4, max_size=4),
    reference=anything,
    answers=st.one_of(anything, st.lists(st.text(max_size=5), max_size=3)),
)
def test_no_reward_raises_on_malformed_input(completion, boxes, sizes, reference, answers):
    width, height, input_width, input_height = sizes
    values = [
        satori_format([completion])[0],
        caption([completion], caption=[reference])[0],
        bbox(
            [completion],
            bboxs=[boxes],
            width=[width],
            height=[height],
            input_width=[input_width],
            input_height=[input_height],
        )[0],
        answer([completion], possible_answers=[answers])[0],
    ]
    for value in values:
        assert value is None or 0.0 <= value <= 1.0
    record = {
        "image_caption": reference,
        "bboxs": boxes,
        "width": width,
        "height": height,
        "input_width": input_width,
        "input_height": input_height,
        "possible_answers": answers,
    }
    total, _ = RewardWeights(SATORI).score(completion, **_columns(record))
    assert 0.0 <= total <= 4.0
