"""Optional underlay allowlist: drop VXLAN (UDP 4789) from sources that are not known VTEPs.

One nftables table of family ``inet`` holds two sets (IPv4 and IPv6 VTEPs)
and an input-hook chain that drops VXLAN from any other source. Every update
rewrites the whole table in ONE ``nft -f -`` transaction (``add table`` +
``delete table`` + the full definition), so the kernel switches atomically
from the old set to the new one and a repeated update is harmless. One
process per change of the VTEP set, never per entry; the set changes only
when hosts join or leave the agent's networks.

Checked on this machine's kernel: nftables (nft 1.0.6) works inside a network
namespace; the Python bindings (python3-nftables) are not installed, so this
drives the ``nft`` binary.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from collections.abc import Iterable

from l2pop.core.state import HostState
from l2pop.dataplane.naming import VXLAN_PORT
from l2pop.errors import DataplaneError

__all__ = ["Allowlist", "known_vteps", "nft_unavailable"]


def known_vteps(state: HostState) -> frozenset[str]:
    """Every VTEP this host exchanges VXLAN with: flood and unicast targets of its networks."""
    vteps: set[str] = set()
    for net in state.networks.values():
        vteps |= net.flood
        vteps |= {u.vtep for u in net.unicast}
    return frozenset(vteps)


def nft_unavailable(netns: str | None = None) -> str | None:
    """None when nftables works here (binary present, kernel accepts a table); else why not."""
    if shutil.which("nft") is None:
        return "the nft binary is not installed (apt-get install nftables)"
    probe = Allowlist(netns=netns, table="l2pop_probe")
    try:
        probe.apply(())
        probe.remove()
    except DataplaneError as exc:
        return str(exc)
    return None


class Allowlist:
    """The nftables table of one host (or namespace)."""

    def __init__(
        self, *, netns: str | None = None, table: str = "l2pop_allowlist", port: int = VXLAN_PORT
    ) -> None:
        self.netns = netns
        self.table = table
        self.port = port
        self._current: frozenset[str] | None = None

    def script(self, vteps: Iterable[str]) -> str:
        """The nft transaction that makes the table allow exactly ``vteps``."""
        v4, v6 = _split(vteps)
        t = f"inet {self.table}"
        return "\n".join(
            [
                f"add table {t}",
                f"delete table {t}",
                f"table {t} {{",
                f"  set vteps4 {{ type ipv4_addr;{_elements(v4)} }}",
                f"  set vteps6 {{ type ipv6_addr;{_elements(v6)} }}",
                "  chain input {",
                "    type filter hook input priority -10; policy accept;",
                f"    udp dport {self.port} ip saddr != @vteps4 counter drop",
                f"    udp dport {self.port} ip6 saddr != @vteps6 counter drop",
                "  }",
                "}",
                "",
            ]
        )

    def apply(self, vteps: Iterable[str]) -> bool:
        """Allow exactly ``vteps``; True when the kernel was written (the set changed)."""
        wanted = frozenset(vteps)
        if wanted == self._current:
            return False
        self._nft(["-f", "-"], self.script(wanted))
        self._current = wanted
        return True

    def remove(self) -> None:
        """Delete the table (no filtering any more); absent is fine."""
        self._nft(["-f", "-"], f"add table inet {self.table}\ndelete table inet {self.table}\n")
        self._current = None

    def dropped(self) -> int:
        """Packets dropped so far (both families)."""
        listing = json.loads(self._nft(["-j", "list", "table", "inet", self.table]))
        return sum(
            expr["counter"]["packets"]
            for item in listing["nftables"]
            for expr in item.get("rule", {}).get("expr", [])
            if "counter" in expr
        )

    def _nft(self, args: list[str], stdin: str = "") -> str:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        try:
            done = subprocess.run(
                [*prefix, "nft", *args], input=stdin, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DataplaneError(f"nft {' '.join(args)}: {exc}") from exc
        if done.returncode != 0:
            raise DataplaneError(f"nft {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout


def _split(vteps: Iterable[str]) -> tuple[list[str], list[str]]:
    addresses = sorted({ipaddress.ip_address(v) for v in vteps}, key=lambda a: (a.version, a))
    return (
        [str(a) for a in addresses if a.version == 4],
        [str(a) for a in addresses if a.version == 6],
    )


def _elements(addresses: list[str]) -> str:
    return f" elements = {{ {', '.join(addresses)} }};" if addresses else ""
