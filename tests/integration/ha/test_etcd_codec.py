"""The etcd store's pure parts: endpoints, key layout, Txn building, event decoding
(real etcd protobuf messages, no server)."""

from __future__ import annotations

import pytest
from aetcd import rpc

from l2pop.errors import ValidationError
from l2pop.server.store.base import ABSENT, INDEX, Check, CheckNone, Delete, Put
from l2pop.server.store.etcd_client import Endpoint, parse_endpoints
from l2pop.server.store.etcd_codec import (
    Layout,
    build_txn,
    check_ops,
    decode_events,
    encode_value,
    failed_guard,
    prefix_end,
)

LAYOUT = Layout("/l2pop/")


def test_endpoints_accept_host_port_and_urls_and_pick_tls_by_scheme() -> None:
    assert parse_endpoints("127.0.0.1:2379, https://etcd.example:2379,http://[::1]:23") == [
        Endpoint("127.0.0.1", 2379, False),
        Endpoint("etcd.example", 2379, True),
        Endpoint("::1", 23, False),
    ]
    assert parse_endpoints("10.0.0.1:2379", tls_default=True) == [Endpoint("10.0.0.1", 2379, True)]
    assert Endpoint("::1", 23, False).target == "[::1]:23"


@pytest.mark.parametrize("bad", ["", "127.0.0.1", "ftp://a:1", "a:0", "a:99999", "a:b", ","])
def test_bad_endpoints_are_refused_with_the_option_named(bad: str) -> None:
    with pytest.raises(ValidationError, match="--etcd"):
        parse_endpoints(bad)


def test_prefix_end_is_the_first_key_after_the_prefix() -> None:
    assert prefix_end(b"/l2pop/") == b"/l2pop0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\x00"


def test_layout_parses_record_keys_only() -> None:
    assert LAYOUT.parse(LAYOUT.record_key("port", "p/1")) == ("port", "p/1")
    assert LAYOUT.parse(LAYOUT.txn_key) is None
    assert LAYOUT.parse(b"/other/r/port/x") is None
    with pytest.raises(ValueError, match="start and end"):
        Layout("l2pop")


def test_a_txn_guards_with_mod_revision_and_a_range_compare_for_check_none() -> None:
    ops = [
        Put("port", "p", {"v": 1}, ABSENT),
        Delete(INDEX, "mac/n/a", 7),
        Check("network", "n", 5),
        CheckNone(INDEX, "mac/n/"),
        Put("port", "q", {"v": 2}),  # unguarded
    ]
    txn = build_txn(LAYOUT, ops, "id1")
    assert [(c.target, c.key, c.mod_revision) for c in txn.compare[:3]] == [
        (rpc.Compare.MOD, b"/l2pop/r/port/p", 0),
        (rpc.Compare.MOD, b"/l2pop/r/index/mac/n/a", 7),
        (rpc.Compare.MOD, b"/l2pop/r/network/n", 5),
    ]
    none = txn.compare[3]
    assert (none.target, none.version, none.key, none.range_end) == (
        rpc.Compare.VERSION, 0, b"/l2pop/r/index/mac/n/", b"/l2pop/r/index/mac/n0"
    )  # fmt: skip
    writes = [op.WhichOneof("request") for op in txn.success]
    assert writes == ["request_put", "request_delete_range", "request_put", "request_put"]
    assert txn.success[-1].request_put.key == LAYOUT.txn_key
    assert txn.success[-1].request_put.value == b"id1"
    assert len(txn.failure) == 5  # four guards read back, then the txn key


def test_failed_guard_names_the_record_that_moved() -> None:
    ops = [Put("port", "p", {}, 3), Put(INDEX, "mac/n/a", {}, ABSENT)]
    reply = rpc.TxnResponse(
        succeeded=False,
        responses=[
            rpc.ResponseOp(response_range=rpc.RangeResponse(kvs=[rpc.KeyValue(mod_revision=3)])),
            rpc.ResponseOp(response_range=rpc.RangeResponse(kvs=[rpc.KeyValue(mod_revision=9)])),
            rpc.ResponseOp(response_range=rpc.RangeResponse(kvs=[rpc.KeyValue(mod_revision=12)])),
        ],
    )
    failed, head = failed_guard(LAYOUT, ops, reply)
    assert (failed.kind, failed.key, failed.expected, failed.actual, head) == (
        INDEX, "mac/n/a", 0, 9, 12
    )  # fmt: skip


def test_one_key_written_twice_in_a_transaction_is_refused_before_etcd() -> None:
    with pytest.raises(ValueError, match="twice"):
        check_ops([Put("port", "p", {}), Delete("port", "p")])


def _kv(key: bytes, value: bytes, revision: int, version: int = 2) -> object:
    return rpc.KeyValue(key=key, value=value, mod_revision=revision, version=version)


def test_events_become_one_record_per_revision_without_index_records() -> None:
    port, index = LAYOUT.record_key("port", "p"), LAYOUT.record_key(INDEX, "mac/n/a")
    events = [
        rpc.Event(type=rpc.Event.PUT, kv=_kv(port, encode_value({"v": 1}), 5, 1)),
        rpc.Event(type=rpc.Event.PUT, kv=_kv(index, b"{}", 5, 1)),
        rpc.Event(type=rpc.Event.PUT, kv=_kv(LAYOUT.txn_key, b"a", 5)),
        rpc.Event(
            type=rpc.Event.DELETE,
            kv=rpc.KeyValue(key=port, mod_revision=6),
            prev_kv=_kv(port, encode_value({"v": 1}), 5, 1),
        ),
        rpc.Event(type=rpc.Event.PUT, kv=_kv(LAYOUT.txn_key, b"b", 6)),
        rpc.Event(type=rpc.Event.PUT, kv=_kv(LAYOUT.compacted_key, b"3", 7)),
    ]
    decoded = decode_events(LAYOUT, events)
    assert [(d.record.revision, d.txn_id) for d in decoded] == [(5, "a"), (6, "b"), (7, None)]
    [created] = decoded[0].record.changes
    assert (created.kind, created.key, created.before, created.after) == (
        "port",
        "p",
        None,
        {"v": 1},
    )
    [deleted] = decoded[1].record.changes
    assert (deleted.before, deleted.after) == ({"v": 1}, None)
    assert decoded[2].record.changes == ()
