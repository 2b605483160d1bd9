"""Tap device events from the dataplane (netlink, blocking) into the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading

from l2pop.dataplane.base import Dataplane, TapEvent

__all__ = ["TapWatcher"]

log = logging.getLogger(__name__)


class TapWatcher:
    """A thread blocked in ``wait_tap_events``; events land in :attr:`queue` in order.

    Each wait lasts at most ``poll`` s, so ``stop`` returns within about that long.
    """

    def __init__(self, dataplane: Dataplane, poll: float) -> None:
        self._dp = dataplane
        self._poll = poll
        self.queue: asyncio.Queue[TapEvent] = asyncio.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.failed: BaseException | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="l2pop-tap-events", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, self._poll * 4 + 1.0)

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        while not self._stop.is_set():
            try:
                events = self._dp.wait_tap_events(self._poll)
            except Exception as exc:  # the thread must not die silently
                log.exception("tap event watch failed; periodic resync still finds taps")
                self.failed = exc
                self._stop.wait(self._poll)
                continue
            for event in events:
                try:
                    loop.call_soon_threadsafe(self.queue.put_nowait, event)
                except RuntimeError:  # the loop is closed: we are stopping
                    return
