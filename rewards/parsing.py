"""Helpers that pull answers out of model responses. Linear time on any input; they never raise on strings."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Quotes and brackets that often wrap an answer ("'cat'", "**cat**", "(B)"); stripped from both ends.
_WRAPPERS = "\"'`*_()[]{}<>\u2018\u2019\u201c\u201d\u00ab\u00bb\u300c\u300d"
# Sentence punctuation stripped only from the end, so that "-3" and ".5" keep their leading sign and dot.
_TRAILING = ".,;:!?\u3002"
_WHITESPACE = re.compile(r"\s+")


def completion_text(completion: Any) -> str:
    """The text of one completion: a string as is, or the last message's ``content`` of a chat-format completion
    (TRL's conversational shape ``[{"role": "assistant", "content": ...}]``); anything else becomes ``""``."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, (list, tuple)) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content")
        return content if isinstance(content, str) else ""
    return ""


def extract_tag(text: str, tag: str) -> str | None:
    """Content of the last complete ``<tag>...</tag>`` pair in ``text`` (across newlines), or ``None``.

    "Last complete" means the last opening tag that is followed by a closing tag, up to the first closing tag
    after it; so an unclosed trailing ``<answer>`` is ignored and nested tags yield the innermost content.
    """
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    last_close = text.rfind(close_tag)
    if last_close < 0:
        return None
    start = text.rfind(open_tag, 0, last_close)
    if start < 0:
        return None
    start += len(open_tag)
    return text[start : text.find(close_tag, start)]


def normalize_answer(text: str) -> str:
    """Canonical form for answer comparison: NFKC, casefold, strip, collapse whitespace, strip wrapping
    quotes/brackets/markdown emphasis and trailing sentence punctuation (e.g. ``' "Red Circle." '`` -> ``red circle``).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    previous = None
    while text != previous:
        previous = text
        text = text.strip().strip(_WRAPPERS).rstrip(_TRAILING)
    return _WHITESPACE.sub(" ", text)
