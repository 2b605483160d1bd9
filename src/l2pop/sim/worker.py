"""A simulator worker process: an :class:`~l2pop.sim.group.AgentGroup` driven over a socket.

The driver process (:mod:`l2pop.sim.pool`) starts N workers and gives each a
share of the hosts; each worker runs their agents (real list + watch clients,
each with its own token) in its own event loop, on its own CPU. Messages are
pickled frames (4-byte length, then the pickle) on a Unix socket pair:

* driver -> worker: ``(op, request id, args)``; ``unplug`` is a one-way message,
  every other op is answered ``("ok", id, value)`` or ``("error", id, text)``;
* worker -> driver, unasked: ``("events", [...])`` with the owner lines (lines
  that carry ports, which resolve the driver's changes) and the lists, in the
  order the agents applied them, sent once per turn of the event loop.

Every other line an agent applied is kept in the worker and sent when the
driver stops the group: the measurement needs only the apply times, taken here
with ``time.monotonic()`` (CLOCK_MONOTONIC is one clock for the whole machine).
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import sys
from typing import Any

from l2pop.sim.group import AgentGroup, frozen_heap
from l2pop.sim.tracker import RelistRecord

__all__ = ["OwnerEvent", "frame", "main", "read_frame", "write_frame"]

HEADER = 4
# AgentGroup coroutines the driver may ask for (answered when they finish)
ASYNC_OPS = frozenset({"start", "wait_build", "plug", "restart", "settle"})

# ("owner", host, revision, port ids, applied at) or ("relist", RelistRecord)
OwnerEvent = tuple[Any, ...]


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """One message; IncompleteReadError when the peer closed the socket."""
    head = await reader.readexactly(HEADER)
    return pickle.loads(await reader.readexactly(int.from_bytes(head, "big")))


def frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER, "big") + data


def write_frame(writer: asyncio.StreamWriter, message: object) -> None:
    writer.write(frame(message))


class _Channel:
    """The worker's end: a :class:`~l2pop.sim.agent.Sink`. Events and answers are queued
    in order and written together once per turn of the event loop (one write, not one
    per message), so the driver sees them in the order they happened."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending: list[Any] = []  # messages; ("events", [...]) grows in place

    def on_owner_line(
        self, host: str, revision: int, port_ids: tuple[str, ...], t_apply: float
    ) -> None:
        self._add(("owner", host, revision, port_ids, t_apply))

    def on_relist(self, record: RelistRecord) -> None:
        self._add(("relist", record))

    def _add(self, event: OwnerEvent) -> None:
        pending = self.pending
        if pending and pending[-1][0] == "events":
            pending[-1][1].append(event)
            return
        self._queue(("events", [event]))

    def send(self, message: object) -> None:
        self._queue(message)

    def _queue(self, message: object) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append(message)

    def flush(self) -> None:
        if self.pending:
            messages, self.pending = self.pending, []
            self.writer.write(b"".join(frame(m) for m in messages))


async def _answer(channel: _Channel, request: int, work: Any) -> None:
    try:
        value = await work
    except Exception as exc:  # the driver records it; the worker goes on
        channel.send(("error", request, f"{type(exc).__name__}: {exc}"))
    else:
        channel.send(("ok", request, value))


async def _serve(sock: socket.socket) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    channel = _Channel(writer)
    group: AgentGroup | None = None
    tasks: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                op, request, args = await read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the driver went away
            if op == "init":
                group = AgentGroup(args[0], args[1], channel, args[2])
                channel.send(("ok", request, None))
                continue
            assert group is not None, "init first"
            if op == "unplug":
                group.unplug(*args)
                continue
            if op == "verify":
                channel.send(("ok", request, group.verify(*args)))
                continue
            if op == "stop":
                await _answer(channel, request, group.stop())
                channel.flush()
                await writer.drain()
                return
            if op not in ASYNC_OPS:
                channel.send(("error", request, f"unknown op {op!r}"))
                continue
            work = getattr(group, op)(*args)
            task = asyncio.create_task(_answer(channel, request, work))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        writer.close()


async def _frozen(work: Any) -> None:
    async with frozen_heap():
        await work


def main(fd: int) -> None:
    """Entry point of a worker process: ``fd`` is its end of the driver's socket pair."""
    sock = socket.socket(fileno=fd)
    # Thousands of agents' clients log every keep-alive connection the server closed
    # under them (they retry at once): keep the terminal for the driver's progress.
    logging.getLogger("l2pop.agent").setLevel(logging.ERROR)
    try:
        asyncio.run(_frozen(_serve(sock)))
    except KeyboardInterrupt:  # the driver's terminal got ^C: the driver cleans up
        sys.exit(1)
