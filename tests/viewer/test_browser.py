"""`mmrl view` in a real browser: a tiny training run, the viewer started as a user starts it, and the page driven
in headless Debian Chromium by Playwright (its own browser download is never used).

Skips when chromium (or the `view`/`dev` packages) is missing, unless MMRL_REQUIRE_BROWSER=1 (`make test`, which
installs chromium first): then their absence fails the test.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mmrl.config import load_config
from mmrl.logger import read_jsonl
from tests.trainer.helpers import REPO, free_port, mmrl_cmd, mmrl_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _need_browser():
    missing = None if Path(CHROMIUM).is_file() else "Debian's chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        missing = missing or f"{err.name} (pip install -e '.[dev]')"
    if missing is None:
        return
    if os.environ.get("MMRL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MMRL_REQUIRE_BROWSER=1 but {missing} is missing")
    pytest.skip(f"the viewer's browser test needs {missing}")


def _tiny_run(run_dir: Path) -> None:
    """A real run of the quickstart's env, as small as it gets (one step, an evaluation at 0 and 1)."""
    from mmrl.trainer import Trainer

    cfg = load_config(str(REPO / "configs" / "quickstart.yaml"), [
        "rollout.group_size=2", "rollout.groups_per_step=2", "rollout.max_new_tokens=4", "eval.episodes=2",
        "train.sft_steps=0", "train.total_steps=1", "train.progress=false", "train.log_samples=2",
        f"train.output_dir={run_dir}"])
    Trainer(cfg).train()


def _append_rows(run_dir: Path) -> None:
    """Two rows a model could have written: hostile markup in its response, and a GTR correction."""
    real = read_jsonl(run_dir / "samples.jsonl")[-1]
    image = real["turns"][0]["image"]
    hostile = {"step": 1, "kind": "train", "env": "their/Hostile-v0", "seed": 5, "format": "think_answer",
               "return": 7.5, "success": True, "error": None,
               "turns": [{"prompt": "be nice", "response": f"<think>{HOSTILE}</think><answer>{HOSTILE}</answer>",
                          "reward": 7.5, "image": image, "info": {"reward/exact_match": 7.5}}]}
    gtr = {"step": 1, "kind": "train", "env": "their/Gtr-v0", "seed": 6, "format": "json", "return": 0.0,
           "success": False, "error": None,
           "turns": [{"prompt": "numberline", "response": '{"thoughts": "go left", "action": "-"}', "reward": 0.0,
                      "image": None, "info": {"gtr_verdict": "NO", "gtr_thought": "go left",
                                              "gtr_corrected_thought": "go right, the target is larger"}}]}
    with open(run_dir / "samples.jsonl", "a") as fh:
        fh.write(json.dumps(gtr) + "\n" + json.dumps(hostile) + "\n")


