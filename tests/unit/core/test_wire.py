"""JSON shapes of /state and watch lines: exact encoding, round trips, strict decoding."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from l2pop.core import (
    AddressPair,
    Delta,
    Entries,
    HostState,
    Neigh,
    NetworkDelta,
    NetworkState,
    Port,
    PortStatus,
    Unicast,
)
from l2pop.core.wire import (
    HostPort,
    decode_change,
    decode_delta,
    decode_entries,
    decode_host_port,
    decode_state,
    encode_change,
    encode_delta,
    encode_entries,
    encode_host_port,
    encode_state,
)
from l2pop.errors import ValidationError

MAC7 = "fa:16:3e:00:00:07"
ENTRIES = Entries(
    frozenset({"192.0.2.4", "2001:db8::4"}),
    frozenset({Unicast(MAC7, "192.0.2.4"), Unicast("fa:16:3e:00:00:01", "2001:db8::4")}),
    frozenset({Neigh("198.51.100.7", MAC7), Neigh("2001:db8:1::7", MAC7)}),
)
PORT = Port("p7", "n1", MAC7, ("198.51.100.7",), host="h1", status=PortStatus.BUILD, name="ignored")
STATE = HostState({"n1": NetworkState(100, 1450, ENTRIES), "n2": NetworkState(200, 1400)})
DELTA = Delta(
    {
        "n1": NetworkDelta(100, 1450, add=ENTRIES, remove=Entries(frozenset({"192.0.2.9"}))),
        "n2": NetworkDelta(200, 1400, removed=True),
    }
)


def _wire(obj: object) -> Any:
    """Through real JSON text, as the server and agent exchange it."""
    return json.loads(json.dumps(obj))


def test_state_is_encoded_in_the_designed_shape() -> None:
    one = HostState(
        {
            "n1": NetworkState(
                100,
                1450,
                Entries(
                    frozenset({"192.0.2.4"}),
                    frozenset({Unicast(MAC7, "192.0.2.4")}),
                    frozenset({Neigh("198.51.100.7", MAC7)}),
                ),
            )
        }
    )
    assert encode_state("h1", 42, one, [PORT]) == {
        "host": "h1",
        "revision": 42,
        "ports": [
            {
                "id": "p7",
                "network_id": "n1",
                "mac_address": MAC7,
                "fixed_ips": [{"ip_address": "198.51.100.7"}],
                "status": "BUILD",
                "admin_state_up": True,
                "allowed_address_pairs": [],
            }
        ],
        "networks": {
            "n1": {
                "vni": 100,
                "mtu": 1450,
                "flood": ["192.0.2.4"],
                "unicast": [{"mac": MAC7, "vtep": "192.0.2.4"}],
                "neigh": [{"ip": "198.51.100.7", "mac": MAC7}],
            }
        },
    }


def test_entries_are_encoded_sorted_so_equal_states_give_equal_text() -> None:
    encoded = encode_entries(ENTRIES)
    assert encoded["flood"] == ["192.0.2.4", "2001:db8::4"]
    assert encoded["unicast"] == sorted(encoded["unicast"], key=lambda u: (u["mac"], u["vtep"]))
    assert encoded["neigh"] == sorted(encoded["neigh"], key=lambda n: (n["ip"], n["mac"]))


def test_change_line_is_encoded_in_the_designed_shape() -> None:
    line = encode_change(7, DELTA, [encode_host_port(PORT, deleted=True)])
    assert line["type"] == "change"
    assert line["revision"] == 7
    assert line["networks"]["n2"] == {"vni": 200, "mtu": 1400, "removed": True}
    assert set(line["networks"]["n1"]) == {"vni", "mtu", "add", "remove"}
    assert line["networks"]["n1"]["remove"] == {
        "flood": ["192.0.2.9"],
        "unicast": [],
        "neigh": [],
    }
    assert line["ports"][0]["deleted"] is True


def test_live_port_carries_no_deleted_flag() -> None:
    assert "deleted" not in encode_host_port(PORT)


def test_state_round_trips_through_json() -> None:
    revision, state, ports = decode_state(_wire(encode_state("h1", 42, STATE, [PORT])))
    assert (revision, state) == (42, STATE)
    assert ports == (
        HostPort("p7", "n1", MAC7, ("198.51.100.7",), PortStatus.BUILD, admin_state_up=True),
    )


def test_change_round_trips_through_json() -> None:
    ports = [encode_host_port(PORT), encode_host_port(PORT, deleted=True)]
    change = decode_change(_wire(encode_change(9, DELTA, ports)))
    assert change.revision == 9
    assert change.delta == DELTA
    assert [p.deleted for p in change.ports] == [False, True]


def test_delta_round_trips_through_json() -> None:
    assert decode_delta(_wire(encode_delta(DELTA))) == DELTA
    assert decode_delta({}) == Delta()


def test_decoding_canonicalizes_address_spellings() -> None:
    raw = {
        "flood": ["2001:DB8::0004"],
        "unicast": [{"mac": "FA-16-3E-00-00-07", "vtep": "2001:db8:0::4"}],
    }
    assert decode_entries(raw) == Entries(
        frozenset({"2001:db8::4"}), frozenset({Unicast(MAC7, "2001:db8::4")})
    )


def test_missing_entry_lists_decode_as_empty() -> None:
    assert decode_entries({}) == Entries()


def _state_body() -> dict[str, Any]:
    return _wire(encode_state("h1", 42, STATE, [PORT]))  # type: ignore[no-any-return]


def _set(body: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("networks", "n1", "flood", 0), "192.0.2.999", "flood"),
        (("networks", "n1", "unicast", 0, "mac"), "ff:ff:ff:ff:ff:ff", "unicast.mac"),
        (("networks", "n1", "unicast", 0, "mac"), None, "unicast.mac"),
        (("networks", "n1", "unicast", 0, "vtep"), "nope", "unicast.vtep"),
        (("networks", "n1", "neigh", 0, "ip"), "224.0.0.1", "neigh.ip"),
        (("networks", "n1", "neigh", 0, "mac"), "00:00:00:00:00:00", "neigh.mac"),
        (("networks", "n1", "vni"), 0, "vni"),
        (("networks", "n1", "vni"), "100", "vni"),
        (("networks", "n1", "vni"), True, "vni"),
        (("networks", "n1", "mtu"), "1450", "mtu"),
        (("networks", "n1", "flood"), "192.0.2.4", "flood"),
        (("networks", "n1", "unicast", 0), ["fa:16:3e:00:00:07", "192.0.2.4"], "unicast"),
        (("networks", "n1"), [], "networks.n1"),
        (("networks",), [], "networks"),
        (("revision",), "42", "revision"),
        (("revision",), None, "revision"),
        (("ports",), {}, "ports"),
        (("ports", 0, "mac_address"), "fa:16:3e", "mac_address"),
        (("ports", 0, "fixed_ips"), [{"ip_address": "1.2.3"}], "fixed_ips.ip_address"),
        (("ports", 0, "fixed_ips"), ["198.51.100.7"], "fixed_ips"),
        (("ports", 0, "status"), "UP", "status"),
        (("ports", 0, "id"), 7, "port"),
        (("ports", 0), "p7", "port"),
    ],
)
def test_state_with_an_invalid_value_is_rejected_naming_the_field(
    path: tuple[str | int, ...], value: object, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_state(_set(_state_body(), path, value))
    assert caught.value.field == field


@pytest.mark.parametrize("body", [[], "state", None, 42])
def test_state_that_is_not_an_object_is_rejected(body: object) -> None:
    with pytest.raises(ValidationError):
        decode_state(body)


def _change_body() -> dict[str, Any]:
    return _wire(encode_change(9, DELTA, [encode_host_port(PORT)]))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("revision",), 9.0, "revision"),
        (("networks",), [], "networks"),
        (("networks", "n2", "vni"), 16777216, "vni"),
        (("networks", "n2", "mtu"), None, "mtu"),
        (("networks", "n1", "add"), [], "entries"),
        (("networks", "n1", "remove", "neigh"), [{"ip": "198.51.100.7"}], "neigh.mac"),
        (("networks", "n1", "add", "unicast", 0, "vtep"), "::", "unicast.vtep"),
        (("ports",), "p7", "ports"),
        (("ports", 0, "network_id"), None, "port"),
    ],
)
def test_change_with_an_invalid_value_is_rejected_naming_the_field(
    path: tuple[str | int, ...], value: object, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_change(_set(_change_body(), path, value))
    assert caught.value.field == field


def test_change_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(ValidationError):
        decode_change(["change"])


@pytest.mark.parametrize("mtu", [0, -1, 65536])
def test_state_with_an_mtu_out_of_range_is_rejected(mtu: int) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_state(_set(_state_body(), ("networks", "n1", "mtu"), mtu))
    assert caught.value.field == "mtu"


def test_change_with_an_mtu_out_of_range_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        decode_change(_set(_change_body(), ("networks", "n1", "mtu"), 20))
    assert caught.value.field == "mtu"


@pytest.mark.parametrize("key", ["admin_state_up", "deleted"])
@pytest.mark.parametrize("value", ["false", 0, None])
def test_port_flag_that_is_not_a_json_boolean_is_rejected(key: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_state(_set(_state_body(), ("ports", 0, key), value))
    assert caught.value.field == key


def test_port_flags_default_to_admin_up_and_not_deleted() -> None:
    body = _state_body()
    del body["ports"][0]["admin_state_up"]
    (port,) = decode_state(body)[2]
    assert (port.admin_state_up, port.deleted) == (True, False)


def test_pair_macs_reach_the_agent_with_the_port_mac_as_default() -> None:
    port = Port(
        "p1",
        "n1",
        MAC7,
        allowed_address_pairs=(
            AddressPair("198.51.100.50", "fa:16:3e:00:00:99"),
            AddressPair("198.51.100.51"),
        ),
    )
    decoded = decode_host_port(encode_host_port(port))
    assert decoded.pair_macs == {"fa:16:3e:00:00:99", MAC7}
