"""``l2pop lab``: lab housekeeping (``clean``; ``up``/``down``/``status`` come with the demo)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

__all__ = ["register"]

T = TypeVar("T")

DEFAULT_STATE_DIR = Path("/run/l2pop-lab")  # = l2pop.lab.registry's; not imported for speed


def register(app: typer.Typer) -> None:
    lab = typer.Typer(
        name="lab",
        help="The namespace lab: hosts and VMs as network namespaces on one underlay.",
        no_args_is_help=True,
    )

    @lab.command("clean")
    def clean(
        all_runs: Annotated[
            bool,
            typer.Option("--all", help="Also remove runs whose owner is alive and labs kept up."),
        ] = False,
        state_dir: Annotated[
            Path, typer.Option(help="Where lab runs record their owner.")
        ] = DEFAULT_STATE_DIR,
    ) -> None:
        """Remove the namespaces, links and processes left behind by crashed lab runs."""
        from l2pop.lab.registry import clean as clean_runs

        report = clean_runs(state_dir, include_live=all_runs)
        for prefix in report.prefixes:
            typer.echo(f"removed lab run {prefix}")
        typer.echo(
            f"removed {len(report.namespaces)} namespace(s), {len(report.links)} root link(s), "
            f"killed {report.killed} process(es)"
        )
        for prefix in report.skipped_live:
            typer.echo(f"kept {prefix}: its owner is alive or it was kept up (use --all)")

    @lab.command("up")
    def up(
        hosts: Annotated[int, typer.Option(min=2, max=200, help="Hosts (hypervisors).")] = 5,
        vms_per_host: Annotated[
            int | None,
            typer.Option(min=1, max=20, help="VMs per host (default: the classic A-H layout)."),
        ] = None,
        mode: Annotated[str, typer.Option(help="Agent mode: proxy or suppress.")] = "proxy",
        ipv6_underlay: Annotated[
            bool, typer.Option("--ipv6-underlay", help="VTEPs on the IPv6 underlay.")
        ] = False,
    ) -> None:
        """Start a lab (server, agents, VMs) and leave it running; prints how to use it."""
        from rich.console import Console

        from l2pop.lab.demo import DemoConfig
        from l2pop.lab.session import lab_up

        _check_mode(mode)
        console = Console()
        config = DemoConfig(hosts, vms_per_host, mode, ipv6_underlay=ipv6_underlay, keep=True)
        run = _or_exit(lambda: lab_up(config, lambda line: console.print(line, highlight=False)))
        _print_kept(run.prefix, run.info, console)

    @lab.command("status")
    def status() -> None:
        """List the lab runs on this machine (kept up, running, or left over)."""
        from l2pop.lab.session import lab_status

        runs = lab_status()
        if not runs:
            typer.echo("no lab run")
        for run in runs:
            state = "kept up" if run.persistent else "running" if run.owner_alive else "leftover"
            typer.echo(f"{run.prefix}: {state}, {run.namespaces} namespace(s)")
            for key, value in sorted(run.info.items()):
                typer.echo(f"  {key}: {value}")

    @lab.command("down")
    def down(
        prefixes: Annotated[
            list[str] | None, typer.Argument(help="Lab prefixes (default: every lab kept up).")
        ] = None,
    ) -> None:
        """Stop a lab kept up: its processes, namespaces and record."""
        from l2pop.lab.session import lab_down

        try:
            report = lab_down(list(prefixes or []))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        typer.echo(
            f"removed {', '.join(report.prefixes) or 'nothing'}: "
            f"{len(report.namespaces)} namespace(s), killed {report.killed} process(es)"
        )

    app.add_typer(lab)

    @app.command("demo")
    def demo(
        hosts: Annotated[int, typer.Option(min=2, max=200, help="Hosts (hypervisors).")] = 5,
        vms_per_host: Annotated[
            int | None,
            typer.Option(min=1, max=20, help="VMs per host (default: the classic A-H layout)."),
        ] = None,
        mode: Annotated[str, typer.Option(help="Agent mode: proxy or suppress.")] = "proxy",
        ipv6: Annotated[bool, typer.Option("--ipv6", help="VMs ping over IPv6.")] = False,
        ipv6_underlay: Annotated[
            bool, typer.Option("--ipv6-underlay", help="VTEPs on the IPv6 underlay.")
        ] = False,
        keep: Annotated[
            bool, typer.Option("--keep", help="Leave the lab up; `l2pop lab down` removes it.")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the result as JSON (progress to stderr).")
        ] = False,
        workdir: Annotated[
            Path | None, typer.Option(help="Where logs and captures go (default: a temp dir).")
        ] = None,
        evpn: Annotated[
            bool,
            typer.Option("--evpn", help="VM G's host runs FRR (BGP EVPN), joined by l2pop evpn."),
        ] = False,
    ) -> None:
        """Five hosts, VM A pings VM G: l2pop beside flood-and-learn, on real kernels."""
        import json
        import sys
        from dataclasses import asdict

        from rich.console import Console

        from l2pop.lab.demo import DemoConfig, run_demo
        from l2pop.lab.report import print_report

        _check_mode(mode)
        console = Console(stderr=as_json)
        if evpn and (keep or ipv6_underlay):
            raise typer.BadParameter("not with --keep or --ipv6-underlay", param_hint="--evpn")
        config = DemoConfig(hosts, vms_per_host, mode, ipv6, ipv6_underlay, keep, workdir)
        config = DemoConfig(**{**asdict(config), "evpn": evpn})
        result = _or_exit(
            lambda: run_demo(config, lambda line: console.print(line, highlight=False))
        )
        if as_json:
            sys.stdout.write(json.dumps(result.to_json(), indent=1) + "\n")
        else:
            print_report(result, console)
        if result.kept:
            _print_kept(result.prefix, result.kept, console)
        raise typer.Exit(0 if result.ok else 1)


def _or_exit(action: Callable[[], T]) -> T:
    """Run ``action``; a lab failure becomes a one-line message and exit status 2."""
    from l2pop.lab.shell import LabError

    try:
        return action()
    except LabError as exc:
        typer.echo(f"l2pop: {exc}", err=True)
        raise typer.Exit(2) from exc


def _check_mode(mode: str) -> None:
    if mode not in ("proxy", "suppress"):
        raise typer.BadParameter("use proxy or suppress", param_hint="--mode")


def _print_kept(prefix: str, kept: dict[str, str], console: object) -> None:
    from rich.console import Console

    assert isinstance(console, Console)
    console.print(
        f"lab {prefix} left up. Server: {kept.get('server_url')} "
        f"(admin token in {kept.get('admin_token_file')}, CA in {kept.get('ca_file') or '-'})"
    )
    if "ui_url" in kept:
        console.print(f"fabric view: {kept['ui_url']} (log in with the admin token)")
        console.print(f"explain: {kept['explain']}")
        console.print(f"  on the host, with its agent and kernel: {kept['explain_local']}")
    for key, value in sorted(kept.items()):
        if key.startswith("vm:"):
            netns = value.split()[0]
            console.print(f"  VM {key[3:]}: sudo ip netns exec {netns} bash   ({value})")
    console.print(f"remove it with: l2pop lab down {prefix}")
