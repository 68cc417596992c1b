"""Env calls on a few threads: results in order, a raising or hanging call fails alone, the rest go on."""

from __future__ import annotations

import threading
import time

import pytest

from mmrl.rollout.calls import CallFailed, run_calls


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_results_come_back_in_order(workers):
    calls = [lambda i=i: i * i for i in range(11)]
    assert run_calls(calls, workers, timeout_s=5) == [i * i for i in range(11)]


def test_a_raising_call_fails_alone():
    def boom():
        raise RuntimeError("env exploded")

    out = run_calls([lambda: 1, boom, lambda: 3], workers=1, timeout_s=5, what="env step")
    assert out[0] == 1 and out[2] == 3
    assert isinstance(out[1], CallFailed) and "env step raised" in out[1] and "env exploded" in out[1]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hanging_call_is_abandoned_and_the_rest_of_its_chunk_still_runs(workers):
    release = threading.Event()
    calls = [lambda: "a", lambda: release.wait(30) and "late", lambda: "c", lambda: "d"]
    start = time.monotonic()
    out = run_calls(calls, workers, timeout_s=0.3)
    assert time.monotonic() - start < 5
    assert out[0] == "a" and out[2:] == ["c", "d"]
    assert isinstance(out[1], CallFailed) and "exceeded 0.3s" in out[1]
    release.set()
    time.sleep(0.05)
    assert out[1] != "late"  # the abandoned call's late result is not written over the failure
    hung = [t for t in threading.enumerate() if t.name == "mmrl-env"]
    assert all(t.daemon for t in hung)
