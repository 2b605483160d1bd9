"""Catch-up reads shared by concurrent callers (read-your-writes across replicas).

A caller must see every write acknowledged anywhere before it arrived: a
linearizable etcd read that *starts after* the caller arrived, then the watch
catching up to it, gives that. One such read serves every caller that arrived
before it started, so N concurrent callers cost at most two etcd reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

__all__ = ["SharedRead"]


class SharedRead:
    """``await shared()`` returns once a run of ``read`` begun after the call ended."""

    def __init__(self, read: Callable[[], Awaitable[None]]) -> None:
        self._read = read
        self._started = 0  # runs begun so far
        self._task: asyncio.Task[None] | None = None
        self._task_number = 0

    async def __call__(self) -> None:
        arrived = self._started
        for _ in range(3):  # a run begun before us, then (at most) our own
            task = self._task
            if task is not None and self._task_number > arrived:
                await asyncio.shield(task)
                return
            if task is not None and not task.done():
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)
                continue
            self._started += 1
            self._task_number = self._started
            self._task = asyncio.create_task(self._run())
        raise AssertionError("unreachable: a run begun after the call was awaited")

    async def _run(self) -> None:
        await self._read()
