"""Watch streams: per-host queues and watch lines encoded once per host.

Within one revision, hosts that publish nothing of the change share the very
same ``add``/``remove`` Entries objects (the core builds them once): their
JSON fragment is encoded once and reused, so fan-out to N hosts costs N
string joins, not N JSON encodings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from l2pop.core import Delta, NetworkDelta
from l2pop.core.wire import encode_entries
from l2pop.server.store.base import JSON
from l2pop.server.view import Applied

__all__ = ["Hub", "Watcher", "bookmark_line", "encode_line"]

_Cache = dict[tuple[object, ...], str]
# A compact encoder built once (json.dumps with separators builds one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _dumps(value: object) -> str:
    return _ENCODER.encode(value)


def _fragment(change: NetworkDelta, cache: _Cache) -> str:
    key = (id(change.add), id(change.remove), change.vni, change.mtu, change.removed)
    cached = cache.get(key)
    if cached is not None:
        return cached
    if change.removed:
        body: JSON = {"vni": change.vni, "mtu": change.mtu, "removed": True}
    else:
        body = {
            "vni": change.vni,
            "mtu": change.mtu,
            "add": encode_entries(change.add),
            "remove": encode_entries(change.remove),
        }
    text = _dumps(body)
    cache[key] = text
    return text


def encode_line(
    revision: int, delta: Delta | None, ports: Iterable[JSON], cache: _Cache | None = None
) -> bytes:
    """One ``{"type": "change"}`` line, the shape of :func:`l2pop.core.wire.encode_change`."""
    memo: _Cache = {} if cache is None else cache
    networks = ""
    if delta is not None and delta.networks:
        # Hosts that publish nothing of a change get identical networks parts.
        key = tuple(
            (net_id, id(c.add), id(c.remove), c.vni, c.mtu, c.removed)
            for net_id, c in delta.networks.items()
        )
        cached = memo.get(key)
        if cached is None:
            cached = ",".join(
                f"{_dumps(net_id)}:{_fragment(change, memo)}"
                for net_id, change in sorted(delta.networks.items())
            )
            memo[key] = cached
        networks = cached
    port_list = list(ports)
    ports_text = _dumps(port_list) if port_list else "[]"
    return (
        f'{{"type":"change","revision":{revision},"networks":{{{networks}}},'
        f'"ports":{ports_text}}}\n'
    ).encode()


def bookmark_line(revision: int) -> bytes:
    return f'{{"type":"bookmark","revision":{revision}}}\n'.encode()


@dataclass(eq=False)
class Watcher:
    """One open watch stream. ``closed`` is set when it fell too far behind."""

    host: str
    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    limit: int = 10_000
    closed: bool = False


class Hub:
    """Open watch streams by host; ``publish`` hands each its host's line."""

    def __init__(self, queue_limit: int = 10_000) -> None:
        self._by_host: dict[str, set[Watcher]] = {}
        self._queue_limit = queue_limit
        self.lines_sent = 0
        self.dropped = 0

    def add(self, host: str) -> Watcher:
        watcher = Watcher(host, limit=self._queue_limit)
        self._by_host.setdefault(host, set()).add(watcher)
        return watcher

    def remove(self, watcher: Watcher) -> None:
        watchers = self._by_host.get(watcher.host)
        if watchers is None:
            return
        watchers.discard(watcher)
        if not watchers:
            del self._by_host[watcher.host]

    def close_all(self) -> None:
        """End every stream (server shutdown); agents reconnect and resume."""
        for watchers in self._by_host.values():
            for watcher in watchers:
                watcher.closed = True
                watcher.queue.put_nowait(b"")

    def watching(self, host: str) -> bool:
        """Whether a stream of ``host`` is open here (liveness with one replica)."""
        return bool(self._by_host.get(host))

    def hosts_watching(self) -> int:
        return len(self._by_host)

    def count(self) -> int:
        return sum(len(w) for w in self._by_host.values())

    def publish(self, applied: Applied) -> int:
        """Queue the revision's line for every watcher of a touched host; return hosts reached."""
        cache: _Cache = {}
        reached = 0
        for host in applied.hosts():
            watchers = self._by_host.get(host)
            if not watchers:
                continue
            line = encode_line(
                applied.revision, applied.deltas.get(host), applied.ports.get(host, ()), cache
            )
            reached += 1
            for watcher in list(watchers):
                self._offer(watcher, line)
        return reached

    def _offer(self, watcher: Watcher, line: bytes) -> None:
        if watcher.closed:
            return
        if watcher.queue.qsize() >= watcher.limit:
            # A stream this far behind is cut; its agent resumes from its
            # last revision (or lists again) instead of holding memory here.
            watcher.closed = True
            self.dropped += 1
            watcher.queue.put_nowait(b"")
            return
        watcher.queue.put_nowait(line)
        self.lines_sent += 1
