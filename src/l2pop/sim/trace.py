"""Event traces: what happens on a simulated fabric, as plain data.

A trace is a sequence of *actions* on a :class:`Fabric` (registered hosts and
networks): the cloud creates a port, binds it to a host, the host's agent
reports it ACTIVE, the port is deleted or migrated, an agent restarts. The
workload generator (:mod:`l2pop.sim.workload`) produces traces, the models
(:mod:`l2pop.sim.models`) count what each action costs under three control
planes, and the runner (:mod:`l2pop.sim.runner`) plays them against a real
server.

:class:`Replay` turns actions into core events (``PortUpserted`` ...) on a
:class:`~l2pop.core.Snapshot`, so every consumer agrees on what an action
does to the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from l2pop.core import (
    Delta,
    Event,
    Host,
    Network,
    Port,
    PortDeleted,
    PortEvent,
    PortUpserted,
    Snapshot,
    next_status,
    step,
)

__all__ = [
    "Action",
    "ActivatePort",
    "BindPort",
    "CreatePort",
    "DeletePort",
    "Fabric",
    "MigratePort",
    "PortAction",
    "Replay",
    "RestartAgent",
    "Trace",
    "port_of",
]


@dataclass(frozen=True, slots=True)
class Fabric:
    """The hosts (all registered, each with an agent) and networks of a simulation."""

    hosts: tuple[Host, ...]
    networks: tuple[Network, ...]


@dataclass(frozen=True, slots=True)
class CreatePort:
    """The cloud creates an unbound port (``DOWN``): no host cares yet."""

    port_id: str
    network_id: str
    mac: str
    ips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BindPort:
    """``binding:host_id`` set: the port goes ``BUILD`` on ``host``."""

    port_id: str
    host: str


@dataclass(frozen=True, slots=True)
class ActivatePort:
    """The bound host's agent saw the tap and reports the port ``ACTIVE``."""

    port_id: str


@dataclass(frozen=True, slots=True)
class DeletePort:
    port_id: str


@dataclass(frozen=True, slots=True)
class MigratePort:
    """The port is re-bound to ``host`` (``BUILD`` there until that agent reports)."""

    port_id: str
    host: str


@dataclass(frozen=True, slots=True)
class RestartAgent:
    """The agent of ``host`` restarts: it lists its whole state again."""

    host: str


PortAction = CreatePort | BindPort | ActivatePort | DeletePort | MigratePort
Action = PortAction | RestartAgent
Trace = Sequence[Action]


def port_of(action: Action) -> str | None:
    """The port an action is about, None for an agent restart."""
    if isinstance(action, RestartAgent):
        return None
    return action.port_id


class Replay:
    """A snapshot that follows a trace, action by action, through the core's ``step``."""

    def __init__(self, fabric: Fabric) -> None:
        self.snapshot = Snapshot.build(fabric.networks, fabric.hosts, [])
        # port id -> network id, to find a port from an action naming only its id.
        self._network_of: dict[str, str] = {}

    def port(self, port_id: str) -> Port:
        return self.snapshot.networks[self._network_of[port_id]].ports[port_id]

    def has_port(self, port_id: str) -> bool:
        return port_id in self._network_of

    def event_for(self, action: Action) -> Event | None:
        """The core event ``action`` causes at the current snapshot (None: no event)."""
        match action:
            case CreatePort(port_id, network_id, mac, ips):
                return PortUpserted(Port(port_id, network_id, mac, ips))
            case BindPort(port_id, host) | MigratePort(port_id, host):
                bound = dataclasses.replace(self.port(port_id), host=host)
                status = next_status(bound, PortEvent.BIND)
                return PortUpserted(dataclasses.replace(bound, status=status))
            case ActivatePort(port_id):
                port = self.port(port_id)
                return PortUpserted(
                    dataclasses.replace(port, status=next_status(port, PortEvent.DEVICE_UP))
                )
            case DeletePort(port_id):
                return PortDeleted(self._network_of[port_id], port_id)
        return None

    def play(self, action: Action) -> dict[str, Delta]:
        """Apply ``action``; return the core's per-host deltas."""
        event = self.event_for(action)
        if event is None:
            return {}
        self.snapshot, deltas = step(self.snapshot, event)
        if isinstance(event, PortUpserted):
            self._network_of[event.port.id] = event.port.network_id
        elif isinstance(event, PortDeleted):
            del self._network_of[event.port_id]
        return deltas
