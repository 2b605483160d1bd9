"""Capturing VXLAN on the underlay: one ``tcpdump`` per host, on its uplink.

A Linux bridge does not show frames it forwards between two ports on its own
device, so the capture runs on each host's underlay interface instead, which
sees everything that host's VTEP sends and receives. tcpdump runs with
``--immediate-mode`` and packet-buffered output (``-U``): without them the
last packets can be missing (DESIGN.md §5); it is stopped with SIGTERM,
which flushes the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from l2pop.lab.pcap import VxlanPacket, vxlan_packets
from l2pop.lab.procs import ManagedProcess
from l2pop.lab.topology import LabHost

__all__ = ["Capture"]

READY_TIMEOUT_S = 10.0
SNAPLEN = 512  # outer + VXLAN + inner headers fit many times over


class Capture:
    """``with Capture(hosts, directory) as cap: ...`` then ``cap.packets("host1")``."""

    def __init__(
        self,
        hosts: Sequence[LabHost],
        directory: Path,
        *,
        name: str = "capture",
        bpf: str = "udp port 4789",
    ) -> None:
        self.hosts = {h.name: h for h in hosts}
        self.directory = directory
        self.name = name
        self.bpf = bpf
        self._procs: dict[str, ManagedProcess] = {}
        self._packets: dict[str, list[VxlanPacket]] = {}

    def pcap_path(self, host: str) -> Path:
        return self.directory / f"{self.name}-{host}.pcap"

    def start(self) -> None:
        """Start every tcpdump and wait until each is listening."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for host in self.hosts.values():
            argv = ["tcpdump", "-i", host.uplink, "-w", str(self.pcap_path(host.name))]
            argv += ["--immediate-mode", "-U", "-n", "-Z", "root", "-s", str(SNAPLEN), self.bpf]
            log = self.directory / f"{self.name}-{host.name}.log"
            self._procs[host.name] = ManagedProcess(
                f"tcpdump-{host.name}", argv, netns=host.netns, log_path=log
            )
        for process in self._procs.values():
            process.wait_log("listening on", timeout=READY_TIMEOUT_S)

    def stop(self, settle: float = 0.2) -> None:
        """Let in-flight packets land (``settle`` s), stop tcpdump, and parse the files."""
        if not self._procs:
            return
        time.sleep(settle)
        for process in self._procs.values():
            process.stop(timeout=5.0)
        for host in self._procs:
            path = self.pcap_path(host)
            self._packets[host] = vxlan_packets(path.read_bytes()) if path.exists() else []
        self._procs.clear()

    def __enter__(self) -> Capture:
        try:
            self.start()
        except BaseException:
            self.stop(settle=0)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def packets(self, host: str) -> list[VxlanPacket]:
        """VXLAN packets seen on ``host``'s uplink (after ``stop``)."""
        return self._packets.get(host, [])

    def received(self, host: str) -> list[VxlanPacket]:
        """VXLAN packets addressed to ``host``'s VTEP (either address family)."""
        h = self.hosts[host]
        return [p for p in self.packets(host) if p.outer_dst in (h.ipv4, h.ipv6)]

    def sent(self, host: str) -> list[VxlanPacket]:
        h = self.hosts[host]
        return [p for p in self.packets(host) if p.outer_src in (h.ipv4, h.ipv6)]

    def hosts_receiving(self, predicate: Callable[[VxlanPacket], bool]) -> list[str]:
        """Hosts whose VTEP received at least one packet matching ``predicate``, e.g.
        ``cap.hosts_receiving(lambda p: p.is_arp_broadcast)``."""
        return sorted(n for n in self.hosts if any(predicate(p) for p in self.received(n)))
