"""``l2pop pki ca|server|host``: the certificates an l2pop deployment needs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

Dir = Annotated[
    Path, typer.Argument(help="Directory of the CA (ca.pem, ca.key) and the certificates.")
]
Days = Annotated[int, typer.Option("--days", min=1, help="Validity in days.")]


def register(app: typer.Typer) -> None:
    pki = typer.Typer(
        help="Make a CA, the server's certificate and one client certificate per host "
        "(ECDSA P-256; keys written 0600).",
        no_args_is_help=True,
    )
    app.add_typer(pki, name="pki")

    @pki.command("ca")
    def ca(
        directory: Dir,
        name: Annotated[str, typer.Option("--name", help="The CA's common name.")] = "l2pop CA",
        days: Days = 3650,
        force: Annotated[bool, typer.Option("--force", help="Replace an existing CA.")] = False,
    ) -> None:
        """Create DIR/ca.pem and DIR/ca.key."""
        from l2pop.pki import make_ca

        if (directory / "ca.key").exists() and not force:
            typer.echo(f"l2pop pki: {directory}/ca.key exists (--force replaces it)", err=True)
            raise typer.Exit(2)
        issued = make_ca(directory, name, days)
        typer.echo(f"CA: {issued.cert} (key {issued.key})")

    @pki.command("server")
    def server(
        directory: Dir,
        name: Annotated[
            list[str],
            typer.Option("--name", help="DNS name or IP address clients use (repeatable)."),
        ],
        days: Days = 825,
        out: Annotated[str, typer.Option("--out", help="File stem in DIR.")] = "server",
    ) -> None:
        """Issue the server certificate (serverAuth) for every --name: DIR/server.pem/.key."""
        _issue(directory, out, name, server=True, days=days)

    @pki.command("host")
    def host(
        directory: Dir,
        hosts: Annotated[list[str], typer.Argument(help="Host names, as registered.")],
        days: Days = 825,
    ) -> None:
        """Issue one client certificate (clientAuth, CN = DNS SAN = host) per host:
        DIR/HOST.pem and DIR/HOST.key."""
        for name in hosts:
            _issue(directory, name, [name], server=False, days=days)


def _issue(directory: Path, stem: str, names: list[str], *, server: bool, days: int) -> None:
    from l2pop.errors import L2popError
    from l2pop.pki import issue

    try:
        issued = issue(directory, stem, names, server=server, days=days)
    except L2popError as exc:
        typer.echo(f"l2pop pki: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{issued.cert} (key {issued.key}): {', '.join(names)}")
