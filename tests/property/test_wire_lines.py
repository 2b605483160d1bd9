"""Watch lines: the server's fast encoder gives the reference bytes, and lines round-trip.

``core.wire.encode_line`` (what the server sends, with its per-revision
cache) must equal ``reference_line`` (``encode_change`` through the standard
library) byte for byte, for any delta and ports; what the agent decodes
(``decode_line``) must be what was encoded.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.strategies import entries, ips, macs
from l2pop.core import Delta, NetworkDelta, Port, PortStatus
from l2pop.core.model import AddressPair
from l2pop.core.wire import (
    Bookmark,
    LineCache,
    bookmark_line,
    decode_host_port,
    decode_line,
    encode_host_port,
    encode_line,
    reference_line,
)

vnis = st.integers(1, 16_777_215)
mtus = st.integers(68, 8950)
network_deltas = st.one_of(
    st.builds(NetworkDelta, vnis, mtus, add=entries, remove=entries),
    st.builds(NetworkDelta, vnis, mtus, removed=st.just(True)),
)
# Network ids are opaque strings: quotes, backslashes and non-ASCII must survive.
net_ids = st.text(min_size=1, max_size=12)
deltas = st.builds(Delta, st.dictionaries(net_ids, network_deltas, max_size=4))
ports = st.builds(
    Port,
    st.text(min_size=1, max_size=8),
    net_ids,
    macs,
    st.lists(ips, max_size=2, unique=True).map(tuple),
    st.lists(st.builds(AddressPair, ips, st.one_of(st.none(), macs)), max_size=2).map(tuple),
    host=st.just("h1"),
    status=st.sampled_from(list(PortStatus)),
    admin_state_up=st.booleans(),
)
encoded_ports = st.lists(
    st.tuples(ports, st.booleans()).map(lambda p: encode_host_port(p[0], deleted=p[1])),
    max_size=3,
)
revisions = st.integers(0, 2**63 - 1)


@given(revisions, st.one_of(st.none(), deltas), encoded_ports)
def test_the_fast_encoder_gives_the_reference_bytes(
    revision: int, delta: Delta | None, ports: list[dict[str, object]]
) -> None:
    assert encode_line(revision, delta, ports) == reference_line(revision, delta, ports)


@given(revisions, deltas, deltas, encoded_ports)
def test_a_shared_cache_gives_every_host_its_own_exact_line(
    revision: int, one: Delta, other: Delta, ports: list[dict[str, object]]
) -> None:
    # One revision's cache serves every host's line; sharing it changes no byte.
    cache: LineCache = {}
    for delta in (one, other, one):
        assert encode_line(revision, delta, ports, cache) == reference_line(revision, delta, ports)


@given(revisions, deltas, encoded_ports)
def test_a_change_line_decodes_to_what_was_encoded(
    revision: int, delta: Delta, ports: list[dict[str, object]]
) -> None:
    line = decode_line(encode_line(revision, delta, ports))
    assert line.revision == revision  # type: ignore[union-attr]
    assert line.delta == delta  # type: ignore[union-attr]
    assert line.ports == tuple(decode_host_port(p) for p in ports)  # type: ignore[union-attr]


@given(revisions)
def test_a_bookmark_line_round_trips(revision: int) -> None:
    assert decode_line(bookmark_line(revision)) == Bookmark(revision)
    assert decode_line(bookmark_line(revision).decode()) == Bookmark(revision)
