"""The fabric view's live stream: Server-Sent Events from the change stream.

Every change this replica applies, and every agent report, marks what it
touched for each open browser; the browser's stream then sends one event
with the current rows of those ports and agents, at most every
``BATCH_S`` s. So a burst of 500 changes/s costs a browser a few events a
second, and a change reaches it within one batch interval of being applied.
More than ``MAX_PORTS`` touched ports in one batch become a ``resync`` (the
page reloads its data) instead of a huge event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from l2pop.server.records import NETWORK, PORT
from l2pop.server.service import Service
from l2pop.server.ui.fabric import alive, port_row, summary
from l2pop.server.view import Applied

__all__ = ["BATCH_S", "Feed"]

BATCH_S = 0.1
KEEPALIVE_S = 15.0
STREAM_LIFETIME_S = 300.0  # the browser reconnects, and the session is checked again
MAX_PORTS = 500
JSON = dict[str, Any]


@dataclass(eq=False)
class _Client:
    ports: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    changed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Feed:
    """Registered once per service as a listener of its :class:`AgentBook`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._clients: set[_Client] = set()
        self._summarized: tuple[int, JSON] | None = None
        self._closed = False
        service.agents.listeners.append(self._heard)
        service.stream_closers.append(self.close_all)

    def close_all(self) -> None:
        """Server shutdown: every stream ends now (the browser reconnects elsewhere)."""
        self._closed = True
        for client in self._clients:
            client.wake.set()

    def _summary(self) -> JSON:
        """One summary per revision for every browser (it is a pass over all ports)."""
        revision = self.service.view.revision
        if self._summarized is None or self._summarized[0] != revision:
            self._summarized = (revision, summary(self.service))
        return self._summarized[1]

    @property
    def clients(self) -> int:
        return len(self._clients)

    def _heard(self, kind: str, what: object) -> None:
        if not self._clients:
            return
        ports: set[str] = set()
        agents: set[str] = set()
        if kind == "change" and isinstance(what, Applied):
            for rows in what.ports.values():
                ports.update(str(p["id"]) for p in rows)
            agents.update(what.hosts())
        elif kind == "agent":
            agents.add(str(what))
        for client in self._clients:
            client.ports |= ports
            client.agents |= agents
            client.changed = True
            client.wake.set()

    def _event(self, client: _Client) -> bytes:
        service = self.service
        view = service.view
        data: dict[str, Any] = {"revision": view.revision}
        if len(client.ports) > MAX_PORTS:
            data["resync"] = True
        else:
            names = {k: str(r.value["name"] or k) for k, r in view.records[NETWORK].items()}
            rows, deleted = [], []
            for port_id in sorted(client.ports):
                stored = view.get(PORT, port_id)
                if stored is None:
                    deleted.append(port_id)
                else:
                    rows.append(port_row(stored.value, names))
            data["ports"], data["deleted"] = rows, deleted
        data["agents"] = [
            service.agents.show(h, alive(service, h))
            for h in sorted(client.agents)
            if view.get("host", h) is not None
        ]
        data["summary"] = self._summary()
        client.ports, client.agents, client.changed = set(), set(), False
        return b"event: change\ndata: " + json.dumps(data).encode() + b"\n\n"

    async def stream(self) -> AsyncIterator[bytes]:
        """One browser's event stream, until it goes away or its lifetime is over."""
        client = _Client()
        self._clients.add(client)
        loop = asyncio.get_running_loop()
        try:
            hello = {"revision": self.service.view.revision}
            yield b"retry: 1000\nevent: hello\ndata: " + json.dumps(hello).encode() + b"\n\n"
            ends = loop.time() + STREAM_LIFETIME_S
            while loop.time() < ends and not self._closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client.wake.wait(), KEEPALIVE_S)
                client.wake.clear()
                if self._closed:
                    return
                if not client.changed:
                    yield b": keepalive\n\n"
                    continue
                yield self._event(client)
                await asyncio.sleep(BATCH_S)  # let a burst gather into the next event
        finally:
            self._clients.discard(client)
