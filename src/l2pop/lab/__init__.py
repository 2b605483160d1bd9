"""The namespace lab: a fabric of hosts and VMs on one underlay, captures, and baselines.

Quick use::

    from l2pop.lab import Fabric

    with Fabric(3) as fabric:                      # host1..host3 + control, all torn down on exit
        vm = fabric.add_vm("a", "host1", port_id=pid, mac=mac, ipv4="198.51.100.1")
        with fabric.capture() as cap:
            fabric.ping("a", "198.51.100.3")
        cap.hosts_receiving(lambda p: p.is_arp_broadcast)

See docs/lab.md.
"""

from __future__ import annotations

from l2pop.lab.baseline import FloodAndLearn
from l2pop.lab.capture import Capture
from l2pop.lab.fabric import DEFAULT_VM_MTU, UNDERLAY_MTU, Fabric
from l2pop.lab.names import LabNames
from l2pop.lab.pcap import Inner, VxlanPacket, count_by_destination
from l2pop.lab.procs import ManagedProcess, wait_http_ok, wait_until
from l2pop.lab.shell import LabError
from l2pop.lab.topology import LabHost, LabVM, PingResult

__all__ = [
    "DEFAULT_VM_MTU",
    "UNDERLAY_MTU",
    "Capture",
    "Fabric",
    "FloodAndLearn",
    "Inner",
    "LabError",
    "LabHost",
    "LabNames",
    "LabVM",
    "ManagedProcess",
    "PingResult",
    "VxlanPacket",
    "count_by_destination",
    "wait_http_ok",
    "wait_until",
]
