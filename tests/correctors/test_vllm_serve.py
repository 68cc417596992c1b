"""GTR's OpenAI-compatible corrector against the server users point it at: `mmrl serve` (vLLM's own server) of a
tiny saved model on 127.0.0.1. The model is first taught to answer correction requests with one fixed verdict, so
the corrector's result shows the whole round trip: chat template, generation, reply, parsing."""

from __future__ import annotations

import subprocess
import time
import urllib.request

import pytest
import torch

from mmrl.correctors.openai_chat import OpenAICorrector
from mmrl.correctors.prompt import correction_messages
from mmrl.models.loading import save_policy
from tests.trainer.helpers import REPO, free_port, mmrl_cmd, mmrl_env
from tests.vllm_support import require_vllm, saved_tiny

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

RESPONSE = '{"thoughts": "the target is smaller, go left", "action": "-"}'
VERDICT = '{"evaluation": "NO", "on_solution_path": true, "correction": "The target 2 is less than 5."}'


def _teach_verdict(policy, observations: list[str], steps: int = 80) -> None:
    prompts = [policy.encode(correction_messages(o, RESPONSE, {})) for o in observations]
    target = policy.encode_completion(VERDICT)
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=3e-3)
    policy.model.train()
    for _ in range(steps):
        logprobs, mask, _ = policy.completion_logprobs(prompts, [target] * len(prompts))
        loss = -(logprobs * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.model.eval()


def _wait_ready(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"the server did not answer {url} within {timeout_s} s")


def test_openai_corrector_gets_a_verdict_from_mmrl_serve(tmp_path):
    require_vllm()
    policy = saved_tiny(tmp_path / "base", "text")
    observations = ["Current number 5, target 2.", "Current number 7, target 3.", "Current number 4, target 1."]
    _teach_verdict(policy, observations)
    model_dir = tmp_path / "corrector"
    save_policy(policy, str(model_dir))

    port = free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        mmrl_cmd("serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--served-model-name",
                 "corrector", "--max-model-len", "2048", "--enforce-eager"),
        cwd=REPO, env=mmrl_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/v1/models", proc, timeout_s=420)
        corrector = OpenAICorrector("corrector", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=120,
                                    temperature=0.0, json_mode=False)
        try:
            correction = corrector.correct({"text": observations[0]}, RESPONSE, {})
        finally:
            corrector.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert correction is not None, (tmp_path / "server.log").read_text()[-3000:]
    assert correction.correct is False
    assert correction.thought == "The target 2 is less than 5."
    assert "The target 2 is less than 5." in correction.response
