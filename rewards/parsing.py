"""Helpers that read answers out of model responses (tags through :mod:`mmrl.formats`). Linear time on any input;
they never raise on strings."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from mmrl.formats import extract_tag  # noqa: F401  (re-exported: rewards read tags through the formats module)

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
