"""``l2pop explain HOST TARGET`` and ``l2pop viewer-token`` (DESIGN.md §5).

Server and token as for the admin CLI (the same client, so the same
connection settings). Exit 0: reachable; 1: broken at a stage (an unknown
target is broken at ``server``); 2: usage errors, an ambiguous IP without
``--network`` (the networks are listed) and server errors.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from l2pop.admin.cli import DEFAULT_URL, Token, TokenFile, Url, _client
from l2pop.tlsclient import CaFileOption

__all__ = ["register"]

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2
MARKS = {True: "[green]\u2713[/]", False: "[red]\u2717[/]", None: "[dim]-[/]"}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _gather(
    client: Any, host: str, target_text: str, network: str | None, agent: str | None, local: bool
) -> Any:
    """Facts from the server (and the agent, and this kernel); raises the usage errors."""
    from l2pop.admin.client import AdminError
    from l2pop.explain.facts import PortFacts, Probe, parse_target
    from l2pop.explain.sources import (
        agent_probes,
        build_facts,
        desired_of_state,
        network_facts,
        pick_network,
    )

    target = parse_target(target_text)
    tunnel_ips = {str(h["name"]): str(h["tunnel_ip"]) for h in client.hosts()}
    networks = network_facts(client.networks())
    net_id = pick_network(network, networks)
    try:
        if target.kind == "mac":
            records = client.ports(mac_address=target.value)
        else:
            records = client.ports(fixed_ips=f"ip_address={target.value}")
    except AdminError:
        records = []  # a server without that filter: the full list below
    ports = [p for p in map(PortFacts.from_record, records) if p.owns(target)]
    if not ports:  # perhaps an allowed address pair: those have no filter
        ports = [p for p in map(PortFacts.from_record, client.ports()) if p.owns(target)]
    desired, report = None, None
    if host in tunnel_ips:
        try:
            report = client.call("GET", f"/v1/hosts/{host}/agent")["agent"]
        except AdminError:
            report = None  # a server without agent reports: R is /state's revision
        last_change = None if report is None else int(report["last_change"])
        desired = desired_of_state(client.state(host), last_change)
    facts = build_facts(
        host, target, net_id, ports=ports, networks=networks, tunnel_ips=tunnel_ips,
        desired=desired,
    )  # fmt: skip
    held: Any = None
    kernel: Any = None
    if agent is not None:
        url = agent
        if agent == "auto":
            url = (report or {}).get("endpoint") or ""
        if not url:
            held = Probe("auto", error=f"{host}'s agent reported no endpoint (--metrics-port)")
        else:
            held, kernel = asyncio.run(_probe(url, with_kernel=not local, probes=agent_probes))
    if local and facts.host_tunnel_ip is not None:
        from l2pop.explain.local import read_local_kernel

        vni = facts.network.vni if facts.network is not None else None
        kernel = read_local_kernel(facts.host_tunnel_ip, vni)
    return replace(facts, agent=held, kernel=kernel)


async def _probe(url: str, *, with_kernel: bool, probes: Any) -> Any:
    import httpx

    async with httpx.AsyncClient() as http:
        return await probes(http, url, with_kernel)


def _print(report: Any, detailed: bool) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    console.print(f"explain [bold]{report.host}[/] -> [bold]{report.target}[/]")
    for number, stage in enumerate(report.stages, 1):
        console.print(f" {number}. {MARKS[stage.ok]} {stage.name:<8} {escape(stage.detail)}")
        if detailed:
            for line in stage.compared:
                console.print(f"       {escape(line)}")
    style = "green" if report.verdict == "ok" else "red"
    console.print(f"[bold {style}]{escape(report.line)}[/]")


def register(app: typer.Typer) -> None:
    @app.command("explain")
    def explain_command(
        host: Annotated[str, typer.Argument(help="The host whose VMs want to reach TARGET.")],
        target: Annotated[str, typer.Argument(help="An IP (v4/v6) or a MAC.")],
        network: Annotated[
            str | None,
            typer.Option("--network", help="Network id (or name) when the IP is ambiguous."),
        ] = None,
        agent: Annotated[
            str | None,
            typer.Option(
                "--agent",
                help="HOST's agent endpoint (its --metrics-port), e.g. http://192.0.2.1:9100; "
                "'auto': the endpoint the agent reported to the server.",
            ),
        ] = None,
        local: Annotated[
            bool,
            typer.Option("--local", help="Read the kernel here (run on HOST, in its namespace)."),
        ] = False,
        detailed: Annotated[
            bool, typer.Option("--detailed", help="List the exact entries compared.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        url: Url = DEFAULT_URL,
        token: Token = None,
        token_file: TokenFile = None,
        ca_file: CaFileOption = None,
    ) -> None:
        """Can HOST's VMs reach TARGET, and if not, where does it break: server -> scope ->
        desired -> agent -> kernel, ovn-trace style. Exit 0 ok, 1 broken, 2 usage error."""
        from l2pop.admin.client import AdminError
        from l2pop.errors import L2popError
        from l2pop.explain.facts import Ambiguous
        from l2pop.explain.stages import explain

        client = _client(url, token, token_file, ca_file)
        try:
            facts = _gather(client, host, target, network, agent, local)
        except Ambiguous as exc:
            raise _fail(str(exc)) from None
        except (AdminError, L2popError) as exc:
            raise _fail(str(exc)) from None
        report = explain(facts)
        if as_json:
            typer.echo(json.dumps(report.to_json(detailed), indent=1))
        else:
            _print(report, detailed)
        raise typer.Exit(EXIT_OK if report.verdict == "ok" else EXIT_BROKEN)

    @app.command("viewer-token")
    def viewer_token(
        ttl: Annotated[
            int, typer.Option("--ttl", min=60, help="Seconds the token stays valid.")
        ] = 7 * 24 * 3600,
        save: Annotated[
            Path | None, typer.Option("--save", help="Write the token here (0600).")
        ] = None,
        url: Url = DEFAULT_URL,
        token: Token = None,
        token_file: TokenFile = None,
        ca_file: CaFileOption = None,
    ) -> None:
        """Issue a read-only token for the fabric view at /ui/ (valid on this server
        process until it restarts or the token expires)."""
        from l2pop.admin.cli import _run, _write_secret

        client = _client(url, token, token_file, ca_file)
        answer = _run(lambda: client.call("POST", "/v1/viewer-tokens", {"ttl_seconds": ttl}))
        if save is not None:
            _write_secret(save, answer["token"])
            typer.echo(f"viewer token written to {save}")
        else:
            typer.echo(answer["token"])
