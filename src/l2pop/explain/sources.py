"""Facts from their sources: server records, an agent's endpoint, the local kernel.

Shared by the CLI (records from the admin API) and the server's fabric view
(records from its own view). The agent's endpoint is asked only for the two
fixed read-only paths, and what comes back is decoded strictly; an error is
reduced to one line (an endpoint is reported by an agent, so the server
shows nothing of a foreign answer but its status).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from l2pop.core.state import NetworkState
from l2pop.core.wire import decode_state
from l2pop.dataplane.base import KernelNetwork
from l2pop.errors import L2popError, ValidationError
from l2pop.explain.facts import (
    AgentHeld,
    DesiredFacts,
    Facts,
    NetworkFacts,
    PortFacts,
    Probe,
    Target,
    resolve,
)
from l2pop.explain.wire import decode_held, decode_kernel

__all__ = [
    "AGENT_TIMEOUT_S",
    "agent_probes",
    "build_facts",
    "desired_of_state",
    "network_facts",
    "pick_network",
]

AGENT_TIMEOUT_S = 3.0
JSON = dict[str, Any]


def network_facts(records: Iterable[Mapping[str, Any]]) -> dict[str, NetworkFacts]:
    return {
        str(r["id"]): NetworkFacts(
            str(r["id"]), str(r.get("name") or ""), int(r["provider:segmentation_id"])
        )
        for r in records
    }


def pick_network(wanted: str | None, networks: Mapping[str, NetworkFacts]) -> str | None:
    """``--network`` as an id or a unique name -> the id; None when not given."""
    if wanted is None or wanted in networks:
        return wanted
    named = [n.id for n in networks.values() if n.name == wanted]
    if len(named) == 1:
        return named[0]
    why = "no network has that id or name" if not named else "several networks have that name"
    raise ValidationError("--network", wanted, why)


def desired_of_state(state: object, last_change: int | None) -> DesiredFacts:
    """A ``/state`` answer; R is ``last_change`` when the server told it, else the
    revision the state was computed at (an upper bound)."""
    revision, host_state, _ = decode_state(state)
    nets: Mapping[str, NetworkState] = host_state.networks
    return DesiredFacts(revision if last_change is None else last_change, nets)


def build_facts(
    host: str,
    target: Target,
    network: str | None,
    *,
    ports: Iterable[PortFacts],
    networks: Mapping[str, NetworkFacts],
    tunnel_ips: Mapping[str, str],
    desired: DesiredFacts | None,
    agent: Probe[AgentHeld] | None = None,
    kernel: Probe[Mapping[int, KernelNetwork]] | None = None,
) -> Facts:
    """Raises Ambiguous when TARGET is on several networks and ``network`` is None."""
    labels = {n.id: f"{n.label} ({n.id})" for n in networks.values()}
    port = resolve(target, list(ports), network, labels)
    net_id = port.network_id if port is not None else network
    return Facts(
        host=host,
        target=target,
        host_tunnel_ip=tunnel_ips.get(host),
        tunnel_ips=tunnel_ips,
        port=port,
        network=networks.get(net_id) if net_id else None,
        desired=desired,
        agent=agent,
        kernel=kernel,
    )


async def _get(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url, timeout=AGENT_TIMEOUT_S)
    if response.status_code != 200:
        reason = ""
        with contextlib.suppress(ValueError, AttributeError):
            reason = str(response.json().get("error", ""))[:200]
        raise L2popError(f"{url} answered {response.status_code} {reason}".strip())
    return response.json()


async def agent_probes(
    client: httpx.AsyncClient, base: str, with_kernel: bool = True
) -> tuple[Probe[AgentHeld], Probe[Mapping[int, KernelNetwork]] | None]:
    """The agent's held state and (unless ``with_kernel`` is False) its kernel read."""
    base = base.rstrip("/")
    held: Probe[AgentHeld]
    try:
        held = Probe(base, decode_held(await _get(client, base + "/held")))
    except (httpx.HTTPError, ValueError, L2popError) as exc:
        held = Probe(base, error=_one_line(exc))
    if not with_kernel:
        return held, None
    kernel: Probe[Mapping[int, KernelNetwork]]
    try:
        kernel = Probe(
            f"via the agent at {base}", decode_kernel(await _get(client, base + "/kernel"))
        )
    except (httpx.HTTPError, ValueError, L2popError) as exc:
        kernel = Probe(base, error=f"the agent at {base} did not answer: {_one_line(exc)}")
    return held, kernel


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]
