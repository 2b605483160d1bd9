"""Hand-packed neighbour/FDB messages: what is encoded is what the parser reads back."""

from __future__ import annotations

import socket
import struct

import pytest

from l2pop.dataplane.nlmsg import (
    NTF_SELF,
    NUD_PERMANENT,
    RTM_DELNEIGH,
    RTM_NEWNEIGH,
    BatchError,
    encode_neigh,
    parse_link_names,
    parse_neigh,
)


@pytest.mark.parametrize("dst", ["192.0.2.7", "2001:db8::7", None])
def test_encoded_request_parses_back_to_the_same_fields(dst: str | None) -> None:
    raw = encode_neigh(
        RTM_NEWNEIGH, 0x400, family=socket.AF_BRIDGE, ifindex=42,
        state=NUD_PERMANENT, flags=NTF_SELF, lladdr="fa:16:3e:00:00:07", dst=dst,
    )  # fmt: skip
    length, msg_type, flags = struct.unpack_from("=IHH", raw)
    assert length == len(raw)
    assert len(raw) % 4 == 0
    assert msg_type == RTM_NEWNEIGH
    assert flags == 0x401  # NLM_F_REQUEST added
    rec = parse_neigh(raw)
    assert (rec.family, rec.ifindex, rec.state, rec.flags) == (
        socket.AF_BRIDGE, 42, NUD_PERMANENT, NTF_SELF,
    )  # fmt: skip
    assert rec.lladdr == "fa:16:3e:00:00:07"
    assert rec.dst == dst
    assert rec.master is None


def test_delete_without_lladdr_carries_only_the_address() -> None:
    raw = encode_neigh(
        RTM_DELNEIGH, 0, family=socket.AF_INET6, ifindex=3, state=0, flags=0, dst="2001:db8::1"
    )
    rec = parse_neigh(raw)
    assert rec.lladdr is None
    assert rec.dst == "2001:db8::1"


def test_master_attribute_is_read() -> None:
    raw = encode_neigh(
        RTM_NEWNEIGH, 0, family=7, ifindex=5, state=0x40, flags=0, lladdr="02:00:00:00:00:01"
    )
    master = struct.pack("=HHI", 8, 9, 77)  # NDA_MASTER = 77
    raw = struct.pack("=I", len(raw) + 8) + raw[4:] + master
    assert parse_neigh(raw).master == 77


def _newlink(msg_type: int, index: int, name: str) -> bytes:
    name_attr = name.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(name_attr), 3) + name_attr
    attr += b"\0" * (-len(attr) % 4)
    body = struct.pack("=BxHiII", 0, 1, index, 0, 0) + attr
    return struct.pack("=IHHII", 16 + len(body), msg_type, 0, 0, 0) + body


def test_link_monitor_messages_give_presence_index_and_name() -> None:
    data = _newlink(16, 9, "tapabc") + _newlink(17, 9, "tapabc") + _newlink(28, 1, "x")
    assert list(parse_link_names(data)) == [(True, 9, "tapabc"), (False, 9, "tapabc")]


def test_batch_error_names_the_first_refused_request() -> None:
    err = BatchError([(3, 19), (5, 2)])
    assert "request 3" in str(err)
    assert "No such device" in str(err)
