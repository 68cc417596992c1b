"""Response formats: how a model's response splits into a thought and an action, in text and in tokens.

The one owner of that split. An env declares its format as ``response_format`` on the unwrapped env: a name
below (a plain string, so a user's env needs no mmrl import) or a :class:`ResponseFormat`; an env that declares
none is ``"plain"``. The env acts on :meth:`ResponseFormat.action`; the trainer (PPO's lambda-scaled thought), the
GTR correctors and their cloning masks, rewards and evaluation ask the same object.

| name | a response | thought | action |
|---|---|---|---|
| ``json`` | ``... {"thoughts": "...", "action": "+"}`` (RL4VLM; other fields allowed) | ``"thoughts"`` | ``"action"`` of the last JSON object |
| ``think_answer`` | ``<think>...</think><answer>...</answer>`` (R1, CLS-RL) | ``<think>`` content | last ``<answer>`` |
| ``action_tag`` | ``<think>...</think><action>...</action>`` (ALFWorld in verl-agent) | ``<think>`` content | last ``<action>`` |
| ``satori`` | ``<caption>...</caption> <bbox>[[...]]</bbox> <answer>...</answer>`` (SATORI-R1) | text before ``<answer>`` | last ``<answer>`` |
| ``plain`` | ``red`` (no thinking) | none | the whole response |

Every parser reads a model's output, hostile input: linear (or bounded) time, never raises on a string, never
evaluates anything.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from typing import Any

#: Responses longer than this hold no action (a format error): keeps parsing hostile text cheap.
MAX_RESPONSE_LENGTH = 8192
#: Longest action a tagged format reads; a longer one is no action.
MAX_ACTION_LENGTH = 2000
#: At most this many ``{`` positions are tried, from the end, when looking for the last JSON object.
MAX_DECODE_TRIES = 64


# ---------------------------------------------------------------------------------------------- primitives
def extract_tag(text: str, tag: str) -> str | None:
    """Content of the last complete ``<tag>...</tag>`` pair in ``text`` (across newlines), or ``None``.

    "Last complete" means the last opening tag that is followed by a closing tag, up to the first closing tag
    after it; so an unclosed trailing ``<answer>`` is ignored and nested tags yield the innermost content.
    """
    start = _tag_start(text, tag)
    if start is None:
        return None
    start += len(tag) + 2
    return text[start : text.find(f"</{tag}>", start)]


def _tag_start(text: str, tag: str) -> int | None:
    """Index of the ``<tag>`` that opens :func:`extract_tag`'s pair, or None."""
    last_close = text.rfind(f"</{tag}>")
    if last_close < 0:
        return None
    start = text.rfind(f"<{tag}>", 0, last_close)
    return None if start < 0 else start


def _last_json(text: Any) -> tuple[int, int, dict[str, Any]] | None:
    """(start, end, object) of the last top-level JSON object (a dict) in ``text``, or None."""
    if not isinstance(text, str) or len(text) > MAX_RESPONSE_LENGTH:
        return None
    decoder = json.JSONDecoder()
    found: tuple[int, int, dict[str, Any]] | None = None
    position = len(text)
    for _ in range(MAX_DECODE_TRIES):
        position = text.rfind("{", 0, position)
        if position < 0:
            break
        try:
            obj, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            continue
        if not isinstance(obj, dict):
            continue
        if found is None or end >= found[1]:  # the first object found, or one that encloses it
            found = (position, end, obj)
        else:  # an earlier object that ends before the one found: the one found is the last
            break
    return found


def last_json_object(text: Any) -> dict[str, Any] | None:
    """The last top-level JSON object (a dict) in ``text``, or ``None`` if there is none; text around it is
    ignored, and when several objects appear the last one counts."""
    found = _last_json(text)
    return None if found is None else found[2]


# ---------------------------------------------------------------------------------------------- formats
class ResponseFormat:
    """How a response splits into thought and action. Subclasses implement :meth:`action`, :meth:`thought`,
    :meth:`action_offset` and :meth:`compose`; the token split and the thought swap follow from them."""

    name = "plain"
    has_thought = False
    """Whether responses carry a thought apart from the action (GTR corrects thoughts: it needs one)."""

    def action(self, response: Any) -> str | None:
        """The stripped action the env acts on; None when the response holds none (a format error)."""
        if not isinstance(response, str) or len(response) > MAX_RESPONSE_LENGTH:
            return None
        return response.strip()

    def thought(self, response: Any) -> str:
        """The thought of a response ("" when there is none)."""
        return ""

    def action_offset(self, response: str) -> int | None:
        """Character index where the action part of ``response`` starts (what precedes is the thought); None
        when there is no action."""
        return 0 if self.action(response) is not None else None

    def fields(self, response: Any) -> dict[str, Any]:
        """Other things a response states besides thought and action (the JSON format's recognition fields)."""
        return {}

    def compose(self, thought: str, action: str, fields: dict[str, Any] | None = None) -> str:
        """A well-formed response with this thought and action."""
        return action

    def with_thought(self, response: str, thought: str, fields: dict[str, Any] | None = None) -> str | None:
        """``response`` with its thought replaced by ``thought`` (and ``fields`` set), its action untouched;
        None when it has no action to keep (then there is nothing to clone)."""
        action = self.action(response)
        if action is None or not self.has_thought:
            return None
        return self.compose(thought, action, {**self.fields(response), **(fields or {})})

    def action_token_start(self, token_ids: list[int], decode: Callable[[list[int]], str]) -> int:
        """Index of the first token of the action part of a tokenised response (``decode`` turns ids into text):
        the tokens before it are the thought. 0 when the response has no action (all of it counts as action)."""
        text = decode(token_ids)
        char = self.action_offset(text)
        if not char:
            return 0
        # Smallest k whose decoded prefix reaches past `char` (prefix lengths grow with k).
        return bisect.bisect_right(range(len(token_ids)), char, key=lambda k: len(decode(token_ids[: k + 1])))


