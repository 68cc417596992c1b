"""The model's answer format for the gym-cards games: a JSON object (RL4VLM's), the last one in the response.

A response such as ``'I think... {"cards": [1, 2, 3, 4], "current formula": "(1+", "thoughts": "...",
"action": "2"}'`` is read with ``json.loads``-style decoding inside ``try``/``except``; text around the object is
ignored, and when several objects appear the last one counts. Nothing here raises on any input.
"""

from __future__ import annotations

import json
from typing import Any

#: Responses longer than this are not searched for an answer (a format error).
MAX_RESPONSE_LENGTH = 8192
#: At most this many ``{`` positions are tried, from the end, so hostile responses stay cheap.
MAX_DECODE_TRIES = 64


def last_json_object(response: Any) -> dict[str, Any] | None:
    """The last top-level JSON object (a dict) in ``response``, or ``None`` if there is none."""
    if not isinstance(response, str) or len(response) > MAX_RESPONSE_LENGTH:
        return None
    decoder = json.JSONDecoder()
    found: tuple[int, int, dict[str, Any]] | None = None  # (start, end, object)
    position = len(response)
    for _ in range(MAX_DECODE_TRIES):
        position = response.rfind("{", 0, position)
        if position < 0:
            break
        try:
            obj, end = decoder.raw_decode(response, position)
        except (ValueError, RecursionError):
            continue
        if not isinstance(obj, dict):
            continue
        if found is None or end >= found[1]:  # the first object found, or one that encloses it
            found = (position, end, obj)
        else:  # an earlier object that ends before the one found: the one found is the last
            break
    return None if found is None else found[2]


def response_action(response: Any) -> str | None:
    """The stripped ``"action"`` of the last JSON object in ``response`` (a string or an integer), else ``None``."""
    obj = last_json_object(response)
    if obj is None:
        return None
    action = obj.get("action")
    if isinstance(action, bool) or not isinstance(action, (str, int)):
        return None
    return str(action).strip()


def format_response(fields: dict[str, Any]) -> str:
    """A well-formed response: ``fields`` (ending with ``"action"``) as one JSON object."""
    return json.dumps(fields)
