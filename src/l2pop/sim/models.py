"""Three control planes counted on one event trace: l2pop, Neutron fan-out, flood-and-learn.

For every action of a trace (:mod:`l2pop.sim.trace`) each model says what it
costs: how many *messages* reach hosts and how many forwarding *entries* they
carry. The three models, and the assumptions that a reader must know:

* **l2pop** (this project, counted with the core's own ``step``): one watch
  line to every host whose desired state changes, plus one to the host whose
  own port record changed (it runs the VM). An ACTIVE port therefore costs
  exactly the number of hosts with a port on its network. An agent restart is
  one ``/state`` list carrying the host's whole state.
* **Neutron fan-out** (ML2 + l2pop driver over RPC fanout casts): every port
  change (bind, ACTIVE, delete, migrate) is cast to *every* agent of the
  fabric, whether it hosts the network or not; entries carried are the port's
  published entries times the number of agents. The first ACTIVE port of a
  host on a network also gets that host the network's full table (one more
  message); an agent restart gets the full table of each of its networks (one
  message per network). Creating an unbound port costs nothing in any model.
* **flood-and-learn** (no control plane, VTEPs learn from data traffic): a VM
  that boots (or lands after a migration) sends ``broadcasts_per_boot``
  broadcast frames (a gratuitous ARP and an ARP request for a peer, by
  default) and causes ``unknown_unicast_per_boot`` unknown-unicast frames
  (first frames towards it from peers whose FDB has not learned it yet). Each
  is replicated by head-end replication to every other VTEP of the network
  (``scope="network"``, a multicast group per VNI) or of the whole fabric
  (``scope="fabric"``, one group for all VNIs, Neutron Linux bridge's default
  ``vxlan_group``). A "message" here is one frame copy on the underlay; the
  entries are the FDB entries the receiving VTEPs learn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from l2pop.core import EMPTY, Delta, Entries, Port, Snapshot, desired
from l2pop.sim.trace import (
    Action,
    ActivatePort,
    BindPort,
    CreatePort,
    DeletePort,
    Fabric,
    MigratePort,
    PortAction,
    Replay,
    RestartAgent,
)

__all__ = [
    "MODELS",
    "ActionCost",
    "Cost",
    "FloodParams",
    "ModelTotals",
    "TraceCosts",
    "evaluate",
    "l2pop_messages",
]

MODELS = ("l2pop", "neutron", "flood")


@dataclass(frozen=True, slots=True)
class Cost:
    messages: int = 0
    entries: int = 0


@dataclass(frozen=True, slots=True)
class FloodParams:
    broadcasts_per_boot: int = 2
    unknown_unicast_per_boot: int = 1
    scope: Literal["network", "fabric"] = "network"


@dataclass(frozen=True, slots=True)
class ActionCost:
    """What one action costs under each model, and the size of its network."""

    action: Action
    # Hosts with a bound port on the action's network after it (0 for a restart).
    network_hosts: int
    l2pop: Cost
    neutron: Cost
    flood: Cost

    def of(self, model: str) -> Cost:
        cost: Cost = getattr(self, model)
        return cost


@dataclass(slots=True)
class ModelTotals:
    changes: int = 0
    messages: int = 0
    entries: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, cost: Cost) -> None:
        self.changes += 1
        self.messages += cost.messages
        self.entries += cost.entries
        self.by_kind[kind] += cost.messages

    def as_json(self) -> dict[str, object]:
        per = self.messages / self.changes if self.changes else 0.0
        return {
            "changes": self.changes,
            "messages": self.messages,
            "entries": self.entries,
            "messages_per_change": round(per, 3),
            "messages_by_kind": dict(sorted(self.by_kind.items())),
        }


@dataclass(slots=True)
class TraceCosts:
    """Per-action costs of a whole trace, and each model's totals over the changes.

    A *change* is an action that reaches the API (everything but a restart);
    restarts are totalled apart, under ``restarts``.
    """

    actions: list[ActionCost] = field(default_factory=list)
    totals: dict[str, ModelTotals] = field(default_factory=dict)
    restarts: dict[str, ModelTotals] = field(default_factory=dict)
    final: Snapshot | None = None

    def as_json(self) -> dict[str, object]:
        l2pop, neutron = self.totals["l2pop"].messages, self.totals["neutron"].messages
        return {
            "changes": {m: t.as_json() for m, t in self.totals.items()},
            "restarts": {m: t.as_json() for m, t in self.restarts.items()},
            "ratio_l2pop_to_neutron": round(l2pop / neutron, 5) if neutron else None,
        }


def _published(snapshot: Snapshot, network_id: str, host: str) -> Entries:
    net = snapshot.networks.get(network_id)
    return EMPTY if net is None else net.published.get(host, EMPTY)


def _bound_hosts(snapshot: Snapshot, network_id: str) -> frozenset[str]:
    net = snapshot.networks.get(network_id)
    return frozenset() if net is None else frozenset(net.bound)


def l2pop_messages(deltas: Mapping[str, Delta], ports: Iterable[Port | None]) -> set[str]:
    """Hosts that get a watch line: a delta, or a change to a port bound to them."""
    return set(deltas) | {p.host for p in ports if p is not None and p.bound}


def _delta_entries(deltas: Mapping[str, Delta]) -> int:
    return sum(
        len(nd.add) + len(nd.remove) for delta in deltas.values() for nd in delta.networks.values()
    )


def _changed_publication(before: Snapshot, after: Snapshot, net: str, hosts: set[str]) -> int:
    """Entries whose publication changed on the hosts the action touched."""
    total = 0
    for host in hosts:
        old, new = _published(before, net, host), _published(after, net, host)
        total += len((old - new) | (new - old))
    return total


class _Evaluator:
    def __init__(self, fabric: Fabric, flood: FloodParams) -> None:
        self.replay = Replay(fabric)
        self.agents = len(fabric.hosts)
        self.flood_params = flood

    def restart(self, host: str) -> ActionCost:
        state = desired(self.replay.snapshot, host)
        entries = state.entry_count()
        return ActionCost(
            RestartAgent(host),
            0,
            l2pop=Cost(1, entries),
            neutron=Cost(len(state.networks), entries),
            flood=Cost(),
        )

    def change(self, action: PortAction) -> ActionCost:
        before_snap = self.replay.snapshot
        port_id = action.port_id
        old_port = None if isinstance(action, CreatePort) else self.replay.port(port_id)
        deltas = self.replay.play(action)
        after_snap = self.replay.snapshot
        new_port = None if isinstance(action, DeletePort) else self.replay.port(port_id)
        port = new_port or old_port
        assert port is not None
        net = port.network_id
        hosts = {p.host for p in (old_port, new_port) if p is not None and p.bound}
        carried = _changed_publication(before_snap, after_snap, net, hosts)
        l2pop = Cost(len(l2pop_messages(deltas, (old_port, new_port))), _delta_entries(deltas))
        neutron = self._neutron(action, before_snap, after_snap, new_port, carried)
        flood = self._flood(action, after_snap, new_port)
        return ActionCost(action, len(_bound_hosts(after_snap, net)), l2pop, neutron, flood)

    def _neutron(
        self, action: Action, before: Snapshot, after: Snapshot, port: Port | None, carried: int
    ) -> Cost:
        if isinstance(action, CreatePort):
            return Cost()
        cost = Cost(self.agents, self.agents * carried)
        if isinstance(action, ActivatePort) and port is not None and port.published:
            was = port.host in before.networks[port.network_id].published
            if not was:  # first ACTIVE port of this host here: full table to it
                table = len(after.networks[port.network_id].view_for(port.host))
                cost = Cost(cost.messages + 1, cost.entries + table)
        return cost

    def _flood(self, action: Action, after: Snapshot, port: Port | None) -> Cost:
        if not isinstance(action, ActivatePort) or port is None or not port.published:
            return Cost()
        params = self.flood_params
        if params.scope == "fabric":
            others = self.agents - 1
        else:
            others = len(_bound_hosts(after, port.network_id) - {port.host})
        frames = params.broadcasts_per_boot + params.unknown_unicast_per_boot
        # Every other VTEP learns the VM's MAC from its first broadcast.
        return Cost(frames * others, others)


def _kind(action: Action) -> str:
    kinds: dict[type, str] = {
        CreatePort: "create",
        BindPort: "bind",
        ActivatePort: "activate",
        DeletePort: "delete",
        MigratePort: "migrate",
        RestartAgent: "restart",
    }
    return kinds[type(action)]


def evaluate(
    fabric: Fabric, trace: Iterable[Action], flood: FloodParams | None = None
) -> TraceCosts:
    """Count every action of ``trace`` under the three models."""
    evaluator = _Evaluator(fabric, flood or FloodParams())
    out = TraceCosts(
        totals={m: ModelTotals() for m in MODELS}, restarts={m: ModelTotals() for m in MODELS}
    )
    for action in trace:
        if isinstance(action, RestartAgent):
            cost = evaluator.restart(action.host)
            bucket = out.restarts
        else:
            cost = evaluator.change(action)
            bucket = out.totals
        out.actions.append(cost)
        for model in MODELS:
            bucket[model].add(_kind(action), cost.of(model))
    out.final = evaluator.replay.snapshot
    return out
