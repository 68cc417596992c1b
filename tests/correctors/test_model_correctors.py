"""Model correctors: the OpenAI-compatible one over real HTTP to a server on 127.0.0.1, and the local HF one."""

from __future__ import annotations

import json
import logging
import time

import pytest

from mmrl.correctors.openai_chat import OpenAICorrector
from mmrl.formats import JSON
from tests.chat_server import ChatServer

RESPONSE = '{"current number": 2, "target number": 4, "thoughts": "go left", "action": "+"}'
SECRET = "sk-test-not-a-real-key-123"


def _Server(reply: str = "", **kwargs) -> ChatServer:  # noqa: N802  (reads as the class it returns)
    """The stand-in endpoint answering every request with `reply`."""
    return ChatServer(lambda body: reply, **kwargs)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("MMRL_TEST_KEY", SECRET)
    return "MMRL_TEST_KEY"


def test_openai_corrector_exchanges_a_real_request_and_reads_the_verdict(key):
    server = _Server('{"evaluation": "NO", "on_solution_path": true, "correction": "4 is right of 2, so +"}')
    try:
        corrector = OpenAICorrector("judge-model", server.url, key, timeout_s=5, retries=0)
        verdict = corrector.correct({"text": "Current number: 2. Target number: 4."}, RESPONSE,
                                    {"expert_thought": "move right"}, JSON)
        corrector.close()
    finally:
        server.close()
    assert not verdict.correct and not verdict.off_path
    assert json.loads(verdict.response)["thoughts"] == "4 is right of 2, so +"
    assert json.loads(verdict.response)["action"] == "+"
    (request,) = server.calls
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "judge-model" and request["body"]["temperature"] == 0.4
    assert request["body"]["response_format"] == {"type": "json_object"}
    user = request["body"]["messages"][-1]["content"]
    assert "Current number: 2" in user and "go left" in user and "move right" in user
    assert request["auth"] == f"Bearer {SECRET}"


def test_openai_corrector_failure_is_no_correction_and_the_key_is_never_logged(key, caplog):
    server = _Server(status=500)
    try:
        corrector = OpenAICorrector("judge-model", server.url, key, timeout_s=5, retries=1)
        with caplog.at_level(logging.DEBUG):
            assert corrector.correct({"text": "t"}, RESPONSE, {}, JSON) is None
    finally:
        server.close()
    assert len(server.calls) == 2  # the first try and one retry
    assert SECRET not in caplog.text


def test_corrector_failures_log_the_url_and_what_was_wrong_never_the_key(key, caplog):
    from tests.trainer.helpers import free_port

    server = _Server(html="<!DOCTYPE html><html><body>Welcome to nginx!</body></html>")
    closed = f"http://127.0.0.1:{free_port()}/v1"
    try:
        with caplog.at_level(logging.WARNING, logger="mmrl.correctors"):
            assert OpenAICorrector("m", server.url, key, timeout_s=5, retries=0).correct(
                {"text": "t"}, RESPONSE, {}, JSON) is None
            assert OpenAICorrector("m", closed, key, timeout_s=5, retries=0).correct(
                {"text": "t"}, RESPONSE, {}, JSON) is None
    finally:
        server.close()
    html, refused = [r.getMessage() for r in caplog.records]
    assert server.url in html and "not an OpenAI chat completion" in html and "<!DOCTYPE html>" in html
    assert closed in refused and "cannot connect" in refused
    assert SECRET not in caplog.text


def test_openai_corrector_timeout_is_no_correction(key):
    server = _Server('{"evaluation": "YES"}', delay_s=3.0)
    try:
        corrector = OpenAICorrector("judge-model", server.url, key, timeout_s=0.5, retries=0)
        start = time.monotonic()
        assert corrector.correct({"text": "t"}, RESPONSE, {}, JSON) is None
        assert time.monotonic() - start < 2.5
    finally:
        server.close()


def test_openai_corrector_unreadable_reply_is_no_correction(key):
    server = _Server("I think the agent is fine")
    try:
        assert OpenAICorrector("m", server.url, key, timeout_s=5, retries=0).correct({"text": "t"}, RESPONSE, {}, JSON) is None
    finally:
        server.close()


def test_the_default_endpoint_without_a_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_KEY_VAR"):
        OpenAICorrector("gpt-4o", None, "NO_SUCH_KEY_VAR")


def test_local_hf_corrector_runs_a_saved_model_and_never_raises(tiny_text, tmp_path):
    from mmrl.correctors.hf_local import HFCorrector
    from mmrl.models.loading import save_policy

    save_policy(tiny_text, str(tmp_path / "judge"))
    corrector = HFCorrector(str(tmp_path / "judge"), temperature=1.0, max_new_tokens=16)
    outcome = corrector.correct({"text": "Current number: 2."}, RESPONSE, {}, JSON)
    # A random tiny model writes no verdict JSON: that is "no correction", not an error.
    assert outcome is None


def _picture():
    import numpy as np

    image = np.zeros((28, 56, 3), np.uint8)
    image[:, :28] = (255, 0, 0)
    return image


def test_openai_corrector_sends_the_observation_image_as_image_url_content(key):
    import base64
    import io

    from PIL import Image

    server = _Server('{"evaluation": "YES"}')
    try:
        OpenAICorrector("m", server.url, key, timeout_s=5, retries=0).correct(
            {"text": "What colour?", "image": _picture()}, RESPONSE, {}, JSON)
        OpenAICorrector("m", server.url, key, timeout_s=5, retries=0, send_image=False).correct(
            {"text": "What colour?", "image": _picture()}, RESPONSE, {}, JSON)
    finally:
        server.close()
    with_image, text_only = (r["body"]["messages"][-1]["content"] for r in server.calls)
    image_part, text_part = with_image
    assert text_part["type"] == "text" and "What colour?" in text_part["text"]
    url = image_part["image_url"]["url"]
    assert image_part["type"] == "image_url" and url.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (56, 28) and sent.getpixel((0, 0)) == (255, 0, 0)
    assert isinstance(text_only, str) and "What colour?" in text_only


def test_local_vl_corrector_encodes_the_observation_image(tiny_vl, tmp_path):
    from mmrl.correctors.hf_local import HFCorrector
    from mmrl.models.loading import save_policy

    save_policy(tiny_vl, str(tmp_path / "judge"))
    corrector = HFCorrector(str(tmp_path / "judge"), temperature=1.0, max_new_tokens=8)
    seen = []
    encode = corrector.policy.encode
    corrector.policy.encode = lambda messages, images=(): seen.append(encode(messages, images)) or seen[-1]
    corrector.correct({"text": "What colour?", "image": _picture()}, RESPONSE, {}, JSON)
    (prompt,) = seen
    assert len(prompt.images) == 1 and prompt.pixel_values is not None and prompt.image_grid_thw is not None
