"""A corrector behind any OpenAI-compatible chat endpoint: a local vLLM server (`vllm serve MODEL`), GPT-4o, ...

Uses the `openai` client (its own timeouts and retries). The API key is read from the environment variable named
by `gtr.api_key_env` and is never logged or written to the run directory; a local server needs none.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from mmrl.config import ConfigError
from mmrl.correctors.base import Correction
from mmrl.correctors.prompt import correction_messages, parse_verdict
from mmrl.formats import ResponseFormat

log = logging.getLogger("mmrl.correctors")


class _NotAChatCompletion(Exception):
    def __init__(self, reply: Any):
        super().__init__("not a chat completion")
        self.reply = reply


class OpenAICorrector:
    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, retries: int = 2, temperature: float = 0.4, json_mode: bool = True,
                 send_image: bool = True):
        from openai import OpenAI

        key = os.environ.get(api_key_env)
        if key is None and base_url is None:
            raise ConfigError(f"gtr.corrector 'openai' with the default endpoint needs the API key in ${api_key_env}")
        self.client = OpenAI(base_url=base_url, api_key=key or "none", timeout=timeout_s, max_retries=retries)
        self.model = model
        self.temperature = temperature
        self.json_mode = json_mode
        self.send_image = send_image

    def correct(self, observation: Any, response: str, info: dict[str, Any],
                response_format: ResponseFormat) -> Correction | None:
        kwargs: dict[str, Any] = {"response_format": {"type": "json_object"}} if self.json_mode else {}
        try:
            reply = self.client.chat.completions.create(
                model=self.model,
                messages=correction_messages(observation, response, info, response_format,
                                             "image_url" if self.send_image else None),
                temperature=self.temperature, **kwargs,
            )
            if not hasattr(reply, "choices"):  # e.g. a web page: the client hands back the raw text
                raise _NotAChatCompletion(reply)
            text = reply.choices[0].message.content
        except Exception as err:  # noqa: BLE001  (any failure means "no correction"; training goes on)
            log.warning("corrector request to %s failed: %s", self.client.base_url, self._describe(err))
            return None
        return parse_verdict(text, response, response_format)

    def _describe(self, err: Exception) -> str:
        """What went wrong, in words, with the API key blanked out should any message echo it."""
        import openai

        if isinstance(err, _NotAChatCompletion):
            what = f"the answer is not an OpenAI chat completion (it starts {str(err.reply)[:80]!r})"
        elif isinstance(err, openai.APITimeoutError):
            what = f"no answer within the timeout ({type(err).__name__})"
        elif isinstance(err, openai.APIConnectionError):
            what = f"cannot connect ({err.__cause__ or err})"
        elif isinstance(err, openai.APIStatusError):
            what = f"HTTP {err.status_code}: {str(err)[:200]}"
        else:
            what = f"{type(err).__name__}: {str(err)[:200]}"
        key = self.client.api_key
        return what.replace(key, "***") if key and key != "none" else what

    def close(self) -> None:
        self.client.close()
