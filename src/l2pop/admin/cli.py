"""``l2pop network|subnet|port|host ...`` and ``l2pop state HOST``: the admin CLI.

Server URL and token come from ``--url``/``--token`` or ``L2POP_URL``/``L2POP_TOKEN``
(``--token-file``/``L2POP_TOKEN_FILE`` reads it from a file).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from l2pop.tlsclient import CaFileOption

__all__ = ["register"]

Url = Annotated[
    str, typer.Option("--url", envvar="L2POP_URL", help="Server URL.")
]  # fmt: skip
Token = Annotated[str | None, typer.Option("--token", envvar="L2POP_TOKEN", help="Admin token.")]
TokenFile = Annotated[
    Path | None,
    typer.Option("--token-file", envvar="L2POP_TOKEN_FILE", help="File with the admin token."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DEFAULT_URL = "http://127.0.0.1:9696"
T = TypeVar("T")

NETWORK_COLUMNS = [("id", "id"), ("name", "name"), ("vni", "provider:segmentation_id"),
                   ("mtu", "mtu"), ("status", "status")]  # fmt: skip
PORT_COLUMNS = [("id", "id"), ("name", "name"), ("network", "network_id"),
                ("mac", "mac_address"), ("ips", "ips"), ("host", "binding:host_id"),
                ("status", "status")]  # fmt: skip
HOST_COLUMNS = [("name", "name"), ("tunnel ip", "tunnel_ip"), ("created", "created_at"),
                ("last seen", "last_seen")]  # fmt: skip


def _client(
    url: str, token: str | None, token_file: Path | None, ca_file: Path | None = None
) -> Any:
    """The admin client; a client certificate (rarely needed: the admin token needs
    none) comes from ``L2POP_CERT``/``L2POP_KEY``."""
    from l2pop.admin.client import AdminClient
    from l2pop.errors import ValidationError
    from l2pop.secretfile import read_secret
    from l2pop.tlsclient import ClientTls

    if token is None and token_file is not None:
        try:
            token = read_secret(token_file, "admin token")
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {token_file}: {exc}") from None
    if not token:
        raise typer.BadParameter("no admin token: pass --token or set L2POP_TOKEN")
    cert, key = os.environ.get("L2POP_CERT"), os.environ.get("L2POP_KEY")
    try:
        tls = ClientTls(ca_file, Path(cert) if cert else None, Path(key) if key else None)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    return AdminClient(url, token, tls=tls)


def _run(action: Callable[[], T]) -> T:
    """Run ``action``; a server error becomes a one-line message and exit code 1."""
    from l2pop.admin.client import AdminError

    try:
        return action()
    except AdminError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _port_rows(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**p, "ips": [ip["ip_address"] for ip in p["fixed_ips"]]} for p in ports]


def _show(
    as_json: bool, title: str, value: Any, columns: list[tuple[str, str]] | None = None
) -> None:
    from l2pop.admin.render import show_json, show_record, show_table

    if as_json:
        show_json(value)
    elif columns is not None:
        show_table(title, value, columns)
    else:
        show_record(title, value)


def _network_commands(net: typer.Typer) -> None:
    @net.command("create")
    def create(
        name: Annotated[str, typer.Option(help="Network name.")] = "",
        vni: Annotated[int | None, typer.Option(help="VNI; default: lowest free.")] = None,
        mtu: Annotated[int | None, typer.Option(help="MTU [1450].")] = None,
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
        ca_file: CaFileOption = None,
        as_json: AsJson = False,
    ) -> None:  # fmt: skip
        """Create a VXLAN network."""
        fields: dict[str, Any] = {"name": name}
        if vni is not None:
            fields["provider:segmentation_id"] = vni
        if mtu is not None:
            fields["mtu"] = mtu
        client = _client(url, token, token_file, ca_file)
        _show(as_json, "network", _run(lambda: client.create_network(fields)))

    @net.command("list")
    def list_(url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
              ca_file: CaFileOption = None,
              as_json: AsJson = False) -> None:  # fmt: skip
        """List networks."""
        client = _client(url, token, token_file, ca_file)
        _show(as_json, "networks", _run(client.networks), NETWORK_COLUMNS)

    @net.command("show")
    def show(network_id: str, url: Url = DEFAULT_URL, token: Token = None,
             token_file: TokenFile = None,
             ca_file: CaFileOption = None, as_json: AsJson = False) -> None:  # fmt: skip
        """Show one network."""
        client = _client(url, token, token_file, ca_file)
        _show(as_json, "network", _run(lambda: client.network(network_id)))

    @net.command("delete")
    def delete(network_id: str, url: Url = DEFAULT_URL, token: Token = None,
               token_file: TokenFile = None, ca_file: CaFileOption = None) -> None:  # fmt: skip
        """Delete a network (it must have no ports)."""
        client = _client(url, token, token_file, ca_file)
        _run(lambda: client.delete_network(network_id))
        typer.echo(f"deleted network {network_id}")


def _pairs(values: list[str]) -> list[dict[str, str]]:
    out = []
    for value in values:
        ip, _, mac = value.partition(",")
        out.append({"ip_address": ip, **({"mac_address": mac} if mac else {})})
    return out


def _port_commands(port: typer.Typer) -> None:
    @port.command("create")
    def create(
        network: Annotated[str, typer.Option("--network", help="Network id.")],
        name: Annotated[str, typer.Option(help="Port name.")] = "",
        mac: Annotated[str | None, typer.Option(help="MAC; default fa:16:3e:xx:xx:xx.")] = None,
        ip: Annotated[list[str] | None, typer.Option("--ip", help="Fixed IP (repeat).")] = None,
        subnet: Annotated[
            list[str] | None,
            typer.Option("--subnet", help="Take the next free address of this subnet (repeat)."),
        ] = None,
        pair: Annotated[
            list[str] | None, typer.Option("--pair", help="Allowed pair IP[,MAC] (repeat).")
        ] = None,
        host: Annotated[str | None, typer.Option(help="Bind to this host.")] = None,
        device_id: Annotated[str, typer.Option(help="Device (VM) id.")] = "",
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
        ca_file: CaFileOption = None,
        as_json: AsJson = False,
    ) -> None:  # fmt: skip
        """Create a port."""
        fields: dict[str, Any] = {"network_id": network, "name": name, "device_id": device_id}
        if mac:
            fields["mac_address"] = mac
        if ip or subnet:
            # Neither: the server picks one address per IP version from the subnets.
            fields["fixed_ips"] = [{"ip_address": a} for a in ip or []]
            fields["fixed_ips"] += [{"subnet_id": s} for s in subnet or []]
        if pair:
            fields["allowed_address_pairs"] = _pairs(pair)
        if host:
            fields["binding:host_id"] = host
        client = _client(url, token, token_file, ca_file)
        _show(as_json, "port", _run(lambda: client.create_port(fields)))

    @port.command("list")
    def list_(
        network: Annotated[str | None, typer.Option(help="Only this network.")] = None,
        host: Annotated[str | None, typer.Option(help="Only ports bound to this host.")] = None,
        status: Annotated[str | None, typer.Option(help="DOWN, BUILD or ACTIVE.")] = None,
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
        ca_file: CaFileOption = None,
        as_json: AsJson = False,
    ) -> None:  # fmt: skip
        """List ports."""
        client = _client(url, token, token_file, ca_file)
        filters = {"network_id": network, "binding:host_id": host, "status": status}
        ports = _run(lambda: client.ports(**filters))
        _show(as_json, "ports", ports if as_json else _port_rows(ports), PORT_COLUMNS)

    @port.command("show")
    def show(port_id: str, url: Url = DEFAULT_URL, token: Token = None,
             token_file: TokenFile = None,
             ca_file: CaFileOption = None, as_json: AsJson = False) -> None:  # fmt: skip
        """Show one port."""
        client = _client(url, token, token_file, ca_file)
        _show(as_json, "port", _run(lambda: client.port(port_id)))

    @port.command("bind")
    def bind(port_id: str, host: str, url: Url = DEFAULT_URL, token: Token = None,
             token_file: TokenFile = None,
             ca_file: CaFileOption = None, as_json: AsJson = False) -> None:  # fmt: skip
        """Bind a port to a host (BUILD until its agent reports it up)."""
        client = _client(url, token, token_file, ca_file)
        fields = {"binding:host_id": host}
        _show(as_json, "port", _run(lambda: client.update_port(port_id, fields)))

    @port.command("unbind")
    def unbind(port_id: str, url: Url = DEFAULT_URL, token: Token = None,
               token_file: TokenFile = None,
               ca_file: CaFileOption = None, as_json: AsJson = False) -> None:  # fmt: skip
        """Unbind a port (DOWN)."""
        client = _client(url, token, token_file, ca_file)
        fields = {"binding:host_id": ""}
        _show(as_json, "port", _run(lambda: client.update_port(port_id, fields)))

    @port.command("delete")
    def delete(port_id: str, url: Url = DEFAULT_URL, token: Token = None,
               token_file: TokenFile = None, ca_file: CaFileOption = None) -> None:  # fmt: skip
        """Delete a port."""
        client = _client(url, token, token_file, ca_file)
        _run(lambda: client.delete_port(port_id))
        typer.echo(f"deleted port {port_id}")


def _write_secret(path: Path, secret: str) -> None:
    from l2pop.secretfile import write_secret

    write_secret(path, secret)  # 0600, also when the file existed


def _host_commands(host: typer.Typer) -> None:
    @host.command("add")
    def add(
        name: str, tunnel_ip: str,
        save_token: Annotated[
            Path | None, typer.Option("--save-token", help="Write the host token here (0600).")
        ] = None,
        url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
        ca_file: CaFileOption = None,
        as_json: AsJson = False,
    ) -> None:  # fmt: skip
        """Register a host; prints (or saves) its token, shown only once."""
        client = _client(url, token, token_file, ca_file)
        answer = _run(lambda: client.add_host(name, tunnel_ip))
        if save_token is not None:
            _write_secret(save_token, answer["token"])
        if as_json:
            _show(True, "host", answer)
            return
        _show(False, "host", answer["host"])
        if save_token is None:
            typer.echo(f"token: {answer['token']}")
        else:
            typer.echo(f"token written to {save_token}")

    @host.command("list")
    def list_(url: Url = DEFAULT_URL, token: Token = None, token_file: TokenFile = None,
              ca_file: CaFileOption = None,
              as_json: AsJson = False) -> None:  # fmt: skip
        """List registered hosts."""
        client = _client(url, token, token_file, ca_file)
        _show(as_json, "hosts", _run(client.hosts), HOST_COLUMNS)

    @host.command("delete")
    def delete(name: str, url: Url = DEFAULT_URL, token: Token = None,
               token_file: TokenFile = None, ca_file: CaFileOption = None) -> None:  # fmt: skip
        """Unregister a host: its ports go DOWN, its token stops working."""
        client = _client(url, token, token_file, ca_file)
        _run(lambda: client.delete_host(name))
        typer.echo(f"deleted host {name}")


def _state_command(app: typer.Typer) -> None:
    @app.command("state")
    def state(host: str, url: Url = DEFAULT_URL, token: Token = None,
              token_file: TokenFile = None,
              ca_file: CaFileOption = None, as_json: AsJson = False) -> None:  # fmt: skip
        """Show the desired forwarding state of HOST (what its agent programs)."""
        from l2pop.admin.render import show_table

        client = _client(url, token, token_file, ca_file)
        answer = _run(lambda: client.state(host))
        if as_json:
            _show(True, "state", answer)
            return
        typer.echo(f"host {answer['host']} at revision {answer['revision']}")
        columns = [c for c in PORT_COLUMNS if c[0] != "host"]
        show_table("ports", _port_rows(answer["ports"]), columns)
        rows = []
        for net_id, net in answer["networks"].items():
            for kind in ("flood", "unicast", "neigh"):
                for entry in net[kind]:
                    rows.append(
                        {"network": net_id, "vni": net["vni"], "kind": kind, "entry": entry}
                    )
        show_table("entries", rows, [("network", "network"), ("vni", "vni"), ("kind", "kind"),
                                     ("entry", "entry")])  # fmt: skip
        from l2pop.admin.evpn_cli import REMOTE_COLUMNS, remote_rows

        remote = _run(lambda: remote_rows(client, list(answer["networks"])))
        if remote:  # imported by EVPN gateways: part of the entries above
            show_table("remote endpoints", remote, REMOTE_COLUMNS)


def register(app: typer.Typer) -> None:
    groups = (
        ("network", "Networks (Neutron v2.0 API).", _network_commands),
        ("port", "Ports (Neutron v2.0 API).", _port_commands),
        ("host", "Hosts (agents) and their tokens.", _host_commands),
    )
    for name, help_text, add in groups:
        group = typer.Typer(help=help_text, no_args_is_help=True)
        add(group)
        app.add_typer(group, name=name)
    from l2pop.admin.subnet_cli import register_subnets

    register_subnets(app)
    _state_command(app)
    from l2pop.admin import evpn_cli

    evpn_cli.register(app)
