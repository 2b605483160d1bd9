"""The interpreter settings the server changes for the whole process, set and restored here.

Two of them, both measured under ``l2pop bench server``:

* CPython's GIL switch interval, 5 ms -> 0.5 ms. The store's worker thread
  needs the GIL twice per group commit (to start the COMMIT and to hand
  back its result); at the default a busy event loop made every batch wait
  up to 10 ms for it, and the batch cycle, not the CPU, capped the write
  rate. Only that thread ever waits, so a short interval costs the loop
  next to nothing.
* The garbage collector's policy (:mod:`l2pop.server.process.gcpolicy`): the old
  generation frozen, young collections rarer.

:class:`InterpreterTuning` sets the first on entry and restores it on exit;
the GC policy runs as a task of the server's event loop between
:meth:`~InterpreterTuning.start_gc_policy` and
:meth:`~InterpreterTuning.stop_gc_policy`, which restores the collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from types import TracebackType

from l2pop.server.process.gcpolicy import GcPolicy, run_gc_policy

__all__ = ["GIL_SWITCH_INTERVAL_S", "InterpreterTuning"]

GIL_SWITCH_INTERVAL_S = 0.0005


class InterpreterTuning:
    """``with InterpreterTuning(policy):`` around the server's run."""

    def __init__(self, gc: GcPolicy, switch_interval: float = GIL_SWITCH_INTERVAL_S) -> None:
        self.gc = gc
        self.switch_interval = switch_interval
        self._saved_interval: float | None = None
        self._gc_task: asyncio.Task[None] | None = None

    def __enter__(self) -> InterpreterTuning:
        self._saved_interval = sys.getswitchinterval()
        sys.setswitchinterval(self.switch_interval)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._saved_interval is not None:
            sys.setswitchinterval(self._saved_interval)
            self._saved_interval = None

    def start_gc_policy(self) -> None:
        """Apply the GC policy from now on (in the running loop; the data is loaded)."""
        if self._gc_task is None:
            self._gc_task = asyncio.create_task(run_gc_policy(self.gc))

    async def stop_gc_policy(self) -> None:
        """Stop the GC policy; the collector is as it was before."""
        task, self._gc_task = self._gc_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
