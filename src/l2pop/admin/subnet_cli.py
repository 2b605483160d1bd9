"""``l2pop subnet create|list|show|delete``: subnets (Neutron v2.0 API) from the admin CLI."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from l2pop.admin.cli import DEFAULT_URL, AsJson, Token, TokenFile, Url, _client, _run, _show

__all__ = ["register_subnets"]

SUBNET_COLUMNS = [("id", "id"), ("name", "name"), ("network", "network_id"), ("cidr", "cidr"),
                  ("gateway", "gateway_ip")]  # fmt: skip


def _pools(values: list[str]) -> list[dict[str, str]]:
    pools = []
    for value in values:
        start, sep, end = value.partition(",")
        if not sep:
            raise typer.BadParameter(f"--pool {value!r}: give START,END")
        pools.append({"start": start, "end": end})
    return pools


def register_subnets(app: typer.Typer) -> None:
    """Add the ``subnet`` group to ``app``."""
    subnet = typer.Typer(help="Subnets and their address pools (Neutron v2.0 API).",
                         no_args_is_help=True)  # fmt: skip

    @subnet.command("create")
    def create(
        network: Annotated[str, typer.Option("--network", help="Network id.")],
        cidr: Annotated[str, typer.Option("--cidr", help="Subnet range, e.g. 10.0.0.0/24.")],
        name: Annotated[str, typer.Option(help="Subnet name.")] = "",
        gateway: Annotated[
            str | None, typer.Option(help="Gateway address, or 'none'; default the first host.")
        ] = None,
        pool: Annotated[
            list[str] | None, typer.Option("--pool", help="Allocation pool START,END (repeat).")
        ] = None,
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
        as_json: AsJson = False,
    ) -> None:  # fmt: skip
        """Create a subnet; ports created without addresses get theirs from it."""
        fields: dict[str, Any] = {"network_id": network, "cidr": cidr, "name": name}
        fields["ip_version"] = 6 if ":" in cidr else 4
        if gateway is not None:
            fields["gateway_ip"] = None if gateway.lower() == "none" else gateway
        if pool:
            fields["allocation_pools"] = _pools(pool)
        client = _client(url, token, token_file)
        body = {"subnet": fields}
        answer = _run(lambda: client.call("POST", "/v2.0/subnets", body))
        _show(as_json, "subnet", answer["subnet"])

    @subnet.command("list")
    def list_(
        network: Annotated[str | None, typer.Option(help="Only this network.")] = None,
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
        as_json: AsJson = False,
    ) -> None:  # fmt: skip
        """List subnets."""
        client = _client(url, token, token_file)
        params = {"network_id": network}
        answer = _run(lambda: client.call("GET", "/v2.0/subnets", params=params))
        _show(as_json, "subnets", answer["subnets"], SUBNET_COLUMNS)

    @subnet.command("show")
    def show(subnet_id: str, url: Url = DEFAULT_URL, token: Token = None,
             token_file: TokenFile = None, as_json: AsJson = False) -> None:  # fmt: skip
        """Show one subnet."""
        client = _client(url, token, token_file)
        answer = _run(lambda: client.call("GET", f"/v2.0/subnets/{subnet_id}"))
        _show(as_json, "subnet", answer["subnet"])

    @subnet.command("delete")
    def delete(subnet_id: str, url: Url = DEFAULT_URL, token: Token = None,
               token_file: TokenFile = None) -> None:  # fmt: skip
        """Delete a subnet (no port may hold an address from it)."""
        client = _client(url, token, token_file)
        _run(lambda: client.call("DELETE", f"/v2.0/subnets/{subnet_id}"))
        typer.echo(f"deleted subnet {subnet_id}")

    app.add_typer(subnet, name="subnet")
