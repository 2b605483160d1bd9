"""The ``l2pop`` command. Each part registers its own sub-commands.

Part modules import their heavy dependencies (FastAPI, pyroute2) inside the
command functions, so ``l2pop --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from l2pop import __version__

__all__ = ["build_app", "main"]

# Modules that expose ``register(app: typer.Typer) -> None``; a part that is
# not built yet is simply absent.
PART_MODULES = (
    "l2pop.server.cli",
    "l2pop.admin.cli",
    "l2pop.admin.explain_cli",
    "l2pop.agent.cli",
    "l2pop.evpn.cli",
    "l2pop.lab.cli",
    "l2pop.sim.cli",
    "l2pop.bench.cli",
    "l2pop.store_cli",
    "l2pop.config_cli",
    "l2pop.pki_cli",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"l2pop {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="l2pop",
        help="L2 population control plane for Linux VXLAN overlays: "
        "server, agent, lab demo and benchmarks.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        """L2 population for VXLAN: no ARP flooding, no data-plane learning."""

    for name in PART_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only "this part is not there" is tolerated, never a broken import inside it.
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue
        module.register(app)
    from l2pop.config_cli import describe_config

    describe_config(app)
    return app


def main() -> None:
    from l2pop.config_cli import expand_config

    app = build_app()
    # --config FILE of server/agent/evpn becomes the file's flags, before the user's.
    app(args=expand_config(app, sys.argv[1:]))
