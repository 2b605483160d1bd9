"""Which status the agent reports for a bound port, given its tap (DESIGN.md §5)."""

from __future__ import annotations

import pytest

from l2pop.agent.ports import status_to_report, statuses_to_report
from l2pop.core.model import PortStatus
from l2pop.core.wire import HostPort
from l2pop.dataplane.base import tap_name

PORT = "cccccccc-3333-4333-8333-000000000003"
TAP = tap_name(PORT)


def port(status: PortStatus, *, admin_up: bool = True, deleted: bool = False) -> HostPort:
    return HostPort(PORT, "net", "fa:16:3e:00:00:01", (), status, admin_up, deleted)


@pytest.mark.parametrize(
    ("status", "admin_up", "tap_present", "expected"),
    [
        (PortStatus.BUILD, True, True, PortStatus.ACTIVE),
        (PortStatus.DOWN, True, True, PortStatus.ACTIVE),
        (PortStatus.ACTIVE, True, True, None),
        (PortStatus.ACTIVE, True, False, PortStatus.DOWN),
        (PortStatus.BUILD, True, False, None),
        (PortStatus.DOWN, True, False, None),
        (PortStatus.DOWN, False, True, None),
        (PortStatus.ACTIVE, False, False, PortStatus.DOWN),
    ],
)
def test_status_follows_the_tap(
    status: PortStatus, admin_up: bool, tap_present: bool, expected: PortStatus | None
) -> None:
    taps = {TAP} if tap_present else set()
    assert status_to_report(port(status, admin_up=admin_up), taps) == expected


def test_deleted_ports_are_never_reported() -> None:
    assert statuses_to_report([port(PortStatus.ACTIVE, deleted=True)], set()) == {}
    assert statuses_to_report([port(PortStatus.ACTIVE)], set()) == {PORT: PortStatus.DOWN}
