"""Model validation: every constructor either yields a valid value or raises ValidationError."""

from __future__ import annotations

import dataclasses

import pytest

from l2pop.core import (
    DEFAULT_MTU,
    AddressPair,
    Host,
    Network,
    Port,
    PortStatus,
    normalize_ip,
    normalize_ip_or_cidr,
    normalize_mac,
    validate_vni,
)
from l2pop.core.model import MAX_MTU, MAX_VNI, MIN_MTU, is_single_address, validate_mtu
from l2pop.errors import ValidationError

MAC = "fa:16:3e:00:00:01"


def _port(**changes: object) -> Port:
    base = Port("p1", "n1", MAC)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --- MAC -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("fa:16:3e:00:00:01", "fa:16:3e:00:00:01"),
        ("FA:16:3E:AB:CD:EF", "fa:16:3e:ab:cd:ef"),
        ("fa-16-3e-00-00-01", "fa:16:3e:00:00:01"),
        ("  02:00:00:00:00:01 ", "02:00:00:00:00:01"),
    ],
)
def test_mac_is_normalized_to_lower_case_colon_form(raw: str, canonical: str) -> None:
    assert normalize_mac(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "fa:16:3e:00:00",  # five octets
        "fa:16:3e:00:00:01:02",  # seven octets
        "fa:16-3e:00:00:01",  # mixed separators
        "fa163e000001",  # no separators
        "fa:16:3e:00:00:zz",
        "",
    ],
)
def test_malformed_mac_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="not a MAC address"):
        normalize_mac(raw)


def test_all_zero_mac_is_rejected_because_it_means_flood() -> None:
    with pytest.raises(ValidationError, match="all-zero"):
        normalize_mac("00:00:00:00:00:00")


@pytest.mark.parametrize("raw", ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "33:33:00:00:00:01"])
def test_multicast_and_broadcast_mac_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="unicast"):
        normalize_mac(raw)


@pytest.mark.parametrize("raw", [None, 12, b"fa:16:3e:00:00:01", ["fa:16:3e:00:00:01"]])
def test_non_string_mac_is_rejected(raw: object) -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        normalize_mac(raw)


def test_validation_error_names_field_and_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Port("p1", "n1", "not-a-mac")
    assert caught.value.field == "mac_address"
    assert caught.value.value == "not-a-mac"
    assert "mac_address" in str(caught.value)
    assert "'not-a-mac'" in str(caught.value)


# --- IP addresses ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("198.51.100.7", "198.51.100.7"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:0db8::0001", "2001:db8::1"),
    ],
)
def test_ip_is_normalized_to_canonical_text(raw: str, canonical: str) -> None:
    assert normalize_ip(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["198.51.100", "198.51.100.256", "2001:db8::g", "host.example", "", "1"]
)
def test_malformed_ip_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="not an IPv4 or IPv6 address"):
        normalize_ip(raw)


@pytest.mark.parametrize("raw", ["0.0.0.0", "::", "224.0.0.1", "ff02::1"])
def test_unspecified_and_multicast_ip_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="multicast/unspecified"):
        normalize_ip(raw)


@pytest.mark.parametrize("func", [normalize_ip, normalize_ip_or_cidr])
def test_non_string_ip_is_rejected(func: object) -> None:
    assert callable(func)
    with pytest.raises(ValidationError, match="must be a string"):
        func(3232235777)


def test_ip_error_names_the_field_it_was_given() -> None:
    with pytest.raises(ValidationError) as caught:
        normalize_ip("nope", "tunnel_ip")
    assert caught.value.field == "tunnel_ip"
    assert "tunnel_ip" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("198.51.100.7/32", "198.51.100.7"),
        ("2001:db8::7/128", "2001:db8::7"),
        ("198.51.100.0/24", "198.51.100.0/24"),
        ("198.51.100.9/24", "198.51.100.0/24"),  # host bits are dropped, not refused
        ("2001:DB8::/64", "2001:db8::/64"),
    ],
)
def test_address_or_cidr_collapses_host_prefix_and_keeps_networks(raw: str, canonical: str) -> None:
    assert normalize_ip_or_cidr(raw) == canonical


