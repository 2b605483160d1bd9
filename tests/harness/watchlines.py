"""Read a watch stream in a background thread, line by line, into a queue."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import httpx


class WatchReader:
    """``GET /v1/hosts/{host}/watch?revision=R`` read by a thread; lines parsed."""

    def __init__(self, url: str, host: str, token: str, revision: int) -> None:
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.status: int | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._client = httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=30)
        self._path = f"/v1/hosts/{host}/watch?revision={revision}"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("watch did not answer")

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self._path) as response:
                self.status = response.status_code
                self._ready.set()
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line:
                        self.lines.put(json.loads(line))
        except httpx.HTTPError:
            pass
        finally:
            self._ready.set()

    def changes_until(self, revision: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Change lines until a line (change or bookmark) at ``revision`` or later arrived."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line["type"] == "change":
                out.append(line)
            if line["revision"] >= revision:
                return out
        raise TimeoutError(f"no line at revision {revision}; got {out}")

    def close(self) -> None:
        self._stop.set()
        self._client.close()
