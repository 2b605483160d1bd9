"""What the lab builds: hosts, VMs and ping results, as plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LabHost", "LabVM", "PingResult", "parse_ping"]


@dataclass(frozen=True, slots=True)
class LabHost:
    """A hypervisor: a namespace on the underlay. ``slot`` is the last octet of its address."""

    name: str
    slot: int
    netns: str
    uplink: str  # its underlay interface, the agent's --interface
    ipv4: str
    ipv6: str

    def tunnel_ip(self, ipv6: bool = False) -> str:
        return self.ipv6 if ipv6 else self.ipv4


@dataclass(frozen=True, slots=True)
class LabVM:
    """A VM: a namespace whose ``eth0`` is the peer of ``tap`` in its host's namespace."""

    name: str
    host: str
    netns: str
    port_id: str
    tap: str
    mac: str
    ipv4: str | None
    ipv6: str | None
    mtu: int
    dev: str = "eth0"


@dataclass(frozen=True, slots=True)
class PingResult:
    transmitted: int
    received: int
    rtts_ms: tuple[float, ...]
    output: str

    @property
    def ok(self) -> bool:
        return self.received > 0

    @property
    def first_rtt_ms(self) -> float | None:
        """RTT of the first reply; ping stamps the request before ARP/NS resolution runs, so
        this includes the time to resolve the neighbour."""
        return self.rtts_ms[0] if self.rtts_ms else None


_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT = re.compile(r"time=([0-9.]+) ms")


def parse_ping(output: str) -> PingResult:
    summary = _SUMMARY.search(output)
    sent, got = (int(summary.group(1)), int(summary.group(2))) if summary else (0, 0)
    rtts = tuple(float(m.group(1)) for m in _RTT.finditer(output))
    return PingResult(transmitted=sent, received=got, rtts_ms=rtts, output=output)
