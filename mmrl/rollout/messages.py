"""Observation → chat messages: the one place that decides what the policy sees."""

from __future__ import annotations

from typing import Any

import numpy as np


def observation_parts(obs: Any) -> tuple[str, np.ndarray | None]:
    """(text, image or None) of an env observation: a {text, image} dict, or a bare string for text envs."""
    if isinstance(obs, str):
        return obs, None
    if isinstance(obs, dict) and "text" in obs:
        image = obs.get("image")
        return str(obs["text"]), (None if image is None else np.asarray(image))
    raise TypeError(
        "an mmrl env observation must be a str or a dict with a 'text' key (and optionally 'image'); "
        f"got {type(obs).__name__}"
    )


def build_messages(
    text: str,
    image: np.ndarray | None,
    history: list[tuple[str, str]],
    system_prompt: str | None,
) -> tuple[list[dict], list[np.ndarray]]:
    """Chat messages for one turn: system, the kept history as text turns, then the observation with its image.

    Only the current observation's image is attached; earlier turns stay text, so a long episode's prompt does not
    grow by an image per turn.
    """
    messages: list[dict] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    for past_text, past_response in history:
        messages.append({"role": "user", "content": past_text})
        messages.append({"role": "assistant", "content": past_response})
    if image is None:
        messages.append({"role": "user", "content": text})
        return messages, []
    messages.append({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]})
    return messages, [image]
