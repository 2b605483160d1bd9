"""Which revisions of the change log concern a host: an index per network and per host.

A watch that resumes far behind (``watch?revision=head-8000``) used to roll
the whole snapshot back through every change record of the range and step
it forward again, computing every host's deltas of every revision to keep
one host's: 2.7-3.4 s of server CPU per such watch, even for a host with no
line in the range (issue #17, item 6). Ten at once stalled everyone else.

What a host's lines depend on: the networks it has (or had) a bound port
on, and the hosts' tunnel IPs (host records). So the index keeps, in
revision order,

* per network: the revisions whose records touch it (the network record
  or a port of it);
* per host: (revision, network) for every port image bound to the host
  (before or after the change), which finds the networks the host *left*
  within the range;
* the revisions that touch a host record.

For ``(R, now]`` the host's networks are the ones it is bound on now plus
the ones its ports were on within the range -- every network it was bound
on at any time since R -- and the revisions to replay are those of these
networks and of the host records: usually a small fraction of the range,
often none. :func:`l2pop.server.watch.history.replay_lines` then replays only
them, on the snapshot restricted to these networks (a host's delta on a
network depends on that network and the tunnel IPs only; DESIGN.md §4).

The index is fed by the committed change stream (in revision order) and,
once at start, by the retained change log; it covers ``(floor, now]``. A
watch from before the floor (a store without a readable floor, or a range
already trimmed) takes the full replay, which is still correct.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from l2pop.core import Snapshot
from l2pop.server.records import HOST, NETWORK, PORT
from l2pop.server.store.base import ChangeRecord, Store

__all__ = ["HistoryIndex", "Relevant", "indexed_changes", "start_index"]

log = logging.getLogger(__name__)
BACKFILL_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Relevant:
    """What a host's watch from ``after`` must replay: revisions and networks."""

    revisions: list[int]
    networks: frozenset[str]


@dataclass(slots=True)
class _Lists:
    by_network: dict[str, list[int]] = field(default_factory=dict)
    by_host: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    hosts: list[int] = field(default_factory=list)

    def add(self, record: ChangeRecord) -> None:
        revision = record.revision
        networks: set[str] = set()
        bound: set[tuple[str, str]] = set()
        host_record = False
        for change in record.changes:
            if change.kind == NETWORK:
                networks.add(change.key)
            elif change.kind == PORT:
                for image in (change.before, change.after):
                    if image is None:
                        continue
                    net = str(image["network_id"])
                    networks.add(net)
                    if image.get("binding:host_id"):
                        bound.add((str(image["binding:host_id"]), net))
            elif change.kind == HOST:
                host_record = True
        for net in networks:
            self.by_network.setdefault(net, []).append(revision)
        for host, net in bound:
            self.by_host.setdefault(host, []).append((revision, net))
        if host_record:
            self.hosts.append(revision)


