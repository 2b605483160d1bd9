"""``port_like``: reusing a validated port must give exactly what ``port_of`` gives."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from l2pop.core import PortStatus
from l2pop.server.records import port_like, port_of

RECORD: dict[str, Any] = {
    "id": "p1",
    "network_id": "n1",
    "mac_address": "fa:16:3e:00:00:01",
    "fixed_ips": [{"ip_address": "10.0.0.5"}],
    "allowed_address_pairs": [{"ip_address": "10.0.0.9", "mac_address": "fa:16:3e:00:00:09"}],
    "binding:host_id": "h1",
    "status": "BUILD",
    "admin_state_up": True,
    "name": "vm",
    "device_owner": "compute:nova",
    "device_id": "d1",
}

CHANGES: list[tuple[str, Any]] = [
    ("status", "ACTIVE"),
    ("status", "DOWN"),
    ("binding:host_id", "h2"),
    ("binding:host_id", ""),
    ("admin_state_up", False),
    ("mac_address", "fa:16:3e:00:00:02"),
    ("fixed_ips", [{"ip_address": "10.0.0.6"}]),
    ("fixed_ips", []),
    ("allowed_address_pairs", []),
    ("allowed_address_pairs", [{"ip_address": "10.0.0.9", "mac_address": "fa:16:3e:00:00:01"}]),
    ("name", "other"),
    ("device_owner", ""),
    ("device_id", "d2"),
    ("network_id", "n2"),
]


@pytest.mark.parametrize(("field", "value"), CHANGES)
def test_the_reused_port_equals_a_fresh_one(field: str, value: Any) -> None:
    known = port_of(RECORD)
    changed = {**copy.deepcopy(RECORD), field: value}
    assert port_like(changed, known) == port_of(changed)


def test_a_status_change_reuses_the_validated_fields() -> None:
    known = port_of(RECORD)
    port = port_like({**RECORD, "status": "ACTIVE"}, known)
    assert port.status is PortStatus.ACTIVE
    assert port.fixed_ips is known.fixed_ips  # not parsed again
    assert known.status is PortStatus.BUILD  # the known port is untouched


def test_without_a_known_port_it_validates() -> None:
    assert port_like(RECORD, None) == port_of(RECORD)
    assert port_like(RECORD, port_of(RECORD)) is not None