def test_single_address_is_told_apart_from_cidr() -> None:
    assert is_single_address(normalize_ip_or_cidr("198.51.100.7/32"))
    assert not is_single_address(normalize_ip_or_cidr("198.51.100.0/31"))


@pytest.mark.parametrize("raw", ["198.51.100.0/33", "2001:db8::/129", "198.51.100.0/x"])
def test_malformed_cidr_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        normalize_ip_or_cidr(raw)


@pytest.mark.parametrize("raw", ["0.0.0.0/32", "224.0.0.5/32", "::/128", "ff02::1/128"])
def test_host_prefix_of_unusable_address_is_rejected_like_the_bare_address(raw: str) -> None:
    with pytest.raises(ValidationError, match="multicast/unspecified") as caught:
        normalize_ip_or_cidr(raw)
    assert caught.value.value == raw


# --- VNI and MTU -----------------------------------------------------------


@pytest.mark.parametrize("vni", [1, 100, MAX_VNI])
def test_vni_in_range_is_accepted(vni: int) -> None:
    assert validate_vni(vni) == vni


@pytest.mark.parametrize("vni", [0, -1, MAX_VNI + 1])
def test_vni_out_of_range_is_rejected(vni: int) -> None:
    with pytest.raises(ValidationError, match=r"1\.\.16777215"):
        validate_vni(vni)


@pytest.mark.parametrize("vni", [True, False, "100", 100.0, None])
def test_vni_that_is_not_a_plain_int_is_rejected(vni: object) -> None:
    with pytest.raises(ValidationError, match="must be an integer") as caught:
        validate_vni(vni)
    assert caught.value.field == "provider:segmentation_id"


@pytest.mark.parametrize("mtu", [MIN_MTU, DEFAULT_MTU, MAX_MTU])
def test_mtu_in_range_is_accepted(mtu: int) -> None:
    assert validate_mtu(mtu) == mtu


@pytest.mark.parametrize("mtu", [MIN_MTU - 1, MAX_MTU + 1, 0])
def test_mtu_out_of_range_is_rejected(mtu: int) -> None:
    with pytest.raises(ValidationError, match="MTU must be in"):
        validate_mtu(mtu)


@pytest.mark.parametrize("mtu", [True, "1450", 1450.0])
def test_mtu_that_is_not_a_plain_int_is_rejected(mtu: object) -> None:
    with pytest.raises(ValidationError, match="must be an integer"):
        validate_mtu(mtu)


# --- Network / Host --------------------------------------------------------


