"""The fake's own behaviour (tap events, kernel rules) and the derived names."""

from __future__ import annotations

import threading

import pytest

from l2pop.dataplane.base import AttachTap, EnsureNetwork, Mode, TapEvent
from l2pop.dataplane.fake import FakeDataplane
from l2pop.dataplane.naming import bridge_mac, parse_mode, tunnel_ip
from l2pop.errors import DataplaneError, ValidationError


def test_bridge_mac_is_local_unicast_stable_and_per_host() -> None:
    mac = bridge_mac("192.0.2.1", "brqabc")
    first = int(mac[:2], 16)
    assert first & 0x02
    assert not first & 0x01
    assert mac == bridge_mac("192.0.2.1", "brqabc")
    assert mac != bridge_mac("192.0.2.2", "brqabc")
    assert mac != bridge_mac("192.0.2.1", "brqabd")


def test_bad_mode_and_tunnel_ip_are_validation_errors() -> None:
    assert parse_mode("suppress") is Mode.SUPPRESS
    with pytest.raises(ValidationError, match="mode"):
        FakeDataplane("bridge", "192.0.2.1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="tunnel_ip"):
        tunnel_ip("192.0.2.300")
    assert FakeDataplane(Mode.PROXY, "2001:DB8::1").local_ip == "2001:db8::1"


def test_tap_plugged_by_another_thread_wakes_the_waiter() -> None:
    dp = FakeDataplane(Mode.PROXY, "192.0.2.1")
    timer = threading.Timer(0.05, dp.kernel.add_tap, ["tap123"])
    timer.start()
    try:
        assert dp.wait_tap_events(5.0) == [TapEvent("tap123", True)]
    finally:
        timer.cancel()
    dp.kernel.delete_link("tap123")
    assert dp.wait_tap_events(0) == [TapEvent("tap123", False)]
    assert dp.wait_tap_events(0.05) == []


def test_attaching_an_absent_tap_fails_naming_the_op() -> None:
    dp = FakeDataplane(Mode.PROXY, "192.0.2.1")
    dp.apply([EnsureNetwork("net-1", 5, 1450)])
    with pytest.raises(DataplaneError, match="AttachTap"):
        dp.apply([AttachTap("tapmissing", "net-1", 1450)])


def test_a_vni_held_by_a_foreign_device_is_refused() -> None:
    dp = FakeDataplane(Mode.PROXY, "192.0.2.1")
    from l2pop.dataplane.fake import FakeLink

    dp.kernel.add_link(FakeLink("vxlan0", "vxlan", vni=5))
    with pytest.raises(DataplaneError, match="VNI 5"):
        dp.apply([EnsureNetwork("net-1", 5, 1450)])
