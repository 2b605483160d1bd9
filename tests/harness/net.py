"""Free TCP ports on 127.0.0.1 (one implementation: the lab's)."""

from __future__ import annotations

from l2pop.lab.etcd import free_ports

__all__ = ["free_port", "free_ports"]


def free_port() -> int:
    """A port nothing listens on right now (the server that takes it checks it got it)."""
    return free_ports(1)[0]
