"""Checking a user's image files when a data set is loaded: each file's header is read (cheap: no pixels decoded;
remembered per file version, so the many env copies of a run read it once), so an unreadable file or one too large
to decode safely is an error naming the file and its place in the data set, not a failure deep inside a rollout."""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path


def check_image(path: str | Path, where: str) -> tuple[int, int]:
    """(width, height) of the image at `path`; a ValueError starting with `where` (file and line, or folder) if it
    cannot be opened as an image or is larger than PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS)."""
    stat = os.stat(path)
    problem, size = _header(str(path), stat.st_mtime_ns, stat.st_size)
    if problem is not None:
        raise ValueError(f"{where}: image {str(path)!r} {problem}")
    return size


@lru_cache(maxsize=1 << 16)
def _header(path: str, mtime_ns: int, size: int) -> tuple[str | None, tuple[int, int]]:
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # judged below, as an error
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError as err:
        return f"is too large to load safely ({err})", (0, 0)
    except OSError as err:  # UnidentifiedImageError is an OSError
        return f"cannot be read as an image ({err})", (0, 0)
    if limit is not None and width * height > limit:
        return (f"is {width}x{height} pixels, more than the {limit} PIL decodes safely "
                "(PIL.Image.MAX_IMAGE_PIXELS); shrink it"), (width, height)
    return None, (width, height)
