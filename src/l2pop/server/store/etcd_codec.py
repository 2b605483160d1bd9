"""Store ops <-> etcd transactions, and etcd watch events -> change records.

Key layout under the prefix ``P`` (default ``/l2pop/``)::

    P r/<kind>/<key>   one record (JSON), kind network | port | host | index
    P txn              written by every l2pop transaction, value = its txn id
    P compacted        the revision l2pop last compacted etcd's history at

The ``txn`` key makes every l2pop transaction visible as one event in the
watch stream, even a transaction whose other ops change nothing, and its
value (a random id) lets the writer recognise its own transaction when the
reply was lost (the member died mid-call).

Guards become etcd compares: ``expect`` -> ``mod_revision == expect`` (0 for
absent, as in etcd), :class:`CheckNone` -> ``version == 0`` over the key range
of the prefix (etcd compares every key in ``[key, range_end)``; an empty range
compares as one absent key). The failure branch reads back every guarded key,
so a failed transaction names the record that moved, at the same revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from aetcd import rpc

from l2pop.server.store.base import (
    INDEX,
    JSON,
    ChangeRecord,
    Check,
    CheckNone,
    Delete,
    Op,
    PreconditionFailed,
    Put,
    ResourceChange,
)

__all__ = [
    "Decoded",
    "Layout",
    "TxnParts",
    "broken_guard",
    "build_txn",
    "check_ops",
    "decode_events",
    "encode_value",
    "failed_guard",
    "failed_head",
    "finish_txn",
    "guard_count",
    "prefix_end",
    "txn_parts",
]

EVENT_DELETE = 1


def prefix_end(key: bytes) -> bytes:
    """The smallest key after every key that starts with ``key`` (etcd's range end)."""
    trimmed = key.rstrip(b"\xff")
    if not trimmed:
        return b"\x00"
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def encode_value(value: JSON) -> bytes:
    # orjson: the watch decodes every value twice (the record and its before
    # image) on every replica; the stdlib's json was a visible share of that.
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Layout:
    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or not self.prefix.endswith("/"):
            raise ValueError(f"etcd prefix {self.prefix!r} must start and end with '/'")

    @cached_property
    def start(self) -> bytes:
        return self.prefix.encode()

    @cached_property
    def end(self) -> bytes:
        return prefix_end(self.start)

    @cached_property
    def txn_key(self) -> bytes:
        return f"{self.prefix}txn".encode()

    @cached_property
    def compacted_key(self) -> bytes:
        return f"{self.prefix}compacted".encode()

    def record_key(self, kind: str, key: str) -> bytes:
        return f"{self.prefix}r/{kind}/{key}".encode()

    def parse(self, raw: bytes) -> tuple[str, str] | None:
        """``(kind, key)`` of a record key, None for anything else (the txn key)."""
        text = raw.decode()
        rest = text[len(self.prefix) :]
        if not text.startswith(self.prefix) or not rest.startswith("r/"):
            return None
        kind, sep, key = rest[2:].partition("/")
        return (kind, key) if sep else None


def _range(key: bytes, end: bytes | None = None, *, limit: int = 0) -> Any:
    request = rpc.RangeRequest(key=key, keys_only=True, limit=limit)
    if end is not None:
        request.range_end = end
    return rpc.RequestOp(request_range=request)


def _compare_mod(key: bytes, expect: int) -> Any:
    return rpc.Compare(
        result=rpc.Compare.EQUAL, target=rpc.Compare.MOD, key=key, mod_revision=expect
    )


@dataclass(slots=True)
class TxnParts:
    """The compares, writes and failure-branch reads of one or more l2pop writes."""

    compare: list[Any]
    success: list[Any]
    failure: list[Any]


def txn_parts(layout: Layout, ops: Sequence[Op], into: TxnParts | None = None) -> TxnParts:
    """Append one l2pop write's compares, writes and guard reads to ``into``.

    The failure branch gets one read per guard, in the order of the guards,
    so a failed Txn's responses tell which guard of which write moved.
    """
    parts = into if into is not None else TxnParts([], [], [])
    compare, success, failure = parts.compare, parts.success, parts.failure
    for op in ops:
        if isinstance(op, CheckNone):
            start = layout.record_key(op.kind, op.prefix)
            compare.append(
                rpc.Compare(
                    result=rpc.Compare.EQUAL,
                    target=rpc.Compare.VERSION,
                    key=start,
                    range_end=prefix_end(start),
                    version=0,
                )
            )
            failure.append(_range(start, prefix_end(start), limit=1))
            continue
        key = layout.record_key(op.kind, op.key)
        if op.expect is not None:
            compare.append(_compare_mod(key, op.expect))
            failure.append(_range(key))
        if isinstance(op, Put):
            put = rpc.PutRequest(key=key, value=encode_value(op.value))
            success.append(rpc.RequestOp(request_put=put))
        elif isinstance(op, Delete):
            success.append(rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key)))
    return parts


