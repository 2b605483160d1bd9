"""The VXLAN pcap classifier, on packets built here byte by byte."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from l2pop.lab.pcap import (
    Inner,
    PcapError,
    count_by_destination,
    parse_frame,
    read_pcap,
    vxlan_packets,
)

VM_A = bytes.fromhex("fa163e000001")
VM_G = bytes.fromhex("fa163e000007")
BCAST = b"\xff" * 6
VTEP_MAC_1 = bytes.fromhex("020000000001")
VTEP_MAC_4 = bytes.fromhex("020000000004")


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0,
        0,
        64,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


def ipv6(src: str, dst: str, next_header: int, payload: bytes) -> bytes:
    header = struct.pack("!IHBB", 6 << 28, len(payload), next_header, 255)
    return header + ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + payload


def udp(dport: int, payload: bytes, sport: int = 54321) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def vxlan(vni: int, inner: bytes, flags: int = 0x08) -> bytes:
    return struct.pack("!B3xI", flags, vni << 8) + inner


def arp(op: int, sender_mac: bytes, sender_ip: str, target_ip: str) -> bytes:
    return struct.pack(
        "!HHBBH6s4s6s4s",
        1,
        0x0800,
        6,
        4,
        op,
        sender_mac,
        ipaddress.IPv4Address(sender_ip).packed,
        b"\x00" * 6,
        ipaddress.IPv4Address(target_ip).packed,
    )


def icmp(kind: int) -> bytes:
    return struct.pack("!BBHHH", kind, 0, 0, 1, 1) + b"x" * 8


def outer_v4(src: str, dst: str, vni: int, inner: bytes) -> bytes:
    return ether(VTEP_MAC_4, VTEP_MAC_1, 0x0800, ipv4(src, dst, 17, udp(4789, vxlan(vni, inner))))


def outer_v6(src: str, dst: str, vni: int, inner: bytes) -> bytes:
    return ether(VTEP_MAC_4, VTEP_MAC_1, 0x86DD, ipv6(src, dst, 17, udp(4789, vxlan(vni, inner))))


def arp_broadcast() -> bytes:
    return ether(BCAST, VM_A, 0x0806, arp(1, VM_A, "198.51.100.1", "198.51.100.7"))


def pcap_file(
    frames: list[bytes], linktype: int = 1, endian: str = "<", nano: bool = False
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, frame in enumerate(frames):
        out += struct.pack(endian + "IIII", 1700000000 + i, 500, len(frame), len(frame)) + frame
    return out


def test_arp_request_broadcast_in_vxlan_is_counted_with_its_outer_addresses() -> None:
    packet = parse_frame(0.0, 1, outer_v4("192.0.2.1", "192.0.2.4", 100, arp_broadcast()))
    assert packet is not None
    assert (packet.outer_src, packet.outer_dst, packet.vni) == ("192.0.2.1", "192.0.2.4", 100)
    assert packet.inner is Inner.ARP_REQUEST
    assert packet.inner_ethertype == 0x0806
    assert packet.inner_src_mac == "fa:16:3e:00:00:01"
    assert packet.is_arp_broadcast


def test_arp_reply_is_unicast_and_not_a_broadcast() -> None:
    reply = ether(VM_A, VM_G, 0x0806, arp(2, VM_G, "198.51.100.7", "198.51.100.1"))
    packet = parse_frame(0.0, 1, outer_v4("192.0.2.4", "192.0.2.1", 100, reply))
    assert packet is not None
    assert packet.inner is Inner.ARP_REPLY
    assert not packet.is_arp_broadcast
    assert not packet.inner_multicast


def test_unicast_arp_request_is_not_a_broadcast() -> None:
    probe = ether(VM_G, VM_A, 0x0806, arp(1, VM_A, "198.51.100.1", "198.51.100.7"))
    packet = parse_frame(0.0, 1, outer_v4("192.0.2.1", "192.0.2.4", 100, probe))
    assert packet is not None
    assert packet.inner is Inner.ARP_REQUEST
    assert not packet.is_arp_broadcast


def test_neighbour_solicitation_to_solicited_node_multicast_over_ipv6_underlay() -> None:
    ns = ipv6(
        "2001:db8:100::1", "ff02::1:ff00:7", 58, struct.pack("!BBH4x16s", 135, 0, 0, b"\0" * 16)
    )
    inner = ether(bytes.fromhex("3333ff000007"), VM_A, 0x86DD, ns)
    packet = parse_frame(0.0, 1, outer_v6("2001:db8::1", "2001:db8::4", 100, inner))
    assert packet is not None
    assert (packet.outer_src, packet.outer_dst) == ("2001:db8::1", "2001:db8::4")
    assert packet.inner is Inner.NS
    assert packet.inner_dst_ip == "ff02::1:ff00:7"
    assert packet.is_multicast_ns
    assert not packet.inner_broadcast


def test_unicast_ns_is_not_a_multicast_ns() -> None:
    ns = ipv6("2001:db8:100::1", "2001:db8:100::7", 58, bytes([135, 0, 0, 0]) + b"\0" * 20)
    inner = ether(VM_G, VM_A, 0x86DD, ns)
    packet = parse_frame(0.0, 1, outer_v4("192.0.2.1", "192.0.2.4", 100, inner))
    assert packet is not None
    assert packet.inner is Inner.NS
    assert not packet.is_multicast_ns


def test_icmpv6_behind_a_hop_by_hop_header_is_found() -> None:
    hop_by_hop = bytes([58, 0]) + b"\x00" * 6  # next header ICMPv6, length 0 (8 bytes)
    packet_v6 = ipv6("2001:db8:100::1", "2001:db8:100::7", 0, hop_by_hop + bytes([136, 0, 0, 0]))
    inner = ether(VM_G, VM_A, 0x86DD, packet_v6)
    packet = parse_frame(0.0, 1, outer_v4("192.0.2.1", "192.0.2.4", 100, inner))
    assert packet is not None
    assert packet.inner is Inner.NA


@pytest.mark.parametrize(
    ("inner", "kind"),
    [
        (
            ether(VM_G, VM_A, 0x0800, ipv4("198.51.100.1", "198.51.100.7", 1, icmp(8))),
            Inner.ECHO_REQUEST,
        ),
        (
            ether(VM_A, VM_G, 0x0800, ipv4("198.51.100.7", "198.51.100.1", 1, icmp(0))),
            Inner.ECHO_REPLY,
        ),
        (
            ether(VM_G, VM_A, 0x86DD, ipv6("2001:db8:100::1", "2001:db8:100::7", 58, icmp(128))),
            Inner.ECHO_REQUEST,
        ),
        (
            ether(VM_A, VM_G, 0x86DD, ipv6("2001:db8:100::7", "2001:db8:100::1", 58, icmp(129))),
            Inner.ECHO_REPLY,
        ),
        (
            ether(VM_G, VM_A, 0x0800, ipv4("198.51.100.1", "198.51.100.7", 6, b"\0" * 20)),
            Inner.OTHER,
        ),
    ],
)
def test_inner_echo_and_other_traffic_is_classified(inner: bytes, kind: Inner) -> None:
    packet = parse_frame(0.0, 1, outer_v4("192.0.2.1", "192.0.2.4", 7, inner))
    assert packet is not None
    assert packet.inner is kind


def test_inner_vlan_tag_is_skipped() -> None:
    tagged = (
        VM_G
        + VM_A
        + struct.pack("!HHH", 0x8100, 42, 0x0806)
        + arp(2, VM_A, "198.51.100.1", "198.51.100.7")
    )
    packet = parse_frame(0.0, 1, outer_v4("192.0.2.1", "192.0.2.4", 100, tagged))
    assert packet is not None
    assert packet.inner is Inner.ARP_REPLY


@pytest.mark.parametrize(
    "frame",
    [
        ether(
            VTEP_MAC_4, VTEP_MAC_1, 0x0800, ipv4("192.0.2.1", "192.0.2.4", 17, udp(53, b"\0" * 30))
        ),
        ether(VTEP_MAC_4, VTEP_MAC_1, 0x0800, ipv4("192.0.2.1", "192.0.2.4", 6, b"\0" * 40)),
        ether(BCAST, VTEP_MAC_1, 0x0806, arp(1, VTEP_MAC_1, "192.0.2.1", "192.0.2.4")),
        ether(
            VTEP_MAC_4,
            VTEP_MAC_1,
            0x0800,
            ipv4("192.0.2.1", "192.0.2.4", 17, udp(4789, vxlan(1, arp_broadcast(), flags=0))),
        ),
        outer_v4("192.0.2.1", "192.0.2.4", 100, b"")[:-1],
        b"\x00" * 10,
    ],
    ids=["dns", "tcp", "underlay-arp", "no-vni-flag", "truncated", "runt"],
)
def test_frames_that_are_not_vxlan_are_ignored(frame: bytes) -> None:
    assert parse_frame(0.0, 1, frame) is None


@pytest.mark.parametrize(("endian", "nano"), [("<", False), (">", False), ("<", True), (">", True)])
def test_pcap_files_of_either_byte_order_and_resolution_are_read(endian: str, nano: bool) -> None:
    frames = [
        outer_v4("192.0.2.1", "192.0.2.2", 100, arp_broadcast()),
        outer_v4("192.0.2.1", "192.0.2.3", 100, arp_broadcast()),
        ether(BCAST, VTEP_MAC_1, 0x0806, arp(1, VTEP_MAC_1, "192.0.2.1", "192.0.2.4")),
    ]
    records = list(read_pcap(pcap_file(frames, endian=endian, nano=nano)))
    assert [len(r[2]) for r in records] == [len(f) for f in frames]
    assert records[1][0] == pytest.approx(1700000001 + 500 * (1e-9 if nano else 1e-6))
    packets = vxlan_packets(pcap_file(frames, endian=endian, nano=nano))
    assert count_by_destination(packets) == {"192.0.2.2": 1, "192.0.2.3": 1}
    assert all(p.is_arp_broadcast for p in packets)


def test_linux_cooked_captures_are_read() -> None:
    frame = outer_v4("192.0.2.1", "192.0.2.4", 100, arp_broadcast())
    ip_part = frame[14:]
    sll = struct.pack("!HHH8sH", 4, 1, 6, VTEP_MAC_1 + b"\0\0", 0x0800) + ip_part
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 3, 1, 4, 6, VTEP_MAC_1 + b"\0\0") + ip_part
    for linktype, cooked in ((113, sll), (276, sll2)):
        (packet,) = vxlan_packets(pcap_file([cooked], linktype=linktype))
        assert packet.outer_dst == "192.0.2.4"
        assert packet.is_arp_broadcast


def test_a_record_cut_off_at_the_end_is_dropped_not_fatal() -> None:
    data = pcap_file([outer_v4("192.0.2.1", "192.0.2.4", 100, arp_broadcast())] * 2)
    assert len(vxlan_packets(data[:-5])) == 1


@pytest.mark.parametrize("data", [b"", b"\x0a\x0d\x0d\x0a" + b"\0" * 40], ids=["empty", "pcapng"])
def test_what_is_not_pcap_is_refused(data: bytes) -> None:
    with pytest.raises(PcapError):
        list(read_pcap(data))
