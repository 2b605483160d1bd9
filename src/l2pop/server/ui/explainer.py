"""Explain from the server: the fabric view's explain panel.

The server stages come from this replica's view (no HTTP to itself); the
agent and kernel stages from the endpoint the host's agent reported
(``PUT /v1/hosts/{name}/agent``), when it reported one.
"""

from __future__ import annotations

import httpx

from l2pop.core.snapshot import desired
from l2pop.explain.facts import DesiredFacts, PortFacts, Target, parse_target
from l2pop.explain.sources import agent_probes, build_facts, network_facts, pick_network
from l2pop.explain.stages import Report, explain
from l2pop.server.records import HOST, NETWORK, PORT
from l2pop.server.service import Service

__all__ = ["explain_on_server"]


def _owners(service: Service, target: Target) -> list[PortFacts]:
    """Ports owning ``target``: through the view's per-network MAC/IP index first; a
    full scan only when none matches (the target may be an allowed address pair)."""
    view = service.view
    found: list[str] = []
    for net_id in view.records[NETWORK]:
        if target.kind == "mac":
            hit = view.port_with_mac(net_id, target.value)
        else:
            hit = view.port_with_ip(net_id, target.value)
        if hit is not None:
            found.append(hit)
    records = (
        [view.records[PORT][p].value for p in found if p in view.records[PORT]]
        if found
        else [r.value for r in view.records[PORT].values()]
    )
    return [p for p in map(PortFacts.from_record, records) if p.owns(target)]


async def explain_on_server(
    service: Service,
    host: str,
    target_text: str,
    network: str | None,
    client: httpx.AsyncClient,
) -> Report:
    """ValidationError for a bad target or network, Ambiguous for an ambiguous IP."""
    target = parse_target(target_text.strip())
    view = service.view
    networks = network_facts(r.value for r in view.records[NETWORK].values())
    net_id = pick_network(network or None, networks)
    tunnel_ips = {name: str(r.value["tunnel_ip"]) for name, r in view.records[HOST].items()}
    wanted = None
    if host in tunnel_ips:
        wanted = DesiredFacts(service.agents.r_of(host), desired(view.snapshot, host).networks)
    report = service.agents.reports.get(host)
    endpoint = None if report is None else report.endpoint
    owners = _owners(service, target)
    facts = build_facts(
        host, target, net_id, ports=owners, networks=networks, tunnel_ips=tunnel_ips,
        desired=wanted,
    )  # fmt: skip
    needs_agent = facts.port is not None and facts.port.host != host
    if endpoint is not None and needs_agent:
        held, kernel = await agent_probes(client, endpoint)
        facts = build_facts(
            host, target, net_id, ports=owners, networks=networks, tunnel_ips=tunnel_ips,
            desired=wanted, agent=held, kernel=kernel,
        )  # fmt: skip
    return explain(facts)
