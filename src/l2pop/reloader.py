"""Re-read files without a restart: on SIGHUP, and when a watched file changes.

The server re-reads its certificate, key, client CA and admin token file; the
agent its client certificate, key and CA file (:class:`l2pop.tlsclient.LiveClientTls`).

Polling (size, mtime, inode) once a second, not inotify: it also sees a file
replaced by a rename (how cert-manager and most deployment tools rotate) or a
Kubernetes secret's symlink swap, and costs a few ``stat`` calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["POLL_INTERVAL_S", "Reloader"]

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 1.0
_Stamp = tuple[int, int, int] | None


def _stamp(path: Path) -> _Stamp:
    try:
        st = os.stat(path)  # follows symlinks: a swapped link target counts
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class Reloader:
    """Calls each ``(files, reload)`` pair's ``reload`` when one of its files changed,
    and all of them on SIGHUP."""

    def __init__(
        self,
        watched: Sequence[tuple[Sequence[Path], Callable[[], object]]],
        interval: float = POLL_INTERVAL_S,
    ) -> None:
        self._watched = [(list(files), reload) for files, reload in watched]
        self._interval = interval
        self._stamps = [[_stamp(p) for p in files] for files, _ in self._watched]

    def reload_all(self) -> None:
        log.info("SIGHUP: re-reading %s", ", ".join(str(p) for f, _ in self._watched for p in f))
        for _, reload in self._watched:
            reload()

    def poll(self) -> None:
        """One pass: reload what changed since the last pass."""
        for i, (files, reload) in enumerate(self._watched):
            stamps = [_stamp(p) for p in files]
            if stamps != self._stamps[i]:
                self._stamps[i] = stamps
                if all(s is not None for s in stamps):  # a file in the middle of a swap
                    log.info("%s changed", ", ".join(str(p) for p in files))
                    reload()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.poll()

    def start(self) -> asyncio.Task[None]:
        """Poll from now on, and answer SIGHUP; cancel the task to stop."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signal.SIGHUP, self.reload_all)
        return loop.create_task(self._run())
