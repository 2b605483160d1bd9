"""Random input never crashes validation with anything but ValidationError.

Covers the model's normalizers and constructors, and the wire decoders an
agent runs on whatever a server sends.
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from l2pop.core import (
    AddressPair,
    Host,
    Network,
    Port,
    normalize_ip,
    normalize_ip_or_cidr,
    normalize_mac,
    validate_vni,
)
from l2pop.core.model import validate_mtu
from l2pop.core.wire import decode_change, decode_state
from l2pop.errors import ValidationError

# Text near the valid forms finds more edge cases than arbitrary unicode alone.
near_mac = st.from_regex(r"\A[0-9a-fA-F]{1,3}([:-][0-9a-fA-FgG]{1,3}){3,7}\s?\Z")
near_ip = st.from_regex(r"\A[0-9a-f:.%]{1,20}(/[0-9]{1,3})?\Z") | st.ip_addresses().map(str)
texts = st.text() | st.text(alphabet=string.hexdigits + ":-./% ") | near_mac | near_ip
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _only_validation_errors(func: Callable[[Any], object], value: object) -> None:
    with contextlib.suppress(ValidationError):
        func(value)


@given(scalars | json_values)
def test_normalizers_raise_nothing_but_validation_error(value: object) -> None:
    for func in (normalize_mac, normalize_ip, normalize_ip_or_cidr, validate_vni, validate_mtu):
        _only_validation_errors(func, value)


@given(texts)
def test_a_normalized_value_normalizes_to_itself(value: str) -> None:
    for func in (normalize_mac, normalize_ip, normalize_ip_or_cidr):
        try:
            once = func(value)
        except ValidationError:
            continue
        assert func(once) == once


@given(
    st.fixed_dictionaries(
        {
            "id": scalars,
            "network_id": scalars,
            "mac_address": scalars,
            "fixed_ips": st.lists(scalars, max_size=3).map(tuple),
            "host": scalars,
            "status": scalars | st.sampled_from(["DOWN", "BUILD", "ACTIVE"]),
        }
    )
)
def test_port_constructor_raises_nothing_but_validation_error(fields: dict[str, Any]) -> None:
    _only_validation_errors(lambda kw: Port(**kw), fields)


@given(scalars, scalars, scalars, scalars)
def test_network_host_and_pair_constructors_raise_nothing_but_validation_error(
    a: Any, b: Any, c: Any, d: Any
) -> None:
    _only_validation_errors(lambda _: Network(a, b, mtu=c), None)
    _only_validation_errors(lambda _: Host(a, d), None)
    _only_validation_errors(lambda _: AddressPair(d, c if isinstance(c, str) else None), None)


entry_lists = st.fixed_dictionaries(
    {},
    optional={
        "flood": st.lists(scalars, max_size=2) | json_values,
        "unicast": st.lists(
            st.fixed_dictionaries({}, optional={"mac": scalars, "vtep": scalars}), max_size=2
        )
        | json_values,
        "neigh": st.lists(
            st.fixed_dictionaries({}, optional={"ip": scalars, "mac": scalars}), max_size=2
        )
        | json_values,
    },
)
networks = st.dictionaries(
    st.text(max_size=4),
    st.builds(lambda e, v, m: {**e, "vni": v, "mtu": m}, entry_lists, scalars, scalars)
    | json_values,
    max_size=2,
)
ports = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": scalars,
            "network_id": scalars,
            "mac_address": scalars,
            "fixed_ips": st.lists(st.fixed_dictionaries({"ip_address": scalars}), max_size=2)
            | json_values,
            "status": scalars,
            "admin_state_up": scalars,
        },
    ),
    max_size=2,
)


@given(
    st.fixed_dictionaries(
        {}, optional={"revision": scalars, "networks": networks, "ports": ports | json_values}
    )
    | json_values
)
def test_state_decoder_raises_nothing_but_validation_error(body: object) -> None:
    _only_validation_errors(decode_state, body)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.just("change"),
            "revision": scalars,
            "networks": st.dictionaries(
                st.text(max_size=4),
                st.builds(
                    lambda a, r, v, m, gone: {"add": a, "remove": r, "vni": v, "mtu": m, **gone},
                    entry_lists | json_values,
                    entry_lists | json_values,
                    scalars,
                    scalars,
                    st.sampled_from([{}, {"removed": True}]),
                ),
                max_size=2,
            )
            | json_values,
            "ports": ports | json_values,
        },
    )
    | json_values
)
def test_change_decoder_raises_nothing_but_validation_error(body: object) -> None:
    _only_validation_errors(decode_change, body)
