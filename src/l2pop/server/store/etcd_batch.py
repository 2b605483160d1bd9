"""Which queued l2pop writes go into the next etcd Txn (group commit, no I/O).

etcd applies a Txn all or nothing, at one revision, and evaluates every
compare against the state *before* the Txn. Folding several l2pop writes into
one Txn is therefore only equivalent to running them one after the other when
they do not touch each other's keys: two writes that guard or write the same
key (or a key under the other's :class:`~l2pop.server.store.base.CheckNone`
prefix) never share a Txn, and never have Txns in flight at the same time
(a later Txn's compare would read the state before the earlier one landed).

Fairness: the queue is first come, first served. A write that cannot go yet
(its keys are in flight, or an earlier queued write touches them) stays where
it is and *blocks its keys* for the rest of this pass, so a later write on the
same keys cannot overtake it; writes on other keys fill the Txn meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from l2pop.server.store.base import ChangeRecord, CheckNone, Delete, Op, Put
from l2pop.server.store.etcd_codec import guard_count

__all__ = ["Footprints", "Pending", "take_batch"]

_Key = tuple[str, str]


@dataclass(slots=True)
class Pending:
    """One l2pop write waiting for (or riding in) a Txn."""

    ops: Sequence[Op]
    future: asyncio.Future[ChangeRecord]
    deadline: float
    keys: frozenset[_Key] = field(init=False)
    prefixes: tuple[_Key, ...] = field(init=False)  # CheckNone (kind, prefix)
    guards: int = field(init=False)  # compares (and failure-branch reads) it adds
    writes: int = field(init=False)  # puts and deletes it adds

    def __post_init__(self) -> None:
        self.keys = frozenset((op.kind, op.key) for op in self.ops if not isinstance(op, CheckNone))
        self.prefixes = tuple((op.kind, op.prefix) for op in self.ops if isinstance(op, CheckNone))
        self.guards = guard_count(self.ops)
        self.writes = sum(1 for op in self.ops if isinstance(op, Put | Delete))


class Footprints:
    """The keys and CheckNone prefixes of a set of writes."""

    def __init__(self) -> None:
        self._keys: Counter[_Key] = Counter()
        self._prefixes: Counter[_Key] = Counter()

    def __bool__(self) -> bool:
        return bool(self._keys) or bool(self._prefixes)

    def conflicts(self, write: Pending) -> bool:
        keys = self._keys
        if any(key in keys for key in write.keys):
            return True
        # Prefix guards are rare (a network delete): a scan is cheap enough.
        for kind, prefix in write.prefixes:
            if any(k == kind and key.startswith(prefix) for k, key in keys):
                return True
        for kind, prefix in self._prefixes:
            if any(k == kind and key.startswith(prefix) for k, key in write.keys):
                return True
        return False

    def add(self, write: Pending) -> None:
        self._keys.update(write.keys)
        self._prefixes.update(write.prefixes)

    def remove(self, write: Pending) -> None:
        for counter, names in ((self._keys, write.keys), (self._prefixes, write.prefixes)):
            for name in names:
                counter[name] -= 1
                if counter[name] <= 0:
                    del counter[name]


def take_batch(queue: deque[Pending], in_flight: Footprints, max_ops: int) -> list[Pending]:
    """Remove and return the writes of the next Txn (first come, first served).

    A Txn holds at most ``max_ops`` compares and ``max_ops`` writes (etcd's
    ``--max-txn-ops``; one of each is the ``txn`` key's). A single write
    larger than that still goes alone, and etcd's refusal names the limit.
    """
    batch: list[Pending] = []
    kept: deque[Pending] = deque()
    blocked = Footprints()
    guards = writes = 0
    while queue:
        write = queue.popleft()
        if write.future.done():  # its caller gave up before it was sent
            continue
        if batch and (guards + write.guards + 1 > max_ops or writes + write.writes + 1 > max_ops):
            kept.append(write)
            break
        if in_flight.conflicts(write) or (blocked and blocked.conflicts(write)):
            blocked.add(write)
            kept.append(write)
            continue
        batch.append(write)
        blocked.add(write)  # a later write on these keys waits for this Txn
        guards += write.guards
        writes += write.writes
    kept.extend(queue)
    queue.clear()
    queue.extend(kept)
    return batch
