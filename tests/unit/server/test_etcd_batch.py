"""Which queued writes share the next etcd Txn (no etcd needed: pure logic)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence

import pytest

from l2pop.server.store.base import ABSENT, ChangeRecord, CheckNone, Op, Put
from l2pop.server.store.etcd_batch import Footprints, Pending, take_batch


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _write(loop: asyncio.AbstractEventLoop, ops: Sequence[Op]) -> Pending:
    future: asyncio.Future[ChangeRecord] = loop.create_future()
    return Pending(ops, future, 0.0)


def _put(key: str, kind: str = "port") -> Put:
    return Put(kind, key, {}, ABSENT)


def test_writes_on_disjoint_keys_share_a_txn(loop: asyncio.AbstractEventLoop) -> None:
    queue = deque(_write(loop, [_put(f"p{i}")]) for i in range(5))
    batch = take_batch(queue, Footprints(), 128)
    assert [w.ops[0].key for w in batch] == [f"p{i}" for i in range(5)]  # type: ignore[union-attr]
    assert not queue


def test_a_write_on_a_key_in_the_txn_waits_and_blocks_later_ones_on_its_keys(
    loop: asyncio.AbstractEventLoop,
) -> None:
    a, a_again, b = (_write(loop, [_put(k)]) for k in ("a", "a", "b"))
    a_and_c = _write(loop, [_put("a"), _put("c")])
    c = _write(loop, [_put("c")])
    queue = deque([a, a_again, b, a_and_c, c])
    assert take_batch(queue, Footprints(), 128) == [a, b]
    # c does not overtake a_and_c, which waits for the second write on "a".
    assert list(queue) == [a_again, a_and_c, c]


def test_keys_in_flight_keep_writes_out_until_released(loop: asyncio.AbstractEventLoop) -> None:
    first = _write(loop, [_put("a")])
    in_flight = Footprints()
    in_flight.add(first)
    queue = deque([_write(loop, [_put("a")]), _write(loop, [_put("b")])])
    assert [w.ops[0].key for w in take_batch(queue, in_flight, 128)] == ["b"]  # type: ignore[union-attr]
    in_flight.remove(first)
    assert not in_flight
    assert len(take_batch(queue, in_flight, 128)) == 1


def test_a_prefix_guard_conflicts_with_writes_under_the_prefix(
    loop: asyncio.AbstractEventLoop,
) -> None:
    delete_net = _write(loop, [CheckNone("index", "mac/n1/")])
    port_in_it = _write(loop, [_put("mac/n1/aa", "index")])
    other_net = _write(loop, [_put("mac/n2/aa", "index")])
    queue = deque([delete_net, port_in_it, other_net])
    assert take_batch(queue, Footprints(), 128) == [delete_net, other_net]
    assert list(queue) == [port_in_it]


def test_a_txn_stays_within_max_txn_ops_and_a_big_write_goes_alone(
    loop: asyncio.AbstractEventLoop,
) -> None:
    queue = deque(_write(loop, [_put(f"p{i}"), _put(f"q{i}")]) for i in range(10))
    assert len(take_batch(queue, Footprints(), 9)) == 4  # 4 x 2 ops + the txn key
    big = _write(loop, [_put(f"big{i}") for i in range(20)])
    queue.appendleft(big)
    assert take_batch(queue, Footprints(), 9) == [big]


def test_writes_whose_caller_gave_up_are_not_sent(loop: asyncio.AbstractEventLoop) -> None:
    gone, kept = _write(loop, [_put("a")]), _write(loop, [_put("b")])
    gone.future.cancel()
    queue = deque([gone, kept])
    assert take_batch(queue, Footprints(), 128) == [kept]
    assert not queue
