"""The gateway's reconcile rules with a stand-in speaker and server (units; the real
gobgpd and FRR run in tests/e2e/test_evpn_frr.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from l2pop.core import RemoteEndpoint, RemoteKind
from l2pop.evpn.gateway import Gateway, GatewayOptions
from l2pop.evpn.mirror import Mirror
from l2pop.evpn.routes import ImportedRoute, MulticastRoute, Route
from l2pop.evpn.speaker import SpeakerConfig

FRR = "198.18.0.7"


class FakeSpeaker:
    def __init__(self) -> None:
        self.up: set[str] = set()
        self.applied: list[tuple[list[Route], list[Route]]] = []

    async def established(self) -> set[str]:
        return self.up

    async def apply(self, add: Sequence[Route], remove: Sequence[Route]) -> None:
        self.applied.append((list(add), list(remove)))


class FakeApi:
    def __init__(self) -> None:
        self.writes: list[tuple[list[str], list[str]]] = []

    async def write(self, add: Iterable[RemoteEndpoint], remove: Iterable[RemoteEndpoint]) -> int:
        self.writes.append(([e.key for e in add], [e.key for e in remove]))
        return 1


def gateway(tmp_path: Path, settle: float) -> tuple[Gateway, FakeSpeaker, FakeApi]:
    options = GatewayOptions(
        "http://x",
        "t",
        SpeakerConfig(65000, "192.0.2.254", ("192.0.2.3",)),
        tmp_path,
        settle=settle,
    )
    speaker, api = FakeSpeaker(), FakeApi()
    gw = Gateway(options, api, speaker)  # type: ignore[arg-type]
    state: dict[str, Any] = {
        "revision": 3,
        "networks": [{"id": "n1", "provider:segmentation_id": 100}],
        "hosts": [{"name": "h1", "tunnel_ip": "192.0.2.1"}],
        "ports": [
            {
                "id": "p1",
                "network_id": "n1",
                "mac_address": "fa:16:3e:00:00:01",
                "fixed_ips": [],
                "binding:host_id": "h1",
                "status": "ACTIVE",
            }
        ],
        "remote_endpoints": [
            {"network_id": "n1", "type": "flood", "vtep": FRR, "mac_address": None,
             "ip_address": None, "gateways": ["gw"]},
            {"network_id": "n1", "type": "flood", "vtep": "198.18.0.9", "mac_address": None,
             "ip_address": None, "gateways": ["gw"]},
        ],
    }  # fmt: skip
    gw.mirror = Mirror.from_state(state, "gw")
    return gw, speaker, api


def flood_route(vtep: str) -> ImportedRoute:
    return ImportedRoute(f"3|{vtep}", RemoteKind.FLOOD, vtep, None, None, frozenset({"65000:100"}))


def test_restart_adds_what_is_new_and_removes_stale_holds_only_once_settled(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        gw, speaker, api = gateway(tmp_path, settle=0.2)
        gw.received = {"a": flood_route(FRR), "b": flood_route("198.18.0.8")}
        task = asyncio.create_task(gw._imports())
        gw._imports_due.set()
        await asyncio.sleep(0.15)
        # Held and received alike: nothing written for FRR; the new one added; the stale
        # hold (198.18.0.9) kept while the peer is not up.
        assert api.writes == [(["n1|flood|198.18.0.8||"], [])]
        await asyncio.sleep(0.4)
        assert len(api.writes) == 1
        speaker.up = {"192.0.2.3"}  # the session comes up: 1 s later, settled
        for _ in range(40):
            await asyncio.sleep(0.1)
            if len(api.writes) == 2:
                break
        assert api.writes[1] == ([], ["n1|flood|198.18.0.9||"])
        assert gw.mirror is not None
        assert set(gw.mirror.held) == {"n1|flood|198.18.0.7||", "n1|flood|198.18.0.8||"}
        task.cancel()

    asyncio.run(main())


def test_exports_are_applied_as_differences(tmp_path: Path) -> None:
    async def main() -> None:
        gw, speaker, _ = gateway(tmp_path, settle=0)
        await gw._export()
        add, remove = speaker.applied[-1]
        assert MulticastRoute(100, "192.0.2.1") in add
        assert remove == []
        await gw._export()
        assert len(speaker.applied) == 1  # nothing changed: no call
        assert gw.mirror is not None
        gw.mirror.apply({"revision": 4, "changes": [{"kind": "port", "key": "p1", "value": None}]})
        await gw._export()
        add, remove = speaker.applied[-1]
        assert add == []
        assert MulticastRoute(100, "192.0.2.1") in remove

    asyncio.run(main())
