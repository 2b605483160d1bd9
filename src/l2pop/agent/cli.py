"""``l2pop agent``: run the agent of one host (DESIGN.md §5 "Agent")."""

from __future__ import annotations

import asyncio
import logging
import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from l2pop.dataplane.base import Dataplane, Mode
from l2pop.logs import LogFormat, setup_logging
from l2pop.tlsclient import CaFileOption, CertOption, KeyOption

__all__ = ["DataplaneKind", "make_dataplane", "register"]

log = logging.getLogger(__name__)


class DataplaneKind(StrEnum):
    LINUX = "linux"
    FAKE = "fake"


def make_dataplane(
    kind: DataplaneKind, mode: Mode, local_ip: str, interface: str | None
) -> Dataplane:
    """The dataplane to program; heavy imports (pyroute2) only when asked for."""
    if kind is DataplaneKind.FAKE:
        from l2pop.dataplane.fake import FakeDataplane

        return FakeDataplane(mode, local_ip)
    from l2pop.dataplane.linux import LinuxDataplane  # pyroute2: only when needed

    return LinuxDataplane(mode, local_ip, interface=interface)


def register(app: typer.Typer) -> None:
    app.command("agent")(agent_command)


def agent_command(
    host: Annotated[str, typer.Option("--host", help="This host's name, as registered.")],
    tunnel_ip: Annotated[str, typer.Option("--tunnel-ip", help="This host's VTEP address.")],
    server: Annotated[
        str,
        typer.Option(
            "--server",
            help="Server URL(s), comma-separated; tried in an order ranked by a hash of "
            "the host name (agents spread over replicas), failing over down that order.",
        ),
    ],
    token_file: Annotated[
        Path,
        typer.Option("--token-file", exists=True, dir_okay=False, help="This host's token."),
    ],
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode", help="proxy: the VXLAN device answers ARP/NS; suppress: the bridge."
        ),
    ] = Mode.PROXY,
    interface: Annotated[
        str | None,
        typer.Option(
            "--interface", help="Underlay device (default: the one holding the tunnel IP)."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            help="Serve /metrics, and explain's read-only /held and /kernel, on this port "
            "(off if unset).",
        ),
    ] = None,
    metrics_addr: Annotated[
        str,
        typer.Option(
            "--metrics-addr",
            help="Address for --metrics-port: a management address (it shows the host's "
            "forwarding tables; no secret). Default all addresses.",
        ),
    ] = "0.0.0.0",
    resync_interval: Annotated[
        float, typer.Option("--resync-interval", min=0.1, help="Seconds between drift repairs.")
    ] = 30.0,
    underlay_allowlist: Annotated[
        bool,
        typer.Option(
            "--underlay-allowlist",
            help="Drop VXLAN (UDP 4789) from sources that are not VTEPs of this host's networks.",
        ),
    ] = False,
    dataplane: Annotated[
        DataplaneKind, typer.Option("--dataplane", hidden=True, help="fake: in memory (testing).")
    ] = DataplaneKind.LINUX,
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.")
    ] = "INFO",
    log_format: Annotated[
        LogFormat,
        typer.Option("--log-format", help="human lines, or json: one object per line."),
    ] = LogFormat.HUMAN,
    ca_file: CaFileOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
) -> None:
    """Keep this host's VTEPs equal to the server's desired state and report its ports."""
    from l2pop.agent.agent import Agent
    from l2pop.agent.config import AgentConfig, parse_server_urls
    from l2pop.errors import L2popError, ValidationError
    from l2pop.secretfile import read_secret
    from l2pop.tlsclient import ClientTls

    setup_logging(log_level, log_format, host=host)  # every record names this host
    # The agent's own log says what happened; the libraries' request-by-request and
    # message-by-message lines would drown it (at DEBUG, thousands per resync).
    for noisy in ("httpx", "httpcore", "pyroute2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = AgentConfig(
            host=host,
            tunnel_ip=tunnel_ip,
            servers=parse_server_urls(server),
            token=read_secret(token_file, "host token"),
            token_file=token_file,
            mode=mode,
            interface=interface,
            metrics_port=metrics_port,
            metrics_addr=metrics_addr,
            resync_interval=resync_interval,
            underlay_allowlist=underlay_allowlist,
            tls=ClientTls(ca_file, cert, key),
        )
        plane = make_dataplane(dataplane, config.mode, config.tunnel_ip, interface)
        if underlay_allowlist:
            from l2pop.dataplane.allowlist import nft_unavailable

            why = nft_unavailable()
            if why is not None:
                raise ValidationError("--underlay-allowlist", True, why)
    except L2popError as exc:
        typer.echo(f"l2pop agent: {exc}", err=True)
        raise typer.Exit(2) from exc
    asyncio.run(_run(Agent(config, plane)))


async def _run(agent: object) -> None:
    from l2pop.agent.agent import Agent
    from l2pop.sdnotify import Notifier

    assert isinstance(agent, Agent)
    notifier = Notifier()  # systemd's NOTIFY_SOCKET, when it runs us

    def stop() -> None:
        notifier.stopping()
        agent.request_stop()

    async def announce() -> None:
        await agent.ready.wait()
        notifier.ready(f"kernel read; servers {', '.join(agent.config.servers)}")

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    ready = asyncio.create_task(announce())
    try:
        await agent.run()
    finally:
        ready.cancel()
