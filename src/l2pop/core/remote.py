"""Remote endpoints: what EVPN speakers outside l2pop announce for a network.

A gateway (``l2pop evpn``) imports EVPN routes of a known network's route
target as remote endpoints (DESIGN.md §5):

* a type-3 (inclusive multicast) route is a ``flood`` endpoint: its
  originator VTEP joins the flood list of every l2pop host on the network;
* a type-2 (MAC/IP advertisement) route is a ``mac`` endpoint: ``unicast``
  (mac -> vtep), and ``neigh`` (ip -> mac) when the route carries an IP.

In the core they are published by one pseudo-publisher per network,
:data:`REMOTE_PUBLISHER` (the empty string: no host can be named so), so the
same set rule that joins the hosts' publications joins them too, and a
host's view gets them because someone other than itself publishes them.
A MAC of an l2pop port of the network (any status), or one its hosts publish, wins over a remote
endpoint with the same MAC: its remote unicast and neigh entries are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from l2pop.core.model import normalize_ip, normalize_mac
from l2pop.core.state import EMPTY, Entries, Neigh, Unicast
from l2pop.errors import ValidationError

__all__ = ["REMOTE_PUBLISHER", "RemoteEndpoint", "RemoteKind", "remote_publication"]

REMOTE_PUBLISHER = ""


class RemoteKind(StrEnum):
    FLOOD = "flood"  # EVPN route type 3
    MAC = "mac"  # EVPN route type 2


@dataclass(frozen=True, slots=True)
class RemoteEndpoint:
    """One imported route. ``mac`` is set for ``mac`` endpoints only; ``ip`` is optional."""

    network_id: str
    kind: RemoteKind
    vtep: str
    mac: str | None = None
    ip: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.network_id, str) or not self.network_id:
            raise ValidationError("network_id", self.network_id, "must be a non-empty string")
        try:
            kind = RemoteKind(self.kind)
        except ValueError:
            raise ValidationError("type", self.kind, "not 'flood' or 'mac'") from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "vtep", normalize_ip(self.vtep, "vtep"))
        if kind is RemoteKind.FLOOD:
            if self.mac is not None or self.ip is not None:
                raise ValidationError("mac", self.mac, "a flood endpoint has no MAC or IP")
            return
        if self.mac is None:
            raise ValidationError("mac", None, "a mac endpoint needs a MAC")
        object.__setattr__(self, "mac", normalize_mac(self.mac, "mac"))
        if self.ip is not None:
            object.__setattr__(self, "ip", normalize_ip(self.ip, "ip"))

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> RemoteEndpoint:
        """The endpoint of a stored or listed record (``type``, ``vtep``,
        ``mac_address``, ``ip_address``): what the server's view and the gateway's
        mirror both read."""
        return cls(
            rec["network_id"],
            RemoteKind(rec["type"]),
            rec["vtep"],
            rec["mac_address"],
            rec["ip_address"],
        )

    @property
    def key(self) -> str:
        """The idempotent identity: two gateways importing one route name one record."""
        return "|".join((self.network_id, self.kind, self.vtep, self.mac or "", self.ip or ""))


def remote_publication(endpoints: Iterable[RemoteEndpoint], own_macs: frozenset[str]) -> Entries:
    """What the remote endpoints of one network publish; ``own_macs`` (MACs l2pop's
    own ports publish there) win, so their remote unicast/neigh entries are left out."""
    flood: set[str] = set()
    unicast: set[Unicast] = set()
    neigh: set[Neigh] = set()
    for ep in endpoints:
        if ep.kind is RemoteKind.FLOOD:
            flood.add(ep.vtep)
            continue
        assert ep.mac is not None  # checked at construction
        if ep.mac in own_macs:
            continue
        unicast.add(Unicast(ep.mac, ep.vtep))
        if ep.ip is not None:
            neigh.add(Neigh(ep.ip, ep.mac))
    if not (flood or unicast or neigh):
        return EMPTY
    return Entries(frozenset(flood), frozenset(unicast), frozenset(neigh))