class PlainFormat(ResponseFormat):
    """The whole response is the action; no thought (CLS-RL's no-thinking answers, a user's env by default)."""


class JsonFormat(ResponseFormat):
    """RL4VLM's answer: a JSON object with ``"thoughts"`` and ``"action"`` (and any recognition fields, e.g.
    ``"cards"``), the last object in the response; the action part starts at its ``"action"`` key."""

    name = "json"
    has_thought = True
    _ACTION_KEY = re.compile(r'"action"\s*:')

    def action(self, response: Any) -> str | None:
        obj = last_json_object(response)
        action = None if obj is None else obj.get("action")
        if isinstance(action, bool) or not isinstance(action, (str, int)):
            return None
        return str(action).strip()

    def thought(self, response: Any) -> str:
        found = _last_json(response)
        if found is None:
            return response.strip() if isinstance(response, str) else ""
        start, _, obj = found
        thoughts = obj.get("thoughts")
        return thoughts if isinstance(thoughts, str) else response[:start].strip()

    def action_offset(self, response: str) -> int | None:
        """The last ``"action":`` key in the text, even in a response cut off before its JSON closes (RL4VLM's
        split: a truncated answer still weighs its thought by lambda)."""
        if not isinstance(response, str) or len(response) > MAX_RESPONSE_LENGTH:
            return None
        keys = list(self._ACTION_KEY.finditer(response))
        return keys[-1].start() if keys else None

    def fields(self, response: Any) -> dict[str, Any]:
        obj = last_json_object(response) or {}
        return {k: v for k, v in obj.items() if k not in ("thoughts", "action")}

    def compose(self, thought: str, action: str, fields: dict[str, Any] | None = None) -> str:
        out = {k: v for k, v in (fields or {}).items() if k not in ("thoughts", "action")}
        return json.dumps(out | {"thoughts": thought, "action": action})  # the action last: its tokens follow


class TaggedFormat(ResponseFormat):
    """An action inside ``<action_tag>...</action_tag>`` (the last complete pair), after a thought: the content of
    ``<thought_tag>`` when given and present, else the text before the action tag."""

    has_thought = True

    def __init__(self, name: str, action_tag: str, thought_tag: str | None, separator: str = ""):
        self.name, self.action_tag, self.thought_tag, self.separator = name, action_tag, thought_tag, separator

    def action(self, response: Any) -> str | None:
        if not isinstance(response, str) or len(response) > MAX_RESPONSE_LENGTH:
            return None
        action = extract_tag(response, self.action_tag)
        return None if action is None or len(action) > MAX_ACTION_LENGTH else action.strip()

    def thought(self, response: Any) -> str:
        if not isinstance(response, str) or len(response) > MAX_RESPONSE_LENGTH:
            return ""
        if self.thought_tag is not None:
            inner = extract_tag(response, self.thought_tag)
            if inner is not None:
                return inner.strip()
        start = _tag_start(response, self.action_tag)
        return (response if start is None else response[:start]).strip()

    def action_offset(self, response: str) -> int | None:
        return _tag_start(response, self.action_tag) if self.action(response) is not None else None

    def compose(self, thought: str, action: str, fields: dict[str, Any] | None = None) -> str:
        before = thought if self.thought_tag is None else f"<{self.thought_tag}>{thought}</{self.thought_tag}>"
        return f"{before}{self.separator}<{self.action_tag}>{action}</{self.action_tag}>"

    def with_thought(self, response: str, thought: str, fields: dict[str, Any] | None = None) -> str | None:
        start = self.action_offset(response) if isinstance(response, str) else None
        if start is None:
            return None
        before = thought if self.thought_tag is None else f"<{self.thought_tag}>{thought}</{self.thought_tag}>"
        return before + self.separator + response[start:]  # the action part kept as the policy wrote it


PLAIN = PlainFormat()
JSON = JsonFormat()
THINK_ANSWER = TaggedFormat("think_answer", "answer", "think")
ACTION_TAG = TaggedFormat("action_tag", "action", "think")
SATORI = TaggedFormat("satori", "answer", None, separator=" ")

FORMATS: dict[str, ResponseFormat] = {f.name: f for f in (JSON, THINK_ANSWER, ACTION_TAG, SATORI, PLAIN)}
"""Every format by name (what an env's ``response_format`` may say)."""


def get_format(spec: str | ResponseFormat) -> ResponseFormat:
    """The format named ``spec`` (or ``spec`` itself when it is one)."""
    if isinstance(spec, ResponseFormat):
        return spec
    try:
        return FORMATS[spec]
    except (KeyError, TypeError):
        raise ValueError(f"unknown response format {spec!r}; known: {', '.join(FORMATS)}") from None


def format_of(env: Any) -> ResponseFormat:
    """The format an env declares (``env.unwrapped.response_format``); ``plain`` when it declares none."""
    return get_format(getattr(getattr(env, "unwrapped", env), "response_format", PLAIN.name))
