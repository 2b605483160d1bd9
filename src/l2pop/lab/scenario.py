"""The demo's scenario as data: which VM sits on which host, with which addresses.

The classic picture (five hosts, VMs A-H): VM A on host 1, VM G on host 4,
the others spread over hosts 2, 3 and 5. VM A pings VM G. With
``vms_per_host`` every host gets that many VMs instead, and the first VM of
host 1 pings the first VM of host 4 (of the last host when there are fewer).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VmPlan", "plan_vms", "vm_ipv4", "vm_ipv6"]

CLASSIC_OTHERS = ("b", "c", "d", "e", "f", "h")


@dataclass(frozen=True, slots=True)
class VmPlan:
    name: str
    host: str
    ipv4: str
    ipv6: str


def vm_ipv4(index: int) -> str:
    return f"198.51.100.{10 + index}"


def vm_ipv6(index: int) -> str:
    return f"2001:db8:100::{10 + index:x}"


def _target_host(hosts: int) -> int:
    return 4 if hosts >= 4 else hosts


def plan_vms(hosts: int, vms_per_host: int | None = None) -> tuple[list[VmPlan], str, str]:
    """(the VMs, the pinger's name, the target's name) for ``hosts`` hosts."""
    if not 2 <= hosts <= 200:
        raise ValueError(f"hosts {hosts}: the demo needs 2..200 hosts")
    if vms_per_host is not None and not 1 <= vms_per_host <= 20:
        raise ValueError(f"vms per host {vms_per_host}: use 1..20")
    placed: list[tuple[str, int]]
    if vms_per_host is None:
        others = [h for h in range(2, hosts + 1) if h != _target_host(hosts)] or [1]
        placed = [("a", 1), ("g", _target_host(hosts))]
        placed += [(name, others[i % len(others)]) for i, name in enumerate(CLASSIC_OTHERS)]
        pinger, target = "a", "g"
    else:
        placed = [(f"h{h}v{k}", h) for h in range(1, hosts + 1) for k in range(1, vms_per_host + 1)]
        pinger, target = "h1v1", f"h{_target_host(hosts)}v1"
    placed.sort(key=lambda item: item[0] if vms_per_host is None else "")
    plans = [
        VmPlan(name, f"host{host}", vm_ipv4(i), vm_ipv6(i)) for i, (name, host) in enumerate(placed)
    ]
    return plans, pinger, target
