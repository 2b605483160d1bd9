"""Watch lines into the held state: parse, check, apply; the policy for bad input.

Lines come in batches (all that one network read brought); :meth:`LineIntake.take`
applies each line to the held state at once and notes in a :class:`Batch` what
the agent must reconcile and report afterwards, once per batch.

Bad input (a line that does not decode, a change that does not fit the held
state) is logged and counted; the agent lists again (:class:`Relist`). If bad
input comes again before any good change line, it is skipped instead: a server
that keeps serving the same bad line cannot make the agent list in a loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from l2pop.agent.client import Bookmark, UnknownLine, parse_line
from l2pop.agent.desired import Held, touched_networks
from l2pop.agent.metrics import AgentMetrics
from l2pop.core.wire import HostPort
from l2pop.errors import ValidationError

__all__ = ["Batch", "LineIntake", "Relist"]

log = logging.getLogger(__name__)


class Relist(Exception):
    """The held state can no longer be trusted: list again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Batch:
    """What the change lines of one batch did: networks and VNIs touched, ports changed."""

    networks: set[str] = field(default_factory=set)
    vnis: set[int] = field(default_factory=set)
    ports: dict[str, HostPort] = field(default_factory=dict)
    changes: int = 0


class LineIntake:
    def __init__(self, metrics: AgentMetrics) -> None:
        self._metrics = metrics
        # Set when listing again because of bad input; cleared by the next good change.
        self._relisted_for_bad_input = False
        # The newest revision the current stream vouched for (bookmark or change).
        self._stream_revision = -1

    def new_stream(self) -> None:
        """A watch stream opens: its lines are checked against each other from here."""
        self._stream_revision = -1

    def take(self, held: Held, text: str, batch: Batch) -> None:
        """Apply one line to ``held``; raise :class:`Relist` when it cannot be trusted."""
        try:
            line = parse_line(text)
        except ValidationError as exc:
            self._bad_input("line", f"undecodable watch line: {exc}")
            return
        if isinstance(line, Bookmark):
            if line.revision < self._stream_revision:
                self._bad_input("order", f"bookmark {line.revision} went backwards")
                return
            self._stream_revision = line.revision
            held.revision = max(held.revision, line.revision)
            return
        if isinstance(line, UnknownLine):
            self._metrics.bad_input.labels("unknown_type").inc()
            log.warning("ignoring a watch line of unknown type %r", line.kind)
            return
        if line.revision <= self._stream_revision:
            # A stream's revisions only grow: this change contradicts a bookmark
            # (one ahead of the server's head) or an earlier line. Taking the
            # bookmark's word would skip this change silently.
            self._bad_input(
                "order",
                f"revision {line.revision} after the stream vouched for {self._stream_revision}",
            )
            return
        self._stream_revision = line.revision
        if line.revision <= held.revision:
            log.debug("skipping revision %d (held %d)", line.revision, held.revision)
            return
        misfit = held.check(line)
        if misfit is not None:
            self._bad_input(
                "delta", f"revision {line.revision} does not fit the held state: {misfit}"
            )
            held.revision = line.revision  # skipped: consumed, not replayed on resume
            return
        batch.networks |= touched_networks(line, held.ports)
        batch.vnis |= {nd.vni for nd in line.delta.networks.values()}
        held.advance(line)
        batch.ports.update((p.id, p) for p in line.ports)
        batch.changes += 1
        self._relisted_for_bad_input = False

    def _bad_input(self, kind: str, message: str) -> None:
        self._metrics.bad_input.labels(kind).inc()
        if self._relisted_for_bad_input:
            log.error("bad input from the server, skipped: %s", message)
            return
        log.error("bad input from the server, listing again: %s", message)
        self._relisted_for_bad_input = True
        raise Relist(f"bad_{kind}")
