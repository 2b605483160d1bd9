"""``l2pop store copy --from sqlite:PATH --to etcd:HOSTS``: move a deployment to etcd."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l2pop.errors import ValidationError
from l2pop.server.process.etcd_options import EtcdCa, EtcdCert, EtcdKey, EtcdPasswordFile, EtcdUser

__all__ = ["parse_source", "parse_target", "register"]


def parse_source(value: str) -> Path:
    scheme, sep, rest = value.partition(":")
    if scheme != "sqlite" or not sep or not rest:
        raise ValidationError("--from", value, "expected sqlite:PATH")
    return Path(rest)


def parse_target(value: str) -> str:
    scheme, sep, rest = value.partition(":")
    if scheme != "etcd" or not sep or not rest:
        raise ValidationError("--to", value, "expected etcd:HOST:PORT[,HOST:PORT...]")
    return rest


def register(app: typer.Typer) -> None:
    store = typer.Typer(
        name="store", help="Store maintenance: copy SQLite into etcd, backup, restore."
    )

    @store.command("copy")
    def copy(
        source: Annotated[
            str, typer.Option("--from", help="sqlite:PATH of a stopped server's database.")
        ],
        target: Annotated[
            str, typer.Option("--to", help="etcd:HOST:PORT,... (or etcd:https://HOST:PORT,...).")
        ],
        etcd_ca: EtcdCa = None,
        etcd_cert: EtcdCert = None,
        etcd_key: EtcdKey = None,
        etcd_user: EtcdUser = None,
        etcd_password_file: EtcdPasswordFile = None,
        etcd_prefix: Annotated[
            str, typer.Option("--etcd-prefix", help="Key prefix in etcd (must be empty).")
        ] = "/l2pop/",
    ) -> None:
        """Copy every record of a SQLite store into an empty etcd prefix (servers stopped)."""
        import asyncio

        from l2pop.errors import L2popError
        from l2pop.server.store.copy import (
            copy_sqlite_to_etcd,
            read_sqlite_records,
            sqlite_revision,
        )
        from l2pop.server.store.etcd import EtcdStore

        async def run() -> str:
            path, endpoints = parse_source(source), parse_target(target)
            records = read_sqlite_records(path)  # before connecting: a bad file fails fast
            store = EtcdStore(
                endpoints, ca=etcd_ca, cert=etcd_cert, key=etcd_key, user=etcd_user,
                password_file=etcd_password_file, prefix=etcd_prefix,
            )  # fmt: skip
            await store.start()
            try:
                report = await copy_sqlite_to_etcd(records, store, sqlite_revision(path))
            finally:
                await store.close()
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.records.items())) or "nothing"
            return (
                f"copied {kinds} in {report.transactions} transactions; etcd at revision "
                f"{report.revision}, history compacted there (agents list again)"
            )

        try:
            typer.echo(asyncio.run(run()))
        except (L2popError, ValueError, OSError) as exc:
            typer.echo(f"l2pop store copy: {exc}", err=True)
            raise typer.Exit(2) from None

    from l2pop.store_backup_cli import add_backup_commands

    add_backup_commands(store)
    app.add_typer(store)
