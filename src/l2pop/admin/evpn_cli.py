"""``l2pop gateway add|list|delete`` and ``l2pop remote-endpoint list``: EVPN admin commands.

A gateway's token is shown (or saved) once, like a host's; remote endpoints
are read-only here: only gateways write them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from l2pop.admin.cli import (
    DEFAULT_URL,
    AsJson,
    Token,
    TokenFile,
    Url,
    _client,
    _run,
    _show,
    _write_secret,
)

__all__ = ["REMOTE_COLUMNS", "register", "remote_rows"]

REMOTE_COLUMNS = [
    ("network", "network_id"),
    ("type", "type"),
    ("vtep", "vtep"),
    ("mac", "mac_address"),
    ("ip", "ip_address"),
    ("gateways", "gateways"),
]


def remote_rows(client: Any, network_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Remote endpoints, all or of ``network_ids``."""
    answer = client.call("GET", "/v1/remote-endpoints")
    rows: list[dict[str, Any]] = answer["remote_endpoints"]
    if network_ids is not None:
        rows = [r for r in rows if r["network_id"] in network_ids]
    return rows


def _gateway_commands(group: typer.Typer) -> None:
    @group.command("add")
    def add(
        name: str,
        save_token: Annotated[
            Path | None, typer.Option("--save-token", help="Write the gateway token here (0600).")
        ] = None,
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
    ) -> None:  # fmt: skip
        """Register an EVPN gateway; prints (or saves) its token, shown only once."""
        client = _client(url, token, token_file)
        answer = _run(lambda: client.call("POST", "/v1/gateways", {"name": name}))
        if save_token is not None:
            _write_secret(save_token, answer["token"])
            typer.echo(f"gateway {name}: token written to {save_token}")
        else:
            typer.echo(f"gateway {name}\ntoken: {answer['token']}")

    @group.command("list")
    def list_(url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
              as_json: AsJson = False) -> None:  # fmt: skip
        """List registered gateways."""
        client = _client(url, token, token_file)
        answer = _run(lambda: client.call("GET", "/v1/gateways"))
        _show(
            as_json, "gateways", answer["gateways"], [("name", "name"), ("created", "created_at")]
        )

    @group.command("delete")
    def delete(name: str, url: Url = DEFAULT_URL, token: Token = None,
               token_file: TokenFile = None) -> None:  # fmt: skip
        """Unregister a gateway: its token stops working, its imported routes are released."""
        client = _client(url, token, token_file)
        _run(lambda: client.call("DELETE", f"/v1/gateways/{name}"))
        typer.echo(f"deleted gateway {name}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="EVPN gateways and their tokens.", no_args_is_help=True)
    _gateway_commands(group)
    app.add_typer(group, name="gateway")
    remote = typer.Typer(help="Remote endpoints (routes imported by EVPN gateways; read-only).",
                         no_args_is_help=True)  # fmt: skip

    @remote.command("list")
    def list_remote(
        network: Annotated[str | None, typer.Option("--network", help="Only this network.")] = None,
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
        as_json: AsJson = False,
    ) -> None:  # fmt: skip
        """List remote endpoints."""
        client = _client(url, token, token_file)
        rows = _run(lambda: remote_rows(client, None if network is None else [network]))
        _show(as_json, "remote endpoints", rows, REMOTE_COLUMNS)

    app.add_typer(remote, name="remote-endpoint")
