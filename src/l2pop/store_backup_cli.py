"""``l2pop store backup FILE`` and ``l2pop store restore FILE`` (either store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l2pop.server.process.etcd_options import EtcdCa, EtcdCert, EtcdKey, EtcdPasswordFile, EtcdUser

__all__ = ["add_backup_commands"]

Db = Annotated[Path | None, typer.Option("--db", help="SQLite database file.")]
Etcd = Annotated[
    str | None,
    typer.Option(
        "--etcd", help="etcd endpoints host:port or http(s)://host:port, comma-separated."
    ),
]
Prefix = Annotated[str, typer.Option("--etcd-prefix", help="Key prefix in etcd.")]


def _one_store(db: Path | None, etcd: str | None) -> None:
    if (db is None) == (etcd is None):
        raise typer.BadParameter("give one store: --db PATH or --etcd HOSTS")


def add_backup_commands(store: typer.Typer) -> None:
    @store.command("backup")
    def backup(
        file: Annotated[Path, typer.Argument(help="The backup file to write (JSON lines).")],
        db: Db = None,
        etcd: Etcd = None,
        etcd_ca: EtcdCa = None,
        etcd_cert: EtcdCert = None,
        etcd_key: EtcdKey = None,
        etcd_user: EtcdUser = None,
        etcd_password_file: EtcdPasswordFile = None,
        etcd_prefix: Prefix = "/l2pop/",
    ) -> None:
        """Write every record of a store to FILE, while its servers keep serving."""
        import asyncio

        from l2pop.errors import L2popError
        from l2pop.server.store.backup import read_etcd, read_sqlite, write_backup
        from l2pop.server.store.etcd_client import EtcdCredentials

        _one_store(db, etcd)
        try:
            if db is not None:
                snapshot = read_sqlite(db)
            else:
                assert etcd is not None
                creds = EtcdCredentials(etcd_ca, etcd_cert, etcd_key, etcd_user, etcd_password_file)
                snapshot = asyncio.run(read_etcd(etcd, creds, etcd_prefix))
            write_backup(snapshot, file)
        except (L2popError, OSError) as exc:
            typer.echo(f"l2pop store backup: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(
            f"backed up {len(snapshot.records)} records of {snapshot.source} at revision "
            f"{snapshot.revision} (schema {snapshot.marker.version}) to {file}"
        )

    @store.command("restore")
    def restore(
        file: Annotated[Path, typer.Argument(help="A file written by `l2pop store backup`.")],
        db: Db = None,
        etcd: Etcd = None,
        etcd_ca: EtcdCa = None,
        etcd_cert: EtcdCert = None,
        etcd_key: EtcdKey = None,
        etcd_user: EtcdUser = None,
        etcd_password_file: EtcdPasswordFile = None,
        etcd_prefix: Prefix = "/l2pop/",
    ) -> None:
        """Write a backup into an EMPTY store: a new SQLite file (no server on it), or an
        etcd prefix without records (its servers may run: they follow). Agents list again."""
        import asyncio

        from l2pop.errors import L2popError
        from l2pop.server.store.backup import read_backup, restore_sqlite
        from l2pop.server.store.copy import copy_sqlite_to_etcd
        from l2pop.server.store.etcd import EtcdStore

        _one_store(db, etcd)

        async def to_etcd(records: list[tuple[str, str, object]], past: int) -> int:
            target = EtcdStore(
                etcd or "", ca=etcd_ca, cert=etcd_cert, key=etcd_key, user=etcd_user,
                password_file=etcd_password_file, prefix=etcd_prefix,
            )  # fmt: skip
            await target.start()
            try:
                report = await copy_sqlite_to_etcd(records, target, past)  # type: ignore[arg-type]
            finally:
                await target.close()
            return report.revision

        try:
            snapshot = read_backup(file)
            if db is not None:
                revision = restore_sqlite(snapshot, db)
            else:
                revision = asyncio.run(to_etcd(list(snapshot.records), snapshot.revision))
        except (L2popError, OSError, ValueError) as exc:
            typer.echo(f"l2pop store restore: {exc}", err=True)
            raise typer.Exit(2) from None
        where = db if db is not None else f"etcd {etcd_prefix}"
        typer.echo(
            f"restored {len(snapshot.records)} records of {snapshot.source} into {where} "
            f"at revision {revision}; agents list their state again"
        )
