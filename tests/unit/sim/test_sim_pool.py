"""The simulator's worker processes and what they send the driver (no server needed)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from l2pop.core import Host, Network
from l2pop.sim.group import GroupResult
from l2pop.sim.pool import ProcessPool, WorkerError
from l2pop.sim.tracker import ChangeRecord, LineRecord, RelistRecord, Tracker
from l2pop.sim.worker import _Channel, read_frame, write_frame

pytestmark = pytest.mark.timeout(60)


class Recorder:
    """A Sink that keeps what it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[object, ...]] = []

    def on_owner_line(
        self, host: str, revision: int, port_ids: tuple[str, ...], t_apply: float
    ) -> None:
        self.heard.append(("owner", host, revision, port_ids, t_apply))

    def on_relist(self, record: RelistRecord) -> None:
        self.heard.append(("relist", record))


async def _pair() -> tuple[
    asyncio.StreamReader, asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamWriter
]:
    a, b = socket.socketpair()
    ra, wa = await asyncio.open_unix_connection(sock=a)
    rb, wb = await asyncio.open_unix_connection(sock=b)
    return ra, wa, rb, wb


def test_frames_cross_a_socket_whole_and_in_order() -> None:
    async def main() -> list[object]:
        _, wa, rb, wb = await _pair()
        big = LineRecord("h1", 7, 1.5, 100, (("N1", 2),), ("P1",))
        for message in (("ok", 1, None), ("events", [big] * 20_000), ("error", 2, "x")):
            write_frame(wa, message)
        got = [await read_frame(rb) for _ in range(3)]
        wa.close()
        wb.close()
        return got

    first, second, third = asyncio.run(main())
    assert first == ("ok", 1, None)
    assert isinstance(second, tuple)
    assert len(second[1]) == 20_000
    assert second[1][0] == LineRecord("h1", 7, 1.5, 100, (("N1", 2),), ("P1",))
    assert third == ("error", 2, "x")


def test_the_worker_flushes_its_events_before_any_answer() -> None:
    async def main() -> list[object]:
        _, wa, rb, wb = await _pair()
        channel = _Channel(wa)
        channel.on_owner_line("h1", 5, ("P1",), 1.0)
        channel.on_relist(RelistRecord("h2", "restart", 6, 1.0, 1.1, 3, 0))
        channel.send(("ok", 9, 2.0))  # an answer: the events go first, in order
        got = [await read_frame(rb) for _ in range(2)]
        wa.close()
        wb.close()
        return got

    events, answer = asyncio.run(main())
    assert events == (
        "events",
        [
            ("owner", "h1", 5, ("P1",), 1.0),
            ("relist", RelistRecord("h2", "restart", 6, 1.0, 1.1, 3, 0)),
        ],
    )
    assert answer == ("ok", 9, 2.0)


def test_owner_lines_resolve_changes_and_other_lines_only_fill_the_record() -> None:
    tracker = Tracker()
    change = ChangeRecord(0, "ActivatePort", "P1", frozenset({"h1"}), 0.0)
    tracker.begin(change)
    tracker.add_lines([LineRecord("h1", 8, 0.2, 10, (), ())])  # after the run: no resolution
    assert not change.owner_seen.is_set()
    tracker.on_owner_line("h1", 8, ("P1",), 0.2)
    assert change.owner_seen.is_set()
    assert change.revision == 8
    assert tracker.lines["h1"][8].t_apply == 0.2


def test_group_results_merge() -> None:
    a = GroupResult([LineRecord("h1", 1, 0.0, 1, (), ())], [3], {"lines": 1, "misfits": 0})
    a.merge(GroupResult([LineRecord("h2", 1, 0.0, 1, (), ())], [4, 5], {"lines": 2}))
    assert [r.host for r in a.lines] == ["h1", "h2"]
    assert a.entry_counts == [3, 4, 5]
    assert a.totals == {"lines": 3, "misfits": 0}


def test_worker_processes_answer_and_exit_when_closed() -> None:
    async def main() -> tuple[tuple[int, list[str]], GroupResult, list[int | None]]:
        recorder = Recorder()
        pool = ProcessPool(2, recorder)
        await pool.open()
        try:
            assert len(pool.pids()) == 2
            # no host at all: every worker starts an empty group
            await pool.start("http://127.0.0.1:9", [])
            assert await pool.settle(0, 1.0)
            verified = await pool.verify([Network("n1", 100)], [Host("h1", "198.18.0.1")], [])
            with pytest.raises(WorkerError, match="unknown op"):
                await pool.workers[0].call("shutdown_everything")
            result = await pool.stop()
        finally:
            processes = [w.process for w in pool.workers]
            await pool.close()
        return verified, result, [p.poll() for p in processes]

    verified, result, codes = asyncio.run(main())
    assert verified == (0, [])
    assert result.lines == []
    assert result.entry_counts == []
    assert result.totals["lines"] == 0
    assert all(code is not None for code in codes)  # both exited
