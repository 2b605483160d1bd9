"""``l2pop evpn``: run an EVPN gateway (DESIGN.md §5 "EVPN gateway")."""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from l2pop.logs import LogFormat, setup_logging

__all__ = ["parse_peers", "register"]

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command("evpn")(evpn_command)


def parse_peers(value: str) -> tuple[str, ...]:
    from l2pop.core import normalize_ip

    peers = tuple(normalize_ip(p.strip(), "--peer") for p in value.split(",") if p.strip())
    if not peers:
        raise typer.BadParameter("at least one peer address", param_hint="--peer")
    return peers


def evpn_command(
    server: Annotated[str, typer.Option("--server", help="The l2pop server's URL.")],
    token_file: Annotated[
        Path,
        typer.Option(
            "--token-file",
            exists=True,
            dir_okay=False,
            help="A gateway token (POST /v1/gateways), or the admin token: the gateway then "
            "registers itself as evpn-<router-id> and uses its own token.",
        ),
    ],
    asn: Annotated[
        int,
        typer.Option("--asn", min=1, max=4294967295, help="The AS number (iBGP: the peers' too)."),
    ],
    router_id: Annotated[
        str,
        typer.Option(
            "--router-id", help="BGP router ID, an IPv4 address of this host: sessions run from it."
        ),
    ],
    peer: Annotated[
        str, typer.Option("--peer", help="EVPN speakers to peer with (iBGP), comma-separated.")
    ],
    peer_password_file: Annotated[
        Path | None,
        typer.Option(
            "--peer-password-file",
            exists=True,
            dir_okay=False,
            help="TCP MD5 password for every session (FRR: neighbor X password).",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file", exists=True, dir_okay=False, help="CA of the server's TLS certificate."
        ),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir", help="Where gobgpd's config and log go (default: a temporary dir)."
        ),
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            min=0.0,
            help="Seconds after start before imported routes missing from the RIB are removed.",
        ),
    ] = 5.0,
    bgp_port: Annotated[
        int, typer.Option("--bgp-port", hidden=True, help="BGP port (testing).")
    ] = 179,
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.")
    ] = "INFO",
    log_format: Annotated[
        LogFormat,
        typer.Option("--log-format", help="human lines, or json: one object per line."),
    ] = LogFormat.HUMAN,
) -> None:
    """Join l2pop's overlay to BGP EVPN: export its ports as type-2/3 routes, import the
    peers' routes of known networks as remote endpoints."""
    from l2pop.core import normalize_ip
    from l2pop.errors import L2popError
    from l2pop.evpn.gateway import GatewayOptions, run_gateway
    from l2pop.evpn.speaker import SpeakerConfig, SpeakerError
    from l2pop.sdnotify import Notifier

    setup_logging(log_level, log_format)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        router = normalize_ip(router_id, "--router-id")
        if ":" in router:
            raise typer.BadParameter("an IPv4 address", param_hint="--router-id")
        password = None
        if peer_password_file is not None:
            password = peer_password_file.read_text().strip()
            if not password or len(password) > 80:
                raise typer.BadParameter("1..80 characters", param_hint="--peer-password-file")
        speaker = SpeakerConfig(asn, router, parse_peers(peer), password, bgp_port)
        directory = workdir or Path(tempfile.mkdtemp(prefix="l2pop-evpn-"))
        directory.mkdir(parents=True, exist_ok=True)
        options = GatewayOptions(
            server=server,
            token=token_file.read_text().strip(),
            speaker=speaker,
            workdir=directory,
            ca_file=ca_file,
            settle=settle,
        )
    except L2popError as exc:
        raise typer.BadParameter(str(exc)) from None

    notifier = Notifier()  # systemd's NOTIFY_SOCKET, when it runs us

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None

        def stop() -> None:
            notifier.stopping()
            task.cancel()

        def ready() -> None:
            notifier.ready(f"gobgpd up; peers {peer}; server {server}")

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        await run_gateway(options, on_ready=ready)

    try:
        asyncio.run(main())
    except (SpeakerError, L2popError) as exc:
        typer.echo(f"l2pop evpn: {exc}", err=True)
        raise typer.Exit(1) from None
