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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

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


class LineRecord(NamedTuple):
    """One watch line an agent applied (a tuple: hundreds of thousands cross a pipe)."""

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
    """The driver's record of a simulation; the agents' groups report to it (a ``Sink``)."""

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
        if record.port_ids:
            self.on_owner_line(record.host, record.revision, record.port_ids, record.t_apply)

    def add_lines(self, records: Iterable[LineRecord]) -> None:
        """Lines kept by the agents during the run, for the analysis (no owner resolution:
        the owner lines came through :meth:`on_owner_line` as they were applied)."""
        lines = self.lines
        for record in records:
            by_revision = lines.get(record.host)
            if by_revision is None:
                by_revision = lines[record.host] = {}
            by_revision[record.revision] = record

    def on_owner_line(
        self, host: str, revision: int, port_ids: tuple[str, ...], t_apply: float
    ) -> None:
        """A line carrying ports was applied: it may be the owner's line of a waiting
        change (the agents send these at once; every other line only after the run)."""
        for port_id in port_ids:
            change = self._waiting.get(port_id)
            if change is None or host not in change.waiting_for:
                continue
            if change.revision is None:
                change.revision = revision
                change.resolved_by = "line"
            elif change.revision != revision:
                self.owner_conflicts += 1
            self._owner_done(change, host)

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
