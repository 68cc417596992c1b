"""`mmrl view RUN_DIR`: browse a run in a local web page (curves, episodes turn by turn with their images).

The web server (Starlette on uvicorn) is the optional `view` extra: `pip install 'mmrl-vlm[view]'`."""

from __future__ import annotations

from pathlib import Path

from mmrl.config import UserError


def view(run_dir: str, host: str = "127.0.0.1", port: int = 8765) -> None:
    path = Path(run_dir)
    if not (path / "metrics.jsonl").is_file() and not (path / "samples.jsonl").is_file():
        raise UserError(f"{run_dir} holds neither metrics.jsonl nor samples.jsonl: is it a run directory?")
    try:
        from mmrl.viewer.server import serve
    except ImportError as err:
        missing = (err.name or "starlette").split(".")[0]
        raise UserError(f"mmrl view needs its web server ({missing} is missing): pip install 'mmrl-vlm[view]'"
                        ) from None
    serve(path, host, port)
