"""One measured ping across the overlay: the capture's counts and the VTEP's tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from l2pop.lab.capture import Capture
from l2pop.lab.fabric import Fabric
from l2pop.lab.pcap import Inner, VxlanPacket, count_by_destination
from l2pop.lab.shell import run
from l2pop.lab.topology import LabVM

__all__ = ["PhaseResult", "measure_ping", "vtep_tables"]

PING_COUNT = 3


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """What one run of "VM A pings VM G" put on the underlay."""

    ping_ok: bool
    transmitted: int
    received: int
    first_reply_ms: float | None
    # VXLAN packets carrying an ARP request broadcast / an NS to a multicast MAC, each copy
    # on the wire counted once (from the sending hosts' captures).
    arp_broadcasts: int
    ns_multicasts: int
    # Hosts whose VTEP received the pinger's ARP broadcast or multicast NS.
    hosts_reached_by_broadcast: list[str]
    # Per host (all of them): VXLAN packets received carrying an ARP broadcast or multicast NS.
    broadcasts_received_by_host: dict[str, int]
    # Hosts whose VTEP received a frame of the pinger's conversation (see _conversational).
    hosts_reached_by_pinger: list[str]
    # VTEP pairs ("a <-> b", unordered) that carried frames from or to the pinger.
    tunnels: list[str]
    # VXLAN packets of the pinger's conversation, per destination VTEP.
    vxlan_packets_by_vtep: dict[str, int]
    vtep_fdb: list[str]
    vtep_neigh: list[str]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _conversational(p: VxlanPacket) -> bool:
    """Part of a conversation: unicast frames, and the ARP/NS that start one. Not the IGMP/MLD
    reports a VM multicasts on its own when its link comes up (flooded in both set-ups)."""
    return not p.inner_multicast or p.inner in (Inner.ARP_REQUEST, Inner.NS)


def _sent(cap: Capture) -> list[VxlanPacket]:
    return [p for host in cap.hosts for p in cap.sent(host)]


def vtep_tables(fabric: Fabric, host: str, vxlan: str, bridge: str) -> tuple[list[str], list[str]]:
    """The FDB entries with a destination on ``vxlan`` and the neighbour entries on ``vxlan``
    and ``bridge`` (proxy mode keeps them on the first, suppress mode on the second)."""
    netns = fabric.host(host).netns
    fdb = run(["bridge", "fdb", "show", "dev", vxlan], netns=netns, check=False).stdout
    fdb_lines = [f"{line.strip()}" for line in fdb.splitlines() if " dst " in line]
    neigh_lines = []
    for device in (vxlan, bridge):
        neigh = run(["ip", "neigh", "show", "dev", device], netns=netns, check=False).stdout
        neigh_lines += [f"{line.strip()} dev {device}" for line in neigh.splitlines() if line]
    return fdb_lines, neigh_lines


def measure_ping(
    fabric: Fabric,
    pinger: LabVM,
    target: LabVM,
    *,
    ipv6: bool,
    name: str,
    vxlan: str,
    bridge: str,
) -> PhaseResult:
    """Capture on every host while ``pinger`` pings ``target`` (v4 or v6)."""
    address = target.ipv6 if ipv6 else target.ipv4
    assert address is not None
    with fabric.capture(name=name) as cap:
        ping = fabric.ping(pinger.name, address, count=PING_COUNT, interval=0.1)
    sent = _sent(cap)

    def from_pinger(p: VxlanPacket) -> bool:
        return p.inner_src_mac == pinger.mac and _conversational(p)

    conversation = [
        p for p in sent if pinger.mac in (p.inner_src_mac, p.inner_dst_mac) and _conversational(p)
    ]
    tunnels = {" <-> ".join(sorted((p.outer_src, p.outer_dst))) for p in conversation}
    fdb, neigh = vtep_tables(fabric, pinger.host, vxlan, bridge)
    return PhaseResult(
        ping_ok=ping.received == ping.transmitted and ping.transmitted > 0,
        transmitted=ping.transmitted,
        received=ping.received,
        first_reply_ms=ping.first_rtt_ms,
        arp_broadcasts=sum(p.is_arp_broadcast for p in sent),
        ns_multicasts=sum(p.is_multicast_ns for p in sent),
        hosts_reached_by_broadcast=cap.hosts_receiving(
            lambda p: from_pinger(p) and (p.is_arp_broadcast or p.is_multicast_ns)
        ),
        broadcasts_received_by_host={
            host: sum(p.is_arp_broadcast or p.is_multicast_ns for p in cap.received(host))
            for host in cap.hosts
        },
        hosts_reached_by_pinger=cap.hosts_receiving(from_pinger),
        tunnels=sorted(tunnels),
        vxlan_packets_by_vtep=dict(sorted(count_by_destination(conversation).items())),
        vtep_fdb=fdb,
        vtep_neigh=neigh,
    )