def test_network_defaults_to_mtu_1450_and_admin_up() -> None:
    net = Network("n1", 100)
    assert (net.mtu, net.admin_state_up, net.name) == (1450, True, "")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"id": "", "vni": 100}, "id"),
        ({"id": 7, "vni": 100}, "id"),
        ({"id": "n1", "vni": 0}, "provider:segmentation_id"),
        ({"id": "n1", "vni": "100"}, "provider:segmentation_id"),
        ({"id": "n1", "vni": 100, "mtu": 9001}, "mtu"),
        ({"id": "n1", "vni": 100, "name": None}, "name"),
    ],
)
def test_invalid_network_field_is_rejected_by_name(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Network(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_network_is_immutable() -> None:
    net = Network("n1", 100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.mtu = 1500  # type: ignore[misc]


def test_host_tunnel_ip_is_normalized() -> None:
    assert Host("h1", "2001:DB8::0001").tunnel_ip == "2001:db8::1"


@pytest.mark.parametrize(
    ("name", "tunnel_ip", "field"),
    [("", "192.0.2.1", "name"), ("h1", "192.0.2.300", "tunnel_ip"), ("h1", "::", "tunnel_ip")],
)
def test_invalid_host_is_rejected_by_field(name: str, tunnel_ip: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Host(name, tunnel_ip)
    assert caught.value.field == field


# --- AddressPair -----------------------------------------------------------


def test_address_pair_normalizes_ip_and_mac() -> None:
    pair = AddressPair("198.51.100.9/32", "FA:16:3E:00:00:09")
    assert pair == AddressPair("198.51.100.9", "fa:16:3e:00:00:09")


def test_address_pair_without_mac_means_the_ports_own_mac() -> None:
    assert AddressPair("198.51.100.9").mac_address is None


def test_address_pair_keeps_a_cidr() -> None:
    assert AddressPair("198.51.100.0/28").ip_address == "198.51.100.0/28"


@pytest.mark.parametrize(
    ("ip", "mac", "field"),
    [
        ("198.51.100.300", None, "allowed_address_pairs.ip_address"),
        ("198.51.100.9", "ff:ff:ff:ff:ff:ff", "allowed_address_pairs.mac_address"),
    ],
)
def test_invalid_address_pair_names_the_nested_field(ip: str, mac: str | None, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AddressPair(ip, mac)
    assert caught.value.field == field


# --- Port ------------------------------------------------------------------


def test_new_port_is_down_unbound_and_unpublished() -> None:
    port = Port("p1", "n1", MAC)
    assert (port.status, port.bound, port.published) == (PortStatus.DOWN, False, False)


def test_port_normalizes_mac_and_fixed_ips() -> None:
    port = _port(mac_address="FA-16-3E-00-00-01", fixed_ips=["2001:DB8::1", "198.51.100.1"])
    assert port.mac_address == MAC
    assert port.fixed_ips == ("2001:db8::1", "198.51.100.1")


def test_port_rejects_the_same_fixed_ip_in_two_spellings() -> None:
    with pytest.raises(ValidationError) as caught:
        _port(fixed_ips=("2001:db8::1", "2001:DB8:0::1"))
    assert caught.value.field == "fixed_ips"


def test_port_rejects_a_cidr_as_fixed_ip() -> None:
    with pytest.raises(ValidationError) as caught:
        _port(fixed_ips=("198.51.100.0/24",))
    assert caught.value.field == "fixed_ips.ip_address"


def test_port_status_accepts_its_string_value() -> None:
    assert _port(status="ACTIVE").status is PortStatus.ACTIVE


def test_unknown_port_status_is_a_validation_error_naming_status() -> None:
    with pytest.raises(ValidationError) as caught:
        _port(status="UP")
    assert caught.value.field == "status"
    assert caught.value.value == "UP"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": ""}, "id"),
        ({"network_id": ""}, "network_id"),
        ({"host": None}, "binding:host_id"),
        ({"mac_address": "00:00:00:00:00:00"}, "mac_address"),
    ],
)
def test_invalid_port_field_is_rejected_by_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _port(**changes)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("host", "status", "published"),
    [
        ("h1", PortStatus.ACTIVE, True),
        ("h1", PortStatus.BUILD, False),
        ("h1", PortStatus.DOWN, False),
        ("", PortStatus.ACTIVE, False),  # unbound ACTIVE can exist in a record; never published
    ],
)
def test_only_a_bound_active_port_is_published(
    host: str, status: PortStatus, published: bool
) -> None:
    port = _port(host=host, status=status)
    assert port.bound == bool(host)
    assert port.published is published


@pytest.mark.parametrize("raw", ["fe80::1%eth0", "fe80::1%1"])
def test_ipv6_with_zone_index_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="zone index"):
        normalize_ip(raw)


@pytest.mark.parametrize("raw", ["fe80::1%eth0/128", "fe80::%eth0/64"])
def test_cidr_with_zone_index_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="zone index"):
        normalize_ip_or_cidr(raw)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:c000:0201", "192.0.2.1"),
        ("::ffff:198.51.100.1/128", "198.51.100.1"),
    ],
)
def test_an_ipv4_mapped_ipv6_address_is_its_ipv4_address(raw: str, canonical: str) -> None:
    # Issue #17: one address, one spelling, or a port holds it twice.
    assert normalize_ip_or_cidr(raw) == canonical


@pytest.mark.parametrize("raw", ["::ffff:224.0.0.1", "::ffff:0.0.0.0", "::ffff:224.0.0.1/128"])
def test_an_ipv4_mapped_multicast_or_unspecified_address_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="multicast/unspecified"):
        normalize_ip_or_cidr(raw)
