"""What the simulated agents and the driver record while a simulation runs.

The driver records every API change it makes (:class:`ChangeRecord`: when it
was sent and acknowledged). Agents record every watch line they apply
(:class:`LineRecord`: its revision, when it was applied, its size) and every
list of their whole state (:class:`RelistRecord`).

A change learns its store revision from the watch line its *owner* host
receives (the host a port is bound to, before or after the change, always
gets a line carrying the port's record): the driver waits for that line
before it touches the same port again, so lines and changes cannot be
confused. The analysis (:mod:`l2pop.sim.analysis`) then joins lines to
changes by revision.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["ChangeRecord", "LineRecord", "RelistRecord", "Tracker"]


@dataclass(slots=True)
class ChangeRecord:
    """One API call of the trace (restarts are not changes)."""

    index: int  # position in the trace
    kind: str
    port_id: str  # the server's id of the port ("" until a create is answered)
    owners: frozenset[str]  # hosts the port is bound to before or after the change
    t_send: float
    t_ack: float | None = None
    revision: int | None = None
    # "line": revision from an owner's watch line; "relist": the owner listed its
    # state before its line came, so the revision is unknown.
    resolved_by: str = ""
    error: str = ""  # the API call failed: the change did not happen
    late: bool = False  # acknowledged, but the owner's line missed the driver's deadline
    owner_seen: asyncio.Event = field(default_factory=asyncio.Event)
    # owners whose line has not come yet; the change is resolved when none is left
    waiting_for: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class LineRecord:
    host: str
    revision: int
    t_apply: float
    nbytes: int
    # network id -> entries added + removed (-1 when the network left the host)
    networks: tuple[tuple[str, int], ...]
    port_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RelistRecord:
    host: str
    reason: str  # "start", "restart", "gone" (410), "error"
    revision: int
    t_start: float
    t_done: float
    entries: int
    nbytes: int


class Tracker:
    """Shared by the driver and every agent of one simulation (one event loop)."""

    def __init__(self) -> None:
        self.changes: list[ChangeRecord] = []
        self.lines: dict[str, dict[int, LineRecord]] = {}
        self.relists: list[RelistRecord] = []
        self.bookmarks = 0
        # two owners' lines of one change with different revisions (must stay 0)
        self.owner_conflicts = 0
        # server port id -> the change of that port still waiting for its owner line
        self._waiting: dict[str, ChangeRecord] = {}

    def begin(self, change: ChangeRecord) -> None:
        self.changes.append(change)
        if change.owners and change.port_id:
            change.waiting_for = set(change.owners)
            self._waiting[change.port_id] = change
        else:
            change.owner_seen.set()

    def forget(self, change: ChangeRecord) -> None:
        """The change failed or timed out: stop waiting for its line."""
        if self._waiting.get(change.port_id) is change:
            del self._waiting[change.port_id]
        change.owner_seen.set()

    def on_line(self, record: LineRecord) -> None:
        """An agent applied a line: it may be the owner's line of a waiting change.

        Every owner's line must come before the change is resolved: a migration's
        line reaches the old host and the new one, and the port's next change may
        only start once both had theirs, or a late line would be taken for it.
        """
        self.lines.setdefault(record.host, {})[record.revision] = record
        for port_id in record.port_ids:
            change = self._waiting.get(port_id)
            if change is None or record.host not in change.waiting_for:
                continue
            if change.revision is None:
                change.revision = record.revision
                change.resolved_by = "line"
            elif change.revision != record.revision:
                self.owner_conflicts += 1
            self._owner_done(change, record.host)

    def on_relist(self, record: RelistRecord) -> None:
        """A host listed its state: its pending owner lines will never come."""
        self.relists.append(record)
        for change in list(self._waiting.values()):
            if record.host in change.waiting_for and change.t_send <= record.t_start:
                if change.revision is None:
                    change.resolved_by = "relist"
                self._owner_done(change, record.host)

    def _owner_done(self, change: ChangeRecord, host: str) -> None:
        change.waiting_for.discard(host)
        if not change.waiting_for:
            del self._waiting[change.port_id]
            change.owner_seen.set()