def finish_txn(layout: Layout, parts: TxnParts, txn_id: str) -> Any:
    """The TxnRequest: ``parts`` plus the ``txn`` key's put (and its read on failure)."""
    success = [
        *parts.success,
        rpc.RequestOp(request_put=rpc.PutRequest(key=layout.txn_key, value=txn_id.encode())),
    ]
    failure = [*parts.failure, _range(layout.txn_key)]
    return rpc.TxnRequest(compare=parts.compare, success=success, failure=failure)


def build_txn(layout: Layout, ops: Sequence[Op], txn_id: str) -> Any:
    """One etcd TxnRequest for ``ops``; its failure branch reads the guarded keys."""
    return finish_txn(layout, txn_parts(layout, ops), txn_id)


def guard_count(ops: Sequence[Op]) -> int:
    """How many compares (and failure-branch reads) ``ops`` adds to a Txn."""
    return sum(1 for op in ops if isinstance(op, CheckNone) or op.expect is not None)


def broken_guard(
    layout: Layout, ops: Sequence[Op], replies: Sequence[Any]
) -> PreconditionFailed | None:
    """The first guard of ``ops`` that the failure branch's ``replies`` (its reads,
    in guard order) show broken; None when every guard of ``ops`` held."""
    guarded = [op for op in ops if isinstance(op, CheckNone) or op.expect is not None]
    for op, reply in zip(guarded, replies, strict=True):
        if isinstance(op, CheckNone):
            if reply.kvs:
                found = layout.parse(reply.kvs[0].key)
                name = found[1] if found else op.prefix
                return PreconditionFailed(op.kind, name, 0, reply.kvs[0].mod_revision)
            continue
        actual = reply.kvs[0].mod_revision if reply.kvs else 0
        if actual != op.expect:
            return PreconditionFailed(op.kind, op.key, op.expect, actual)
    return None


def failed_head(response: Any) -> int:
    """The latest l2pop revision a failed Txn saw (its last read, of the ``txn`` key)."""
    last = response.responses[-1].response_range
    return int(last.kvs[0].mod_revision) if last.kvs else 0


def failed_guard(
    layout: Layout, ops: Sequence[Op], response: Any
) -> tuple[PreconditionFailed, int]:
    """The first guard that did not hold, and the latest l2pop revision then."""
    replies = [r.response_range for r in response.responses][:-1]
    failed = broken_guard(layout, ops, replies)
    if failed is None:
        # Every guard holds when read back: only possible with duplicate keys in ops.
        guarded = [op for op in ops if not isinstance(op, CheckNone) and op.expect is not None]
        assert guarded, "a failed txn without guards"
        first = guarded[0]
        failed = PreconditionFailed(first.kind, first.key, first.expect, first.expect or 0)
    return failed, failed_head(response)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One l2pop revision seen in the watch stream."""

    record: ChangeRecord
    txn_id: str | None


def _image(kv: Any) -> JSON | None:
    value: JSON = orjson.loads(kv.value)
    return value


def decode_events(layout: Layout, events: Iterable[Any]) -> list[Decoded]:
    """Group watch events by revision; index records are left out of the changes."""
    grouped: dict[int, tuple[list[ResourceChange], list[str]]] = {}
    for event in events:
        revision = int(event.kv.mod_revision)
        changes, txn_ids = grouped.setdefault(revision, ([], []))
        if event.kv.key == layout.txn_key:
            txn_ids.append(event.kv.value.decode())
            continue
        parsed = layout.parse(event.kv.key)
        if parsed is None or parsed[0] == INDEX:
            continue
        before = _image(event.prev_kv) if event.HasField("prev_kv") else None
        after = None if event.type == EVENT_DELETE else _image(event.kv)
        if before is not None or after is not None:
            changes.append(ResourceChange(parsed[0], parsed[1], before, after))
    return [
        Decoded(ChangeRecord(rev, tuple(changes)), txn_ids[0] if txn_ids else None)
        for rev, (changes, txn_ids) in sorted(grouped.items())
    ]


def check_ops(ops: Sequence[Op]) -> None:
    """etcd refuses a txn that writes one key twice; say which op does it."""
    written: set[tuple[str, str]] = set()
    for op in ops:
        if isinstance(op, Put | Delete):
            name = (op.kind, op.key)
            if name in written:
                raise ValueError(f"{op.kind} {op.key} is written twice in one transaction")
            written.add(name)
        elif not isinstance(op, Check | CheckNone):
            raise TypeError(f"not a store op: {op!r}")
