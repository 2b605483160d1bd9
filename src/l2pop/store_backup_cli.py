"""``l2pop store backup FILE`` and ``l2pop store restore FILE`` (either store).

Both commands take the same options (one store: ``--db`` or ``--etcd`` with its
credentials and prefix), so they are built by one factory from the action
each runs; an action gets the file and a :class:`StoreAt` and returns the
line to print.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2pop.server.process.etcd_options import (
    EtcdCa,
    EtcdCert,
    EtcdKey,
    EtcdPasswordFile,
    EtcdUser,
)

if TYPE_CHECKING:  # imported when a command runs: grpc is slow to import for every CLI call
    from l2pop.server.store.etcd_client import EtcdCredentials

__all__ = ["StoreAt", "add_backup_commands"]

BackupFile = Annotated[
    Path, typer.Argument(help="The backup file (JSON lines): written by backup, read by restore.")
]
Db = Annotated[Path | None, typer.Option("--db", help="SQLite database file.")]
Etcd = Annotated[
    str | None,
    typer.Option(
        "--etcd", help="etcd endpoints host:port or http(s)://host:port, comma-separated."
    ),
]
Prefix = Annotated[str, typer.Option("--etcd-prefix", help="Key prefix in etcd.")]


@dataclass(frozen=True, slots=True)
class StoreAt:
    """The one store a command works on: a SQLite file, or an etcd prefix."""

    db: Path | None
    etcd: str | None
    credentials: EtcdCredentials
    prefix: str

    def __post_init__(self) -> None:
        if (self.db is None) == (self.etcd is None):
            raise typer.BadParameter("give one store: --db PATH or --etcd HOSTS")

    def __str__(self) -> str:
        return str(self.db) if self.db is not None else f"etcd {self.prefix}"


def _backup(file: Path, at: StoreAt) -> str:
    from l2pop.server.store.backup import read_etcd, read_sqlite, write_backup

    if at.db is not None:
        snapshot = read_sqlite(at.db)
    else:
        snapshot = asyncio.run(read_etcd(at.etcd or "", at.credentials, at.prefix))
    write_backup(snapshot, file)
    return (
        f"backed up {len(snapshot.records)} records of {snapshot.source} at revision "
        f"{snapshot.revision} (schema {snapshot.marker.version}) to {file}"
    )


def _restore(file: Path, at: StoreAt) -> str:
    from l2pop.server.store.backup import read_backup, restore_sqlite
    from l2pop.server.store.copy import copy_sqlite_to_etcd
    from l2pop.server.store.etcd import EtcdStore

    snapshot = read_backup(file)

    async def to_etcd() -> int:
        creds = at.credentials
        target = EtcdStore(
            at.etcd or "", ca=creds.ca, cert=creds.cert, key=creds.key, user=creds.user,
            password_file=creds.password_file, prefix=at.prefix,
        )  # fmt: skip
        await target.start()
        try:
            records = list(snapshot.records)
            report = await copy_sqlite_to_etcd(records, target, snapshot.revision)
        finally:
            await target.close()
        return report.revision

    revision = restore_sqlite(snapshot, at.db) if at.db is not None else asyncio.run(to_etcd())
    return (
        f"restored {len(snapshot.records)} records of {snapshot.source} into {at} "
        f"at revision {revision}; agents list their state again"
    )


def _command(name: str, action: Callable[[Path, StoreAt], str]) -> Callable[..., None]:
    def command(
        file: BackupFile,
        db: Db = None,
        etcd: Etcd = None,
        etcd_ca: EtcdCa = None,
        etcd_cert: EtcdCert = None,
        etcd_key: EtcdKey = None,
        etcd_user: EtcdUser = None,
        etcd_password_file: EtcdPasswordFile = None,
        etcd_prefix: Prefix = "/l2pop/",
    ) -> None:
        from l2pop.errors import L2popError
        from l2pop.server.store.etcd_client import EtcdCredentials

        credentials = EtcdCredentials(etcd_ca, etcd_cert, etcd_key, etcd_user, etcd_password_file)
        at = StoreAt(db, etcd, credentials, etcd_prefix)
        try:
            typer.echo(action(file, at))
        except (L2popError, OSError, ValueError) as exc:
            typer.echo(f"l2pop store {name}: {exc}", err=True)
            raise typer.Exit(2) from None

    return command


def add_backup_commands(store: typer.Typer) -> None:
    store.command(
        "backup", help="Write every record of a store to FILE, while its servers keep serving."
    )(_command("backup", _backup))
    store.command(
        "restore",
        help="Write a backup into an EMPTY store: a new SQLite file (no server on it), or an "
        "etcd prefix without records (its servers may run: they follow). Agents list again.",
    )(_command("restore", _restore))
