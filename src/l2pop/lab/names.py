"""Names and addresses of one lab run.

Every namespace and every link the lab creates carries the run's prefix
``l2pl`` + 4 hex digits (8 characters), so parallel runs never collide and
``l2pop lab clean`` can find the leftovers of a crashed run by pattern. The
``l`` (not a hex digit) keeps the lab's family apart from the ``l2p<hex>``
names other test suites of the project use, which ``clean`` must never touch.
Link names stay within Linux's 15 characters: ``<prefix><kind><slot>``.

Two names are exempt, both inside lab namespaces only: a VM's tap
(``tap<port id[:11]>``, fixed by DESIGN.md §5, in its host's namespace) and
the VM's own interface ``eth0`` (inside the VM's namespace).

Addresses (documentation ranges, DESIGN.md §6): a host in slot ``s`` has the
underlay addresses ``192.0.2.<s>`` and ``2001:db8::<s hex>``; the control
namespace takes slot 254.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

__all__ = [
    "CONTROL_SLOT",
    "PREFIX_FAMILY",
    "UNDERLAY_V4_NET",
    "UNDERLAY_V6_NET",
    "VM_V4_NET",
    "VM_V6_NET",
    "LabNames",
    "check_label",
    "new_prefix",
    "underlay_ipv4",
    "underlay_ipv6",
]

PREFIX_FAMILY = re.compile(r"^l2pl[0-9a-f]{4}")
UNDERLAY_V4_NET = "192.0.2.0/24"
UNDERLAY_V6_NET = "2001:db8::/64"
VM_V4_NET = "198.51.100.0/24"
VM_V6_NET = "2001:db8:100::/64"
CONTROL_SLOT = 254
MAX_SLOT = 253  # hosts take 1..253; 254 is the control namespace

_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def new_prefix() -> str:
    """A fresh run prefix, e.g. ``l2pl3fa9``."""
    return "l2pl" + secrets.token_hex(2)


def check_label(kind: str, label: str) -> str:
    """Host and VM labels become parts of namespace names: keep them tame."""
    if not _LABEL.match(label):
        raise ValueError(f"{kind} name {label!r}: use 1-32 of [a-z0-9-], starting alnum")
    return label


def underlay_ipv4(slot: int) -> str:
    return f"192.0.2.{slot}"


def underlay_ipv6(slot: int) -> str:
    return f"2001:db8::{slot:x}"


@dataclass(frozen=True, slots=True)
class LabNames:
    """Every name of one run, derived from its prefix."""

    prefix: str

    def __post_init__(self) -> None:
        if not PREFIX_FAMILY.fullmatch(self.prefix):
            raise ValueError(f"lab prefix {self.prefix!r} is not l2pl + 4 hex digits")

    @property
    def underlay_ns(self) -> str:
        return f"{self.prefix}-underlay"

    @property
    def control_ns(self) -> str:
        return f"{self.prefix}-control"

    def host_ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def vm_ns(self, vm: str) -> str:
        return f"{self.prefix}-vm-{vm}"

    @property
    def underlay_bridge(self) -> str:
        return f"{self.prefix}br"

    def uplink(self, slot: int) -> str:
        """The underlay interface inside a host (or the control) namespace."""
        return f"{self.prefix}u{slot}"

    def bridge_port(self, slot: int) -> str:
        """The peer of ``uplink(slot)``, a port of the underlay bridge."""
        return f"{self.prefix}p{slot}"

    def baseline_bridge(self, index: int) -> str:
        return f"{self.prefix}fb{index}"

    def baseline_vxlan(self, index: int) -> str:
        return f"{self.prefix}fx{index}"
