"""`mmrl view`: a clear one-line error for a folder that is not a run, or when the web server is not installed."""

from __future__ import annotations

import json
import sys

import pytest

from mmrl.config import UserError
from tests.trainer.helpers import run_mmrl


def test_a_folder_that_is_not_a_run_is_one_line_and_exit_2(tmp_path):
    out = run_mmrl("view", str(tmp_path), "--port", "1")
    assert out.returncode == 2 and "is it a run directory?" in out.stderr and "Traceback" not in out.stderr


def test_without_the_web_server_the_error_names_the_extra(tmp_path, monkeypatch):
    from mmrl.viewer import view

    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 0}) + "\n")
    monkeypatch.delitem(sys.modules, "mmrl.viewer.server", raising=False)
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if not installed
    with pytest.raises(UserError, match=r"starlette is missing.*mmrl-vlm\[view\]"):
        view(str(tmp_path))
