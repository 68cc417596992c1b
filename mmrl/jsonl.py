"""Reading the project's JSONL data files (demonstrations, VQA records, labelled images, math problems) one object a
line, with errors that name the file and the line.

Every reader of a user's JSONL file goes through :func:`jsonl_objects`, so they all skip blank lines, stream the
file and word their errors the same way: ``data.jsonl:14: not JSON (Expecting value)``. The reader then checks the
object's keys itself and raises with the ``where`` it was given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["JsonlError", "jsonl_objects"]


class JsonlError(ValueError):
    """A JSONL file that cannot be read: missing, a line that is not a JSON object, or no objects at all. (A plain
    ValueError, so the envs that read JSONL do not import the config machinery; `mmrl.demos` passes its own
    `UserError` subclass instead.)"""


def jsonl_objects(path: str | Path, what: str = "records", error: type[Exception] = JsonlError
                  ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, obj)`` for each non-blank line of the JSONL file `path`, `where` being ``"file:line"``.

    Raises `error` (a :class:`JsonlError` unless the caller names its own) when the file does not exist, when a line
    is not JSON or not a JSON object, and, after the last line, when the file held no object (`what` names them:
    ``"data.jsonl holds no demonstrations"``).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} file {path} does not exist")
    found = False
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise error(f"{where}: not JSON ({err.msg})") from None
            if not isinstance(obj, dict):
                raise error(f"{where}: expected a JSON object, got {type(obj).__name__}")
            found = True
            yield where, obj
    if not found:
        raise error(f"{path} holds no {what}")
