"""Gymnasium spaces shared by mmrl envs."""

from __future__ import annotations

import string

from gymnasium.spaces import Text

#: Latin-1 letters (``ª µ º À..ÿ`` minus ``×`` and ``÷``), so accented class names and answers fit the spaces.
LATIN1_LETTERS = "".join(chr(code) for code in range(0xA0, 0x100) if chr(code).isalpha())
#: Characters of the default text spaces: all of ``string.printable`` then the Latin-1 letters. A ``str`` (not a
#: set) so that ``Text.sample`` draws in a fixed order, whatever ``PYTHONHASHSEED`` is.
TEXT_CHARSET = string.printable + LATIN1_LETTERS


def text_space(max_length: int = 8192, extra_chars: str = "") -> Text:
    """A ``Text`` space of 0..``max_length`` characters from :data:`TEXT_CHARSET` plus ``extra_chars``.

    Envs use it for the observation's ``text`` and as the action space (the action is the model's whole
    response). Pass ``extra_chars`` when a dataset's labels use characters outside the default set.
    """
    extra = "".join(char for char in dict.fromkeys(extra_chars) if char not in TEXT_CHARSET)
    return Text(max_length=max_length, min_length=0, charset=TEXT_CHARSET + extra)
