"""The training loop's own faults: non-finite numbers, stop signals, and how a run that has to stop says so.

- A non-finite loss or gradient never reaches the weights: the optimiser update is skipped (`Updater.micro_step`)
  and counted; `NonFiniteGuard` stops the run after `train.max_nonfinite_steps` such steps in a row.
- A sample whose advantage is not finite is dropped from the update (`drop_nonfinite_samples`).
- SIGTERM / SIGINT (`StopSignals`): the step in progress finishes, a checkpoint is written and the run exits with
  status 128 + the signal's number (143 for SIGTERM, 130 for SIGINT); a second signal stops at once.
- `RunHalted`: the run stopped on purpose (a guard or a signal); `mmrl train` prints its message as one line and
  exits with its `code`, without a traceback.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmrl.algos.base import Sample

EXIT_HALTED = 3
"""Exit status of a run stopped by a fault guard (too many non-finite steps, non-finite weights, a final
checkpoint that could not be written)."""


class RunHalted(Exception):
    """The run stopped on purpose: `mmrl train` prints the message as one line and exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_HALTED):
        super().__init__(message)
        self.code = code


class NonFiniteGuard:
    """Counts RL steps whose update was skipped for a non-finite loss or gradient; `limit` in a row stop the run
    (0: never)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_a_row = 0

    def record(self, step: int, skipped_updates: int) -> None:
        self.in_a_row = self.in_a_row + 1 if skipped_updates else 0
        if self.limit and self.in_a_row >= self.limit:
            raise RunHalted(f"step {step}: stopped after {self.in_a_row} steps in a row whose update was skipped for "
                            "a non-finite loss or gradient (train.max_nonfinite_steps); the last checkpoint holds "
                            "the last finite weights")


def drop_nonfinite_samples(samples: list[Sample]) -> int:
    """Give weight 0 (and advantage 0) to every sample whose advantage is not finite; returns how many."""
    dropped = 0
    for s in samples:
        if not math.isfinite(s.advantage):
            s.advantage, s.weight = 0.0, 0.0
            dropped += 1
    return dropped


class StopSignals:
    """While active (a context manager), SIGTERM and SIGINT only record themselves (`received`), so the loop can
    finish its step and save; a second signal restores the previous handler and re-delivers itself, stopping at
    once. Installed only on the main thread (signal handlers cannot be set elsewhere)."""

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:  # the second one: stop now
            self._restore()
            os.kill(os.getpid(), signum)
            return
        self.received = signum
        print(f"mmrl train: {signal.Signals(signum).name} received: finishing this step, then saving a checkpoint "
              "(send it again to stop at once)", flush=True)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}

    @staticmethod
    def exit_code(signum: int) -> int:
        return 128 + signum
