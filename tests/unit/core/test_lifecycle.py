"""Port lifecycle DOWN -> BUILD -> ACTIVE: next_status for every event, and is_legal."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from l2pop.core import Port, PortEvent, PortStatus, is_legal, next_status
from l2pop.core.lifecycle import LEGAL_TRANSITIONS

D, B, A = PortStatus.DOWN, PortStatus.BUILD, PortStatus.ACTIVE


def _port(status: PortStatus = D, host: str = "h1", admin_up: bool = True) -> Port:
    return Port("p1", "n1", "fa:16:3e:00:00:01", host=host, status=status, admin_state_up=admin_up)


@pytest.mark.parametrize("before", list(PortStatus))
def test_binding_a_port_makes_it_build(before: PortStatus) -> None:
    assert next_status(_port(before), PortEvent.BIND) is B


def test_migrating_an_active_port_makes_it_build_until_the_new_agent_reports() -> None:
    migrated = dataclasses.replace(_port(A), host="h2")
    assert next_status(migrated, PortEvent.BIND) is B


@pytest.mark.parametrize("before", list(PortStatus))
def test_unbinding_a_port_makes_it_down(before: PortStatus) -> None:
    assert next_status(_port(before, host=""), PortEvent.UNBIND) is D


@pytest.mark.parametrize("before", [D, B, A])
def test_device_up_on_bound_admin_up_port_makes_it_active(before: PortStatus) -> None:
    assert next_status(_port(before), PortEvent.DEVICE_UP) is A


@pytest.mark.parametrize("before", list(PortStatus))
def test_device_down_makes_it_down(before: PortStatus) -> None:
    assert next_status(_port(before), PortEvent.DEVICE_DOWN) is D


@pytest.mark.parametrize("before", list(PortStatus))
def test_admin_down_makes_it_down(before: PortStatus) -> None:
    assert next_status(_port(before, admin_up=False), PortEvent.ADMIN_DOWN) is D


@pytest.mark.parametrize("before", [D, B])
def test_admin_up_of_bound_port_makes_it_build_until_the_agent_reports(before: PortStatus) -> None:
    assert next_status(_port(before), PortEvent.ADMIN_UP) is B


def test_admin_up_of_unbound_port_keeps_it_down() -> None:
    assert next_status(_port(D, host=""), PortEvent.ADMIN_UP) is D


@pytest.mark.parametrize("before", list(PortStatus))
def test_host_gone_makes_the_port_down_but_keeps_it_bound(before: PortStatus) -> None:
    port = _port(before)
    assert next_status(port, PortEvent.HOST_GONE) is D
    assert port.bound


@pytest.mark.parametrize("before", list(PortStatus))
def test_device_up_on_admin_down_port_stays_down(before: PortStatus) -> None:
    assert next_status(_port(before, admin_up=False), PortEvent.DEVICE_UP) is D


def test_device_up_on_unbound_port_stays_down() -> None:
    assert next_status(_port(B, host=""), PortEvent.DEVICE_UP) is D


@pytest.mark.parametrize("event", list(PortEvent))
def test_admin_down_port_is_down_whatever_happens(event: PortEvent) -> None:
    assert next_status(_port(A, admin_up=False), event) is D


@pytest.mark.parametrize("event", list(PortEvent))
def test_unbound_port_is_down_whatever_happens(event: PortEvent) -> None:
    assert next_status(_port(A, host=""), event) is D


@pytest.mark.parametrize("before", list(PortStatus))
def test_unbind_event_on_a_still_bound_port_keeps_its_status(before: PortStatus) -> None:
    # The caller passes the port with its new binding; an UNBIND with a host
    # left set changes nothing rather than guessing.
    assert next_status(_port(before), PortEvent.UNBIND) is before


@pytest.mark.parametrize(
    ("port", "event"),
    [
        (_port(s, h, up), e)
        for s, h, up, e in itertools.product(PortStatus, ["", "h1"], [True, False], PortEvent)
    ],
)
def test_every_transition_next_status_produces_is_legal(port: Port, event: PortEvent) -> None:
    assert is_legal(port.status, next_status(port, event))


@pytest.mark.parametrize("status", list(PortStatus))
def test_staying_put_is_always_legal(status: PortStatus) -> None:
    assert is_legal(status, status)


def test_the_documented_path_down_build_active_is_legal() -> None:
    assert is_legal(D, B)
    assert is_legal(B, A)
    assert (D, B) in LEGAL_TRANSITIONS
    assert (B, A) in LEGAL_TRANSITIONS
