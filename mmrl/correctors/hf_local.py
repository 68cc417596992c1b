"""A corrector that is a local Hugging Face model (a checkpoint folder), run on this machine.

It reuses the policy's loading and generation code, so any model `model.path` accepts works here too, and it
generates through the run's generation backend (`rollout.backend`: transformers, or its own vLLM engine). Use it for
a bigger model than the policy on the same GPU, or a tiny one in tests.
"""

from __future__ import annotations

import threading
from typing import Any

from mmrl.config import ModelConfig, RolloutConfig
from mmrl.correctors.base import Correction
from mmrl.correctors.prompt import correction_messages, observation_image, parse_verdict
from mmrl.formats import ResponseFormat
from mmrl.models.loading import load_pretrained_policy
from mmrl.rollout.backends import HFBackend, SamplingParams, make_backend


class HFCorrector:
    def __init__(self, path: str, temperature: float = 0.4, max_new_tokens: int = 256, device: str = "cpu",
                 rollout: RolloutConfig | None = None):
        self.policy = load_pretrained_policy(path, ModelConfig(path=path))
        self.policy.model.to(device).eval()
        self.backend = HFBackend(self.policy, batch_size=1) if rollout is None else make_backend(
            rollout, self.policy, path)
        self.params = SamplingParams(max_new_tokens, temperature, 1.0)
        self._lock = threading.Lock()  # one generate at a time: the model is shared by the worker threads

    def correct(self, observation: Any, response: str, info: dict[str, Any],
                response_format: ResponseFormat) -> Correction | None:
        vl = self.policy.is_vl  # a VL model sees the observation's image; a text model reads the text only
        messages = correction_messages(observation, response, info, response_format, "placeholder" if vl else None)
        picture = observation_image(observation) if vl else None
        with self._lock:
            prompt = self.policy.encode(messages, [] if picture is None else [picture])
            reply = self.backend.generate([prompt], self.params)[0].text
        return parse_verdict(reply, response, response_format)

    def close(self) -> None:
        self.backend.close()
