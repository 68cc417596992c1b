"""``mmrl/NextSegment-v0`` (RLPT): corpus reading, the lexical rewards, and the judge through a real endpoint."""

from __future__ import annotations

import pytest

from mmrl.envs.text.next_segment import NextSegmentEnv, documents_from_text
from mmrl.rewards import call_reward
from mmrl.rewards.judge import make_judge_reward
from mmrl.rewards.segment import rouge_l, token_f1
from tests.chat_server import ChatServer


def test_lexical_similarities_by_hand():
    assert token_f1("the cat sat", "the cat sat") == 1.0
    assert token_f1("the cat", "the cat sat down") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert rouge_l("cat the sat", "the cat sat") == pytest.approx(2 / 3)  # LCS 2 of 3 both ways
    assert token_f1("", "x") == rouge_l("x", "") == 0.0
    assert call_reward("next_segment_f1", ["<answer>the cat</answer>", "the cat"], answer=["the cat"] * 2) == [1.0, 0.0]


def test_a_user_corpus_is_split_into_paragraphs_and_sentences(tmp_path):
    corpus = tmp_path / "book.txt"
    corpus.write_text("One. Two! Three?\n\nShort.\n\nA b. C d. E f. G h.")
    assert documents_from_text(corpus.read_text(), 2) == [["One.", "Two!", "Three?"], ["A b.", "C d.", "E f.", "G h."]]
    env = NextSegmentEnv(corpus_path=str(corpus), context=2)
    seen = set()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        seen.add(info["answer"])
        passage = obs["text"].split("Passage: ")[1].split("\n")[0]
        assert len(passage.split(". ")) == 2 or "!" in passage  # two sentences of context
        _, reward, _, _, step_info = env.step(info["expert_action"])
        assert reward == 1.0 and step_info["success"]
    assert seen == {"Three?", "E f.", "G h."}
    with pytest.raises(ValueError, match="corpus_path"):
        NextSegmentEnv(corpus_path=str(tmp_path / "missing.txt"))


def test_the_judge_endpoint_can_score_predictions():
    def same_as_reference(body: dict) -> str:
        user = body["messages"][-1]["content"]
        predicted = user.split("Response:\n")[1].split("\n\n")[0]
        reference = user.split("Reference answer:\n")[1].split("\n\n")[0]
        return "Yes" if reference in predicted else "No"

    with ChatServer(same_as_reference) as server:
        make_judge_reward("test_segment_judge", base_url=server.url, model="j", timeout_s=5, retries=0,
                          principles={"The response's answer says the same as the reference answer.": 1.0})
        env = NextSegmentEnv(reward_weights={"next_segment_rouge_l": 0.0, "test_segment_judge": 1.0})
        _, info = env.reset(seed=1)
        assert env.step(info["expert_action"])[1] == 1.0
        env.reset(seed=1)
        assert env.step("<answer>Something else entirely.</answer>")[1] == 0.0
