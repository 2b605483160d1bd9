"""``l2pop store backup`` / ``restore``: every record of a store, in one file, online.

A backup is JSON lines: a header (format, l2pop version, schema, the source's
revision, the record count), then one ``{"kind", "key", "value"}`` per record,
index records included (they carry the uniqueness of VNIs, MACs, IPs). It is
read as one consistent snapshot while servers keep running: a SQLite read
transaction (WAL), an etcd range at one revision. Either store's backup
restores into either store.

A restore writes into an empty store only. The change log is not restored: so
that no agent resumes a watch from a revision of the lost store, the restored
store starts its revisions :data:`REVISION_GAP` past the backup's and has no
history before that (SQLite), or is compacted at its head (etcd, as ``store
copy``); every agent then lists its state again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aetcd import rpc

from l2pop import __version__
from l2pop.errors import ConflictError, ValidationError
from l2pop.server.store.base import JSON
from l2pop.server.store.etcd_client import EtcdClient, EtcdCredentials
from l2pop.server.store.etcd_codec import Layout, prefix_end
from l2pop.server.store.schema import CURRENT, SCHEMA_VERSION, Marker, SchemaError
from l2pop.server.store.sqlite_schema import read_marker

__all__ = [
    "FORMAT",
    "REVISION_GAP",
    "Backup",
    "read_backup",
    "read_etcd",
    "read_sqlite",
    "restore_sqlite",
    "write_backup",
]

FORMAT = "l2pop-backup/1"
REVISION_GAP = 1_000_000
PAGE = 1000
TIMEOUT_S = 10.0

Record = tuple[str, str, JSON]


@dataclass(frozen=True, slots=True)
class Backup:
    revision: int  # the source's revision at the snapshot
    marker: Marker  # the source's schema
    source: str
    records: list[Record]


def read_sqlite(path: Path) -> Backup:
    """A consistent snapshot of a SQLite store, served or not (read-only, WAL)."""
    if not path.is_file():
        raise ValidationError("--db", str(path), "no such file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one read transaction: one snapshot of records and revision
        rows = conn.execute("SELECT kind, key, value FROM records ORDER BY kind, key").fetchall()
        revision = int(conn.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()[0])
        marker = read_marker(conn) or Marker(1, 1)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise ValidationError("--db", str(path), f"not an l2pop database: {exc}") from None
    finally:
        conn.close()
    records = [(str(k), str(key), json.loads(v)) for k, key, v in rows]
    return Backup(revision, marker, f"sqlite:{path}", records)


async def read_etcd(endpoints: str, credentials: EtcdCredentials, prefix: str) -> Backup:
    """A consistent snapshot of an etcd store: every record key, ranged at one revision."""
    layout = Layout(prefix)
    client = EtcdClient(endpoints, credentials)
    try:
        start = f"{prefix}r/".encode()
        end = prefix_end(start)
        records: list[Record] = []
        revision = 0
        while True:
            page = await client.call(
                "kv",
                "Range",
                rpc.RangeRequest(key=start, range_end=end, limit=PAGE, revision=revision),
                within=TIMEOUT_S,
            )
            revision = revision or int(page.header.revision)
            for kv in page.kvs:
                parsed = layout.parse(bytes(kv.key))
                if parsed is not None:
                    records.append((parsed[0], parsed[1], json.loads(kv.value)))
            if not page.more:
                break
            start = bytes(page.kvs[-1].key) + b"\x00"
        got = await client.call(
            "kv",
            "Range",
            rpc.RangeRequest(key=f"{prefix}schema".encode(), revision=revision),
            within=TIMEOUT_S,
        )
        marker = Marker.decode(bytes(got.kvs[0].value)) if got.kvs else Marker(1, 1)
    finally:
        await client.close()
    return Backup(revision, marker, f"etcd:{prefix}", records)


def write_backup(backup: Backup, path: Path) -> None:
    """Write atomically (a temporary file, fsync, rename): a crash leaves no half file."""
    header = {
        "format": FORMAT,
        "l2pop": __version__,
        "schema": backup.marker.version,
        "readable_from": backup.marker.readable_from,
        "revision": backup.revision,
        "source": backup.source,
        "records": len(backup.records),
    }
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as out:
        out.write(json.dumps(header) + "\n")
        for kind, key, value in backup.records:
            out.write(json.dumps({"kind": kind, "key": key, "value": value}) + "\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def _lines(path: Path) -> Iterator[Any]:
    with path.open() as f:
        for number, line in enumerate(f, start=1):
            try:
                yield json.loads(line)
            except ValueError:
                raise ValidationError("backup", f"{path}:{number}", "not a JSON line") from None


def read_backup(path: Path) -> Backup:
    """A backup file, checked: format, schema this l2pop can serve, complete."""
    if not path.is_file():
        raise ValidationError("backup", str(path), "no such file")
    lines = _lines(path)
    header = next(lines, None)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValidationError("backup", str(path), f"not an l2pop backup ({FORMAT})")
    try:
        marker = Marker(int(header["schema"]), int(header["readable_from"]))
        revision, count, source = int(header["revision"]), int(header["records"]), header["source"]
    except (KeyError, TypeError, ValueError):
        raise ValidationError("backup", str(path), "the header lacks a field") from None
    if marker.readable_from > SCHEMA_VERSION:
        raise SchemaError(
            f"backup {path} has schema {marker.version}, which needs an l2pop of schema "
            f"{marker.readable_from} or later; this l2pop knows {SCHEMA_VERSION}"
        )
    records: list[Record] = []
    for item in lines:
        if not isinstance(item, dict) or not {"kind", "key", "value"} <= set(item):
            raise ValidationError("backup", str(path), f"bad record line {item!r:.100}")
        records.append((str(item["kind"]), str(item["key"]), item["value"]))
    if len(records) != count:
        why = f"{len(records)} records, the header says {count}: the file is cut short"
        raise ValidationError("backup", str(path), why)
    return Backup(revision, marker, str(source), records)


def restore_sqlite(backup: Backup, path: Path) -> int:
    """Write ``backup`` into a new or empty SQLite store (no server on it); its revision."""
    from l2pop.server.store.sqlite import SCHEMA
    from l2pop.server.store.sqlite_schema import migrate_sqlite

    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        migrate_sqlite(conn, str(path))
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT count(*) FROM records").fetchone()[0]:
                raise ConflictError(f"{path} holds records: restore into an empty store only")
            head = max(backup.revision, _meta(conn, "revision")) + REVISION_GAP
            conn.executemany(
                "INSERT INTO records VALUES (?, ?, ?, ?)",
                [(k, key, json.dumps(v), head) for k, key, v in backup.records],
            )
            conn.execute("DELETE FROM changes")
            conn.executemany(
                "UPDATE meta SET value = ? WHERE name = ?",
                [(head, "revision"), (head, "compacted")],
            )
            if backup.marker.version > CURRENT.version:
                conn.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [("schema", backup.marker.version),
                     ("schema_readable_from", backup.marker.readable_from)],
                )  # fmt: skip
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return head


def _meta(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])