def _raw_status(port: int, path: str) -> int:
    """Status of a GET sent with the path exactly as given (no client-side normalisation of `..`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", f"127.0.0.1:{port}")
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    return status


def _wait_for_server(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/run", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("mmrl view did not answer within 30 s")


@pytest.mark.slow
def test_the_viewer_shows_a_real_run_in_chromium(tmp_path):
    _need_browser()
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    run_dir = tmp_path / "run"
    _tiny_run(run_dir)
    assert list((run_dir / "images").glob("*.png")), "the run kept no image"
    # `mmrl eval` with several samples per prompt draws the pass@k curve next to the run's plots.
    from mmrl.eval import evaluate_checkpoint

    evaluated = evaluate_checkpoint(str(run_dir), ["eval.samples_per_episode=4"])
    assert {"pass@1", "pass@2", "pass@4"} <= set(evaluated)
    assert evaluated["pass_at_k_plot"] == str(run_dir / "plots" / "pass_at_k_step_1.png")
    assert Path(evaluated["pass_at_k_plot"]).is_file()
    _append_rows(run_dir)
    outside = tmp_path / "outside.png"
    outside.write_bytes((run_dir / read_jsonl(run_dir / "samples.jsonl")[0]["turns"][0]["image"]).read_bytes())
    os.symlink(outside, run_dir / "images" / "escape.png")

    port = free_port()
    proc = subprocess.Popen(mmrl_cmd("view", str(run_dir), "--port", str(port)), cwd=REPO, env=mmrl_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_server(port, proc)
        # Paths that leave the run directory are refused, whatever their spelling; an image inside is served.
        for path in ("/files/../config.yaml", "/files/%2e%2e/config.yaml", "/files/images/../../outside.png",
                     "/files//etc/passwd", "/files/images/escape.png", "/files/%2Fetc%2Fpasswd"):
            assert _raw_status(port, path) in (403, 404), path
        assert _raw_status(port, "/files/../config.yaml") == 403
        assert _raw_status(port, "/files/config.yaml") == 404  # inside, but not an image
        assert _raw_status(port, "/files/" + read_jsonl(run_dir / "samples.jsonl")[0]["turns"][0]["image"]) == 200

        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900})
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(f"http://127.0.0.1:{port}/")
            # The run's own episodes: their image loaded, their prompt text on the page.
            page.locator("article.episode img").first.wait_for()
            loaded = page.evaluate("[...document.querySelectorAll('article.episode img')]"
                                   ".filter(i => i.complete && i.naturalWidth > 0).length")
            assert loaded >= 2
            assert "What type of object is in the photo?" in page.locator("#col-a").text_content()
            expect(page.locator("#charts figure.chart").first).to_be_visible()
            assert page.locator("#charts figure.chart").count() >= 3  # reward, success, losses
            page.click("details.plots summary")  # the run's PNG plots, served from its plots/ folder
            expect(page.locator("#plots img[alt='pass_at_k_step_1.png']")).to_be_visible()
            assert page.evaluate("[...document.querySelectorAll('#plots img')].every(i => i.naturalWidth > 0)")
            page.click("details.plots summary")

            # The hostile response shows as text, in thought and action, and nothing in it ran.
            hostile = page.locator("article.episode", has_text="their/Hostile-v0")
            assert hostile.locator(".thought pre").text_content() == HOSTILE
            assert hostile.locator(".action pre").text_content() == HOSTILE
            assert page.evaluate("window.__pwned") is None
            assert page.locator("script").count() == 1 and page.locator("img[src='x']").count() == 0
            # GTR: the original and the corrected thought side by side.
            gtr = page.locator("article.episode", has_text="their/Gtr-v0")
            assert gtr.locator(".gtr .original pre").text_content() == "go left"
            assert gtr.locator(".gtr .corrected pre").text_content() == "go right, the target is larger"

            samples = read_jsonl(run_dir / "samples.jsonl")
            count = page.locator("#col-a .count")

            def shown(n: int) -> None:
                expect(count).to_have_text(f"{n} episode{'' if n == 1 else 's'}")

            shown(len(samples))
            page.select_option("#f-env", "their/Hostile-v0")
            shown(1)
            page.select_option("#f-env", "")
            page.select_option("#f-success", "true")
            shown(sum(bool(r["success"]) for r in samples))
            page.select_option("#f-success", "")
            page.fill("#f-min", "5")
            shown(1)
            page.fill("#f-min", "")
            page.select_option("#f-kind", "eval")
            shown(sum(r["kind"] == "eval" for r in samples))
            assert set(page.locator("#col-a article .tag").all_text_contents()) >= {"eval"}
            page.select_option("#f-step", "0")
            shown(sum(r["kind"] == "eval" and r["step"] == 0 for r in samples))
            # Two steps side by side: the held-out episodes at step 0 and at step 1 (the same seeds).
            page.select_option("#f-compare", "1")
            expect(page.locator("#col-b")).to_be_visible()
            expect(page.locator("#col-b .count")).to_have_text(
                f"step 1: {sum(r['kind'] == 'eval' and r['step'] == 1 for r in samples)} episodes")

            # A run still training: new rows appear without reloading the page.
            with open(run_dir / "samples.jsonl", "a") as fh:
                fh.write(json.dumps({**samples[-1], "step": 2}) + "\n")
            expect(page.locator("#f-step option[value='2']")).to_have_count(1, timeout=10_000)

            page.select_option("#f-kind", "")
            page.select_option("#f-step", "")
            page.select_option("#f-compare", "")
            page.locator("article.episode img").first.wait_for()
            shot = page.screenshot()
            context.close()
        assert not errors, errors
        pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=float)
        assert pixels.std() > 20  # not a blank page: text, curves and images
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    finally:
        proc.terminate()
        proc.wait(timeout=10)
