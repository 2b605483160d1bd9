"""CPU time and resident memory of a process, sampled while a run goes on."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import psutil

__all__ = ["CpuMark", "ProcSampler"]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CpuMark:
    wall: float
    cpu: float  # user + system seconds


class ProcSampler:
    """Peak RSS by periodic sampling; CPU use between two :meth:`mark` calls."""

    def __init__(self, pid: int, interval_s: float = 0.25, limit_s: float = 7200.0) -> None:
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.samples = max(1, int(limit_s / interval_s))
        self.peak_rss = 0
        self._task: asyncio.Task[None] | None = None

    def rss(self) -> int:
        rss: int = self.process.memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def mark(self) -> CpuMark:
        times = self.process.cpu_times()
        return CpuMark(time.monotonic(), times.user + times.system)

    @staticmethod
    def cpu_percent(start: CpuMark, end: CpuMark) -> float:
        """Average CPU between two marks, in percent of one core."""
        wall = end.wall - start.wall
        return 100.0 * (end.cpu - start.cpu) / wall if wall > 0 else 0.0

    async def _run(self) -> None:
        for _ in range(self.samples):
            with contextlib.suppress(psutil.Error):
                self.rss()
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="proc-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
