"""Port lifecycle ``DOWN -> BUILD -> ACTIVE`` as one pure function.

The status of a port is decided here and nowhere else: the server asks
:func:`next_status` for every change it makes to a port.
"""

from __future__ import annotations

from enum import StrEnum

from l2pop.core.model import Port, PortStatus

__all__ = ["LEGAL_TRANSITIONS", "PortEvent", "is_legal", "next_status"]


class PortEvent(StrEnum):
    """What can happen to a port."""

    BIND = "bind"  # binding:host_id set, or changed to another host (migration)
    UNBIND = "unbind"  # binding:host_id cleared
    DEVICE_UP = "device_up"  # the host's agent saw the tap and reports ACTIVE
    DEVICE_DOWN = "device_down"  # the tap is gone; the agent reports DOWN
    ADMIN_DOWN = "admin_down"
    ADMIN_UP = "admin_up"
    HOST_GONE = "host_gone"  # the host was deleted: unpublish, keep the binding


D, B, A = PortStatus.DOWN, PortStatus.BUILD, PortStatus.ACTIVE

# Every (from, to) pair the lifecycle may produce; staying put is always legal.
LEGAL_TRANSITIONS: frozenset[tuple[PortStatus, PortStatus]] = frozenset(
    {
        (D, B),  # bound, waiting for the agent
        (B, A),  # the agent saw the device
        (D, A),  # a bound port's device came back (or the host re-registered)
        (A, B),  # migrated to another host: BUILD until the new agent reports
        (A, D),
        (B, D),
    }
)


def next_status(port: Port, event: PortEvent) -> PortStatus:
    """The status ``port`` takes after ``event``.

    ``port`` already carries the new binding and admin state: the status is a
    function of them and of what the agent last saw. An agent's ACTIVE on a
    port that is admin-down or unbound leaves it DOWN, never ACTIVE.
    """
    if not port.admin_state_up or not port.bound:
        return D
    if event in (PortEvent.DEVICE_DOWN, PortEvent.HOST_GONE):
        return D
    if event is PortEvent.DEVICE_UP:
        return A
    if event in (PortEvent.BIND, PortEvent.ADMIN_UP):
        return B
    return port.status


def is_legal(before: PortStatus, after: PortStatus) -> bool:
    return before == after or (before, after) in LEGAL_TRANSITIONS
