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

from l2pop.core import Snapshot, step_all
from l2pop.core.wire import encode_line
from l2pop.server.store.base import ChangeRecord
from l2pop.server.view import events_of, host_ports_of

__all__ = ["replay_lines"]

# Yield to the event loop every so many steps: a long replay must not stall
# the other streams and requests.
YIELD_EVERY = 100


async def replay_lines(
    snapshot: Snapshot, records: Sequence[ChangeRecord], host: str
) -> list[bytes]:
    """Lines for ``host`` for ``records``, which must end at ``snapshot``'s revision."""
    current = snapshot
    for count, record in enumerate(reversed(records), 1):
        current, _ = step_all(current, events_of(record.changes, undo=True))
        if count % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    lines = []
    for count, record in enumerate(records, 1):
        current, deltas = step_all(current, events_of(record.changes))
        ports = host_ports_of(record.changes).get(host, [])
        delta = deltas.get(host)
        if delta or ports:
            lines.append(encode_line(record.revision, delta, ports))
        if count % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return lines
