"""Ctrl-C and SIGTERM during training: finish the step under way, write a checkpoint, stop with one line.

`Trainer.train` runs its loop inside `StopOnSignal()`, which — in the main thread only, and putting back the
handlers it found when the loop ends — handles

    the first SIGINT (Ctrl-C) or SIGTERM    by noting it in `requested` (the signal's number), nothing else: the
                                            step under way runs to its end
    a second SIGINT                         by raising KeyboardInterrupt at once (no checkpoint; the last one stays)
    a SIGTERM after the first signal        by ignoring it: the stop is under way (torchrun passes a Ctrl-C on to
                                            its workers as SIGINT, and a SIGTERM may follow)

A signal that was ignored when the loop started (SIG_IGN, e.g. a background job's SIGINT) stays ignored.

The loop sends "this process was asked to stop" with its step's one all_reduce, so every process reads the same
sum and all of them stop after the same step, even when only one was signalled. Then the loop writes a checkpoint
and raises `TrainingInterrupted` (a KeyboardInterrupt, so a notebook shows an interrupt), which the CLIs
(`bert.training.runs.run_cli`) turn into one line and the exit status 128 + the signal: 130 for Ctrl-C, 143 for
SIGTERM.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped after a Ctrl-C / SIGTERM: step `step` finished and `checkpoint` holds it (None: the run
    writes no checkpoints); `signum` is the signal, `exit_code` 128 + signum."""

    def __init__(self, signum: int, step: int, checkpoint: str | None):
        super().__init__(f"stopped by {signal.Signals(signum).name} after step {step}")
        self.signum, self.step, self.checkpoint = int(signum), step, checkpoint

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopOnSignal:
    """A context manager: while it is entered, the first SIGINT / SIGTERM only sets `requested` (see above)."""

    def __init__(self):
        self.requested = 0                       # the signal that asked to stop; 0: none
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        self.requested = 0
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.getsignal(s) for s in SIGNALS if signal.getsignal(s) != signal.SIG_IGN}
            for s in self._previous:
                signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)   # None: set outside Python
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        if not self.requested:
            self.requested = signum
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt


__all__ = ["StopOnSignal", "TrainingInterrupted"]
