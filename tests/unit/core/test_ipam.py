"""core.ipam: subnet validation (Neutron's rules) and next-free selection."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2pop.core.ipam import (
    FreeAddresses,
    GatewayConflictWithAllocationPools,
    contains,
    default_pools,
    parse_cidr,
    parse_subnet,
    pools_json,
)
from l2pop.errors import ValidationError


def _ip(value: str) -> int:
    return int(ipaddress.ip_address(value))


def test_defaults_v4_gateway_first_host_and_pool_the_rest() -> None:
    spec = parse_subnet("10.0.0.0/24")
    assert spec.ip_version == 4
    assert spec.gateway_ip == "10.0.0.1"
    assert pools_json(spec.pools, 4) == [{"start": "10.0.0.2", "end": "10.0.0.254"}]


def test_defaults_v6_and_no_gateway() -> None:
    spec = parse_subnet("fd00::/64", 6)
    assert spec.gateway_ip == "fd00::1"
    assert pools_json(spec.pools, 6) == [{"start": "fd00::2", "end": "fd00::ffff:ffff:ffff:ffff"}]
    none = parse_subnet("10.0.0.0/29", gateway_ip=None)
    assert none.gateway_ip is None
    assert pools_json(none.pools, 4) == [{"start": "10.0.0.1", "end": "10.0.0.6"}]


def test_gateway_in_the_middle_splits_the_default_pool() -> None:
    spec = parse_subnet("10.0.0.0/29", gateway_ip="10.0.0.3")
    assert pools_json(spec.pools, 4) == [
        {"start": "10.0.0.1", "end": "10.0.0.2"},
        {"start": "10.0.0.4", "end": "10.0.0.6"},
    ]
    last = parse_subnet("10.0.0.0/30", gateway_ip="10.0.0.2")
    assert pools_json(last.pools, 4) == [{"start": "10.0.0.1", "end": "10.0.0.1"}]


def test_explicit_pools_sorted() -> None:
    pools = [{"start": "10.0.0.50", "end": "10.0.0.60"}, {"start": "10.0.0.10", "end": "10.0.0.20"}]
    spec = parse_subnet("10.0.0.0/24", 4, "10.0.0.1", pools)
    assert pools_json(spec.pools, 4) == sorted(pools, key=lambda p: _ip(p["start"]))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("10.0.0.1/24",), "host bits"),
        (("banana",), "not a valid IP subnet"),
        ((42,), "must be a string"),
        (("10.0.0.0/31",), "too small"),
        (("10.0.0.0/24", 6), "does not match"),
        (("10.0.0.0/24", 5), "4 or 6"),
        (("10.0.0.0/24", True), "4 or 6"),
        (("10.0.0.0/24", 4, "10.0.1.1"), "outside the subnet"),
        (("10.0.0.0/24", 4, "10.0.0.255"), "broadcast"),
        (("10.0.0.0/24", 4, "fd00::1"), "outside the subnet"),
        (("10.0.0.0/24", 4, "nope"), "not an IP address"),
        (("10.0.0.0/24", 4, 7), "must be a string"),
        (("10.0.0.0/24", 4, "", []), "list of"),
        (("10.0.0.0/24", 4, "", "x"), "list of"),
        (("10.0.0.0/24", 4, "", [{"start": "10.0.0.5"}]), "start"),
        (("10.0.0.0/24", 4, "", [{"start": "10.0.0.9", "end": "10.0.0.5"}]), "after end"),
        (("10.0.0.0/24", 4, "", [{"start": "10.0.0.9", "end": "10.0.1.5"}]), "outside"),
        (
            (
                "10.0.0.0/24",
                4,
                "",
                [
                    {"start": "10.0.0.2", "end": "10.0.0.9"},
                    {"start": "10.0.0.9", "end": "10.0.0.20"},
                ],
            ),
            "overlap",
        ),
    ],
)
def test_bad_subnets_are_400(args: tuple[object, ...], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        parse_subnet(*args)


def test_gateway_inside_an_explicit_pool_is_a_conflict() -> None:
    with pytest.raises(GatewayConflictWithAllocationPools):
        parse_subnet("10.0.0.0/24", 4, "10.0.0.5", [{"start": "10.0.0.2", "end": "10.0.0.9"}])


def test_contains_and_cidr_helpers() -> None:
    assert contains("10.0.0.0/24", "10.0.0.7")
    assert not contains("10.0.0.0/24", "fd00::7")
    assert not contains("10.0.0.0/24", "10.0.1.7")
    net = parse_cidr("fd00::/127")
    assert default_pools(net, None) == ((_ip("fd00::1"), _ip("fd00::1")),)
    assert default_pools(parse_cidr("10.0.0.0/24"), _ip("192.0.2.1")) == (
        (_ip("10.0.0.1"), _ip("10.0.0.254")),
    )


def test_free_addresses_sequential_release_and_exhaustion() -> None:
    free = FreeAddresses([(10, 12), (20, 21)])
    picked = []
    while (address := free.first_free()) is not None:
        free.take(address)
        picked.append(address)
    assert picked == [10, 11, 12, 20, 21]
    assert free.free_count() == 0
    free.release(11)
    assert free.first_free() == 11
    assert free.first_free(skip={11}) is None
    free.take(11)
    free.release(21)
    assert free.first_free() == 21
    free.take(99)  # outside every pool (an explicit address): counted, never offered
    free.release(99)
    assert free.free_count() == 1


def test_free_addresses_skip_and_empty() -> None:
    free = FreeAddresses([(1, 5)], taken={1, 2})
    assert free.first_free() == 3
    assert free.first_free(skip={3, 4}) == 5
    assert FreeAddresses([]).first_free() is None


@settings(max_examples=200, deadline=None)
@given(
    pools=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), min_size=1, max_size=4),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 80)), max_size=60),
    skip=st.sets(st.integers(0, 80), max_size=5),
)
def test_first_free_is_the_lowest_free_pool_address(
    pools: list[tuple[int, int]], ops: list[tuple[bool, int]], skip: set[int]
) -> None:
    """Against a brute-force model: any mix of takes and releases, any skip set."""
    ranges: list[tuple[int, int]] = []
    for start, length in sorted(pools):
        if not ranges or start > ranges[-1][1]:
            ranges.append((start, start + length))
    members = sorted({a for s, e in ranges for a in range(s, e + 1)})
    free = FreeAddresses(ranges)
    taken: set[int] = set()
    for is_take, address in ops:
        if is_take:
            free.take(address)
            taken.add(address)
        else:
            free.release(address)
            taken.discard(address)
        expected = next((a for a in members if a not in taken and a not in skip), None)
        assert free.first_free(skip) == expected
        assert free.first_free() == next((a for a in members if a not in taken), None)
    assert free.free_count() == len([a for a in members if a not in taken])


@settings(max_examples=100, deadline=None)
@given(prefix=st.integers(8, 30), gateway_offset=st.integers(0, 1 << 22))
def test_default_pools_never_hold_gateway_network_or_broadcast(
    prefix: int, gateway_offset: int
) -> None:
    net = ipaddress.ip_network(f"10.0.0.0/{prefix}")
    gateway = net[1 + gateway_offset % (net.num_addresses - 2)]
    spec = parse_subnet(str(net), 4, str(gateway))
    for start, end in spec.pools:
        assert start <= end
        assert int(net.network_address) < start
        assert end < int(net.broadcast_address)
        assert not start <= int(gateway) <= end
    size = sum(e - s + 1 for s, e in spec.pools)
    assert size == net.num_addresses - 3
