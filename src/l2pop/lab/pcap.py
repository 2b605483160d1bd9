"""A small pcap reader that classifies VXLAN packets (pure Python, no I/O but bytes in).

What the demo and the tests count: VXLAN (UDP 4789) packets by outer
source/destination VTEP, and what each carries: an ARP request broadcast,
an ARP reply, an IPv6 neighbour solicitation (to a multicast or a unicast
address), a neighbour advertisement, an ICMP/ICMPv6 echo, or something else.
Link types: Ethernet (1), Linux cooked v1 (113) and v2 (276, ``tcpdump -i any``).
"""

from __future__ import annotations

import ipaddress
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "VXLAN_PORT",
    "Inner",
    "PcapError",
    "VxlanPacket",
    "count_by_destination",
    "parse_frame",
    "read_pcap",
    "vxlan_packets",
]

VXLAN_PORT = 4789
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
ETH_IPV4, ETH_ARP, ETH_VLAN, ETH_IPV6 = 0x0800, 0x0806, 0x8100, 0x86DD
IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 17, 58
IPV6_EXTENSIONS = {0, 43, 60}  # hop-by-hop, routing, destination options


class PcapError(ValueError):
    """The bytes are not a pcap file this reader understands."""


class Inner(StrEnum):
    """What a VXLAN packet carries."""

    ARP_REQUEST = "arp-request"
    ARP_REPLY = "arp-reply"
    NS = "ns"
    NA = "na"
    ECHO_REQUEST = "echo-request"
    ECHO_REPLY = "echo-reply"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class VxlanPacket:
    ts: float
    outer_src: str
    outer_dst: str
    vni: int
    inner_src_mac: str
    inner_dst_mac: str
    inner_ethertype: int
    inner: Inner
    inner_dst_ip: str | None = None

    @property
    def inner_broadcast(self) -> bool:
        return self.inner_dst_mac == "ff:ff:ff:ff:ff:ff"

    @property
    def inner_multicast(self) -> bool:
        """Broadcast included: the group bit of the destination MAC."""
        return int(self.inner_dst_mac[:2], 16) & 1 == 1

    @property
    def is_arp_broadcast(self) -> bool:
        return self.inner is Inner.ARP_REQUEST and self.inner_broadcast

    @property
    def is_multicast_ns(self) -> bool:
        return self.inner is Inner.NS and self.inner_multicast


def read_pcap(data: bytes) -> Iterator[tuple[float, int, bytes]]:
    """Yield ``(timestamp, linktype, frame)`` for each record; a truncated tail is ignored
    (a capture stopped mid-write)."""
    if len(data) < 24:
        raise PcapError("shorter than a pcap global header")
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
        b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
        b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    if magic not in formats:
        raise PcapError(f"unknown pcap magic {magic.hex()} (pcapng is not supported)")
    endian, unit = formats[magic]
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        if offset + incl > len(data):
            return
        yield sec + frac * unit, linktype & 0xFFFF, data[offset : offset + incl]
        offset += incl


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _link_payload(frame: bytes, linktype: int) -> tuple[int, bytes] | None:
    """(ethertype, network-layer bytes) of a captured frame."""
    if linktype == LINKTYPE_ETHERNET:
        return _ethernet(frame)
    if linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        return struct.unpack_from("!H", frame, 14)[0], frame[16:]
    if linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        return struct.unpack_from("!H", frame, 0)[0], frame[20:]
    return None


def _ethernet(frame: bytes) -> tuple[int, bytes] | None:
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    payload = frame[14:]
    while ethertype == ETH_VLAN and len(payload) >= 4:
        (ethertype,) = struct.unpack_from("!H", payload, 2)
        payload = payload[4:]
    return ethertype, payload


def _ip_payload(ethertype: int, packet: bytes) -> tuple[str, str, int, bytes] | None:
    """(src, dst, protocol, transport bytes) of an IPv4 or IPv6 packet."""
    if ethertype == ETH_IPV4 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        src = str(ipaddress.IPv4Address(packet[12:16]))
        dst = str(ipaddress.IPv4Address(packet[16:20]))
        return src, dst, packet[9], packet[ihl:]
    if ethertype == ETH_IPV6 and len(packet) >= 40:
        src = str(ipaddress.IPv6Address(packet[8:24]))
        dst = str(ipaddress.IPv6Address(packet[24:40]))
        proto, rest = packet[6], packet[40:]
        while proto in IPV6_EXTENSIONS and len(rest) >= 8:
            proto, rest = rest[0], rest[(rest[1] + 1) * 8 :]
        return src, dst, proto, rest
    return None


def _classify(ethertype: int, payload: bytes) -> tuple[Inner, str | None]:
    if ethertype == ETH_ARP and len(payload) >= 8:
        (op,) = struct.unpack_from("!H", payload, 6)
        return {1: Inner.ARP_REQUEST, 2: Inner.ARP_REPLY}.get(op, Inner.OTHER), None
    ip = _ip_payload(ethertype, payload)
    if ip is None:
        return Inner.OTHER, None
    _src, dst, proto, rest = ip
    if not rest:
        return Inner.OTHER, dst
    kinds = {
        IPPROTO_ICMP: {8: Inner.ECHO_REQUEST, 0: Inner.ECHO_REPLY},
        IPPROTO_ICMPV6: {
            128: Inner.ECHO_REQUEST,
            129: Inner.ECHO_REPLY,
            135: Inner.NS,
            136: Inner.NA,
        },
    }.get(proto, {})
    return kinds.get(rest[0], Inner.OTHER), dst


def parse_frame(ts: float, linktype: int, frame: bytes) -> VxlanPacket | None:
    """The VXLAN packet in ``frame``, or None when it is not one (or is cut short)."""
    link = _link_payload(frame, linktype)
    outer = _ip_payload(*link) if link else None
    if outer is None or outer[2] != IPPROTO_UDP or len(outer[3]) < 16:
        return None
    src, dst, _proto, udp = outer
    (dport,) = struct.unpack_from("!H", udp, 2)
    vxlan = udp[8:]
    if dport != VXLAN_PORT or not vxlan[0] & 0x08:  # the I flag: a VNI is present
        return None
    vni = int.from_bytes(vxlan[4:7], "big")
    inner = _ethernet(vxlan[8:])
    if inner is None:
        return None
    frame_in = vxlan[8:]
    kind, inner_dst_ip = _classify(*inner)
    return VxlanPacket(
        ts=ts,
        outer_src=src,
        outer_dst=dst,
        vni=vni,
        inner_src_mac=_mac(frame_in[6:12]),
        inner_dst_mac=_mac(frame_in[0:6]),
        inner_ethertype=inner[0],
        inner=kind,
        inner_dst_ip=inner_dst_ip,
    )


def vxlan_packets(data: bytes) -> list[VxlanPacket]:
    """Every VXLAN packet of a pcap file's bytes, in capture order."""
    parsed = (parse_frame(ts, lt, frame) for ts, lt, frame in read_pcap(data))
    return [p for p in parsed if p is not None]


def count_by_destination(packets: Iterable[VxlanPacket]) -> Counter[str]:
    """VXLAN packets per destination VTEP (outer destination address)."""
    return Counter(p.outer_dst for p in packets)
