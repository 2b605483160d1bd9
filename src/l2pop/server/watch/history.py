"""Watch lines for revisions before a stream opened, from the durable change log.

The change log holds resource records, not per-host deltas (per-host deltas
would multiply the log by the fan-out). To serve ``watch?revision=R`` the
snapshot of the stream's start is rolled back through the change records
(R, now] using their *before* images, then stepped forward again through the
core: exactly the deltas live streams got, also after a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from l2pop.core import (
    Event,
    NetworkDeleted,
    NetworkUpserted,
    PortDeleted,
    PortUpserted,
    Snapshot,
    step_all,
)
from l2pop.core.wire import encode_line
from l2pop.server.store.base import ChangeRecord
from l2pop.server.view import events_of, host_ports_of

__all__ = ["replay_lines", "restrict"]

# Yield to the event loop every so many steps: a long replay must not stall
# the other streams and requests.
YIELD_EVERY = 100


async def replay_lines(
    snapshot: Snapshot,
    records: Sequence[ChangeRecord],
    host: str,
    networks: frozenset[str] | None = None,
) -> list[bytes]:
    """Lines for ``host`` for ``records``, which must end at ``snapshot``'s revision.

    ``networks``: replay on the snapshot restricted to these networks (every
    network ``host`` was bound on in the range), ``records`` being every record
    that touches them or a host (``server/watch/index.py``); None: everything.
    """
    current = snapshot if networks is None else restrict(snapshot, networks)
    for count, record in enumerate(reversed(records), 1):
        current, _ = step_all(current, _within(events_of(record.changes, undo=True), networks))
        if count % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    lines = []
    for count, record in enumerate(records, 1):
        current, deltas = step_all(current, _within(events_of(record.changes), networks))
        ports = host_ports_of(record.changes).get(host, [])
        delta = deltas.get(host)
        if delta or ports:
            lines.append(encode_line(record.revision, delta, ports))
        if count % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return lines


def restrict(snapshot: Snapshot, networks: frozenset[str]) -> Snapshot:
    """``snapshot`` with only ``networks`` (and every host)."""
    kept = {n: snapshot.networks[n] for n in networks if n in snapshot.networks}
    return Snapshot(kept, snapshot.hosts)


def _within(events: list[Event], networks: frozenset[str] | None) -> list[Event]:
    """The events on ``networks`` (and every host event); all when None."""
    if networks is None:
        return events
    return [e for e in events if (net := _network_of(e)) is None or net in networks]


def _network_of(event: Event) -> str | None:
    if isinstance(event, PortUpserted):
        return event.port.network_id
    if isinstance(event, PortDeleted | NetworkDeleted):
        return event.network_id
    if isinstance(event, NetworkUpserted):
        return event.network.id
    return None  # a host event: it may change a VTEP on any network
