from __future__ import annotations

from l2pop.core import (
    Host,
    Neigh,
    Network,
    Port,
    PortStatus,
    PortUpserted,
    Snapshot,
    Unicast,
    apply,
    desired,
    step,
)


def test_first_active_port_on_new_host_adds_flood_entry_on_peers() -> None:
    net = Network(id="n1", vni=100)
    snap = Snapshot.build([net], [Host("h1", "192.0.2.1"), Host("h2", "192.0.2.2")], [])
    a = Port("pa", "n1", "fa:16:3e:00:00:01", ("198.51.100.1",), host="h1")
    snap, _ = step(snap, PortUpserted(a))
    before_h1 = desired(snap, "h1")
    g = Port("pg", "n1", "fa:16:3e:00:00:07", ("198.51.100.7",), host="h2")
    snap, deltas = step(snap, PortUpserted(g))
    snap, deltas = step(snap, PortUpserted(Port(**{**_fields(g), "status": PortStatus.ACTIVE})))

    change = deltas["h1"].networks["n1"]
    assert change.add.flood == {"192.0.2.2"}
    assert change.add.unicast == {Unicast("fa:16:3e:00:00:07", "192.0.2.2")}
    assert change.add.neigh == {Neigh("198.51.100.7", "fa:16:3e:00:00:07")}
    assert "h2" not in deltas  # a host never hears about its own port
    assert apply(before_h1, deltas["h1"]) == desired(snap, "h1")


def _fields(port: Port) -> dict[str, object]:
    return {name: getattr(port, name) for name in port.__dataclass_fields__}
