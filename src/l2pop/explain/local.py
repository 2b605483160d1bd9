"""``--local``: read this namespace's kernel objects the way the agent does.

Through :mod:`l2pop.dataplane.linux` only (it alone talks to the kernel). The
agent's mode decides where neighbour entries live (the VXLAN device in proxy
mode, the bridge in suppress mode); explain does not know the mode, so it
reads as proxy and reads again as suppress when the device of interest has
no ``proxy`` flag.
"""

from __future__ import annotations

from collections.abc import Mapping

from l2pop.dataplane.base import KernelNetwork, Mode
from l2pop.errors import L2popError
from l2pop.explain.facts import Probe

__all__ = ["read_local_kernel"]


def _read(mode: Mode, tunnel_ip: str) -> dict[int, KernelNetwork]:
    from l2pop.dataplane.linux import LinuxDataplane  # pyroute2: only when asked for

    plane = LinuxDataplane(mode, tunnel_ip)
    try:
        return plane.read()
    finally:
        plane.close()


def read_local_kernel(tunnel_ip: str, vni: int | None) -> Probe[Mapping[int, KernelNetwork]]:
    """The kernel here, as a probe (an error when this is not HOST's namespace)."""
    try:
        networks = _read(Mode.PROXY, tunnel_ip)
        net = networks.get(vni) if vni is not None else None
        if net is not None and not net.proxy:
            networks = _read(Mode.SUPPRESS, tunnel_ip)
    except L2popError as exc:
        return Probe("local", error=f"{exc} (run --local on the host, in its namespace)")
    except OSError as exc:
        return Probe("local", error=f"netlink: {exc}")
    return Probe("local", networks)