class HistoryIndex:
    """The index over ``(floor, revision]``; ``floor`` None: nothing covered yet."""

    def __init__(self, keep: int) -> None:
        self.keep = keep  # revisions kept behind the newest (>= the retained log)
        self.floor: int | None = None
        self.revision = 0
        self._lists = _Lists()
        self._added = 0

    def start(self, revision: int) -> None:
        """Cover what comes after ``revision`` (the view's revision when subscribed)."""
        self.floor = self.revision = revision

    def add(self, record: ChangeRecord) -> None:
        """A committed record (the store's listener: in revision order)."""
        if record.revision <= self.revision:
            return
        self._lists.add(record)
        self.revision = record.revision
        self._added += 1
        if self._added % 1000 == 0:
            self._trim(self.revision - self.keep)

    async def backfill(self, store: Store, compacted: int) -> None:
        """Index the retained log ``(compacted, floor]`` once (at start)."""
        floor = self.floor
        changes_at = getattr(store, "changes_at", None)
        if floor is None or compacted >= floor or changes_at is None:
            return
        older = _Lists()
        try:
            # In pages: the whole log decoded at once would be a spike of
            # memory that the process keeps.
            for low in range(compacted + 1, floor + 1, BACKFILL_PAGE):
                wanted = list(range(low, min(low + BACKFILL_PAGE, floor + 1)))
                for record in await changes_at(compacted, wanted):
                    older.add(record)
        except Exception as exc:  # compacted meanwhile, or the store closed: stay partial
            log.info("watch index covers revisions after %d only: %s", floor, exc)
            return
        # Everything in ``older`` precedes what the listener added since.
        for net, revs in older.by_network.items():
            self._lists.by_network[net] = revs + self._lists.by_network.get(net, [])
        for host, pairs in older.by_host.items():
            self._lists.by_host[host] = pairs + self._lists.by_host.get(host, [])
        self._lists.hosts = older.hosts + self._lists.hosts
        if self.floor == floor:  # not trimmed meanwhile: the whole retained log is in
            self.floor = compacted
        log.info("watch index covers revisions after %d", self.floor)

    def covers(self, after: int) -> bool:
        return self.floor is not None and after >= self.floor

    def relevant(self, host: str, after: int, bound_now: Iterable[str]) -> Relevant:
        """The revisions in ``(after, now]`` that may concern ``host``, and its networks."""
        lists = self._lists
        networks = set(bound_now)
        pairs = lists.by_host.get(host, [])
        start = bisect.bisect_right(pairs, (after, "\U0010ffff"))
        networks.update(net for _, net in pairs[start:])
        revisions: set[int] = set()
        for net in networks:
            revs = lists.by_network.get(net, [])
            revisions.update(revs[bisect.bisect_right(revs, after) :])
        revisions.update(lists.hosts[bisect.bisect_right(lists.hosts, after) :])
        return Relevant(sorted(revisions), frozenset(networks))

    def _trim(self, below: int) -> None:
        """Forget revisions <= ``below`` (older than any retained log)."""
        if self.floor is None or below <= self.floor:
            return
        lists = self._lists
        for net in list(lists.by_network):
            revs = lists.by_network[net]
            del revs[: bisect.bisect_right(revs, below)]
            if not revs:
                del lists.by_network[net]
        for host in list(lists.by_host):
            pairs = lists.by_host[host]
            del pairs[: bisect.bisect_right(pairs, (below, "\U0010ffff"))]
            if not pairs:
                del lists.by_host[host]
        del lists.hosts[: bisect.bisect_right(lists.hosts, below)]
        self.floor = below


def start_index(index: HistoryIndex, store: Store, revision: int) -> asyncio.Task[None] | None:
    """Feed ``index`` from the store's committed records after ``revision`` (the
    view's revision now) and index the retained log before it in the background."""
    index.start(revision)
    store.subscribe(index.add)
    compacted = getattr(store, "compacted", None)  # SQLite; etcd: from start on
    if not isinstance(compacted, int):
        return None
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop (a unit test building the ops): index from now on
        return None
    return asyncio.create_task(index.backfill(store, compacted), name="watch-index")


async def indexed_changes(
    index: HistoryIndex, store: Store, snapshot: Snapshot, host: str, after: int
) -> tuple[list[ChangeRecord], frozenset[str] | None]:
    """The records a watch of ``host`` from ``after`` must replay, and the networks to
    replay them on (None: all records, all networks -- the index does not reach back)."""
    changes_at = getattr(store, "changes_at", None)
    if not index.covers(after):
        return await store.changes(after), None
    bound_now = [net_id for net_id, net in snapshot.networks.items() if host in net.bound]
    relevant = index.relevant(host, after, bound_now)
    if changes_at is not None:
        records: list[ChangeRecord] = await changes_at(after, relevant.revisions)
    else:  # a store that reads its log only by range (etcd keeps recent records in memory)
        wanted = set(relevant.revisions)
        records = [r for r in await store.changes(after) if r.revision in wanted]
    return records, relevant.networks
