"""Stopping a search: a `run_search` process killed with SIGTERM or SIGINT takes its proxy runs' processes (and
what they started) down with it, and a restarted search runs only what had not finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mmrl.mixtures.search import read_results

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")

# A search over 3 domains (7 seed mixtures + 3 draws) whose runs 0-3 finish at once; the others start a real
# child through the executor's run_logged, which starts a grandchild, records both pids and sleeps.
SCRIPT = textwrap.dedent('''
    import json, os, signal, sys
    # A process started from a background job inherits SIGINT ignored, and Python then keeps it ignored: restore
    # the default (KeyboardInterrupt), which is what a search run from a terminal has.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from pathlib import Path
    from mmrl.config import from_dict
    from mmrl.mixtures import executors
    from mmrl.mixtures.search import MixtureSearchConfig, run_search

    mode, out = sys.argv[1], Path(sys.argv[2])
    shapes = {"id": "mmrl/Classification-v0"}
    cfg = from_dict(MixtureSearchConfig, {
        "name": "t", "domains": [{"name": f"d{i}", **shapes} for i in range(3)],
        "targets": [{"name": "a", **shapes}], "search": {"n_random": 3, "workers": 2}})
    CHILD = ("import os, subprocess, sys, time; g = subprocess.Popen(['sleep', '600']); "
             "open(sys.argv[1], 'w').write(f'{os.getpid()} {g.pid}'); time.sleep(600)")

    def run_fn(job):
        with open(out / "calls.txt", "a") as fh:
            fh.write(f"{job.index}\\n")
        if mode == "hang" and job.index >= 4:
            executors.run_logged([sys.executable, "-c", CHILD, str(out / f"pids_{job.index}")],
                                 out / f"log_{job.index}")
        s = sum(w * (i + 1) for i, w in enumerate(job.weights))
        return {"status": "ok", "score": s, "per_target": {"a": s}, "seconds": 0.0, "error": ""}

    run_search(cfg, out / "search", run_fn=run_fn, plots=False)
''')


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_for(condition, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_killed_search_leaves_no_child_and_resumes(tmp_path, sig):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    search = subprocess.Popen([sys.executable, str(script), "hang", str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pid_files = [tmp_path / "pids_4", tmp_path / "pids_5"]  # two workers: runs 4 and 5 hang side by side
    pids: list[int] = []
    try:
        assert wait_for(lambda: all(p.is_file() and p.read_text() for p in pid_files)), search.communicate()[0]
        pids = [int(x) for p in pid_files for x in p.read_text().split()]
        assert all(alive(pid) for pid in pids)
        search.send_signal(sig)
        output = search.communicate(timeout=60)[0]
        assert search.returncode != 0, output
        assert wait_for(lambda: not any(alive(pid) for pid in pids), 30), (pids, output)
    finally:  # if the test fails, leave nothing behind either
        for pid in [search.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    finished = sorted(r["index"] for r in read_results(tmp_path / "search" / "results.csv")[2])
    assert finished == [0, 1, 2, 3]  # the killed runs are not recorded (neither as ok nor as failed)

    (tmp_path / "calls.txt").write_text("")
    subprocess.run([sys.executable, str(script), "resume", str(tmp_path)], env=env, check=True,
                   capture_output=True, timeout=120)
    rerun = [int(x) for x in (tmp_path / "calls.txt").read_text().split()]
    assert sorted(rerun) == list(range(4, 10))
    rows = read_results(tmp_path / "search" / "results.csv")[2]
    assert sorted(r["index"] for r in rows) == list(range(10)) and all(r["status"] == "ok" for r in rows)
    assert json.loads((tmp_path / "search" / "best_mixture.json").read_text())["weights"]
