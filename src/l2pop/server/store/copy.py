"""Copy a SQLite store into etcd (``l2pop store copy``): the move to replicas.

Every record is copied as it is, index records included (they carry the
uniqueness of VNIs, MACs, IPs and tunnel IPs), in transactions of at most
:data:`BATCH` puts that each require the key to be absent. The target prefix
must be empty, and no server may be running on either side while copying.

The change log is not copied: revisions restart with etcd's numbering. So that
no agent resumes a watch with a SQLite revision that happens to exist in etcd,
etcd's history is compacted at the end of the copy: every older revision is
``410 Gone`` and the agents list their state again (the same state).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from l2pop.errors import ConflictError, ValidationError
from l2pop.server.store.base import ABSENT, JSON, Put
from l2pop.server.store.etcd import EtcdStore

__all__ = [
    "BATCH",
    "MAX_BUMP",
    "CopyReport",
    "copy_sqlite_to_etcd",
    "read_sqlite_records",
    "sqlite_revision",
]

# etcd refuses transactions of more than --max-txn-ops (default 128) ops; each
# batch adds the store's own txn key.
BATCH = 100
# Empty transactions that may follow a copy to move etcd's head past the source's
# revision; beyond it a young etcd keeps a (narrow) chance of a coincidence.
MAX_BUMP = 10_000


@dataclass
class CopyReport:
    records: Counter[str] = field(default_factory=Counter)
    transactions: int = 0
    revision: int = 0


def read_sqlite_records(path: Path) -> list[tuple[str, str, JSON]]:
    """Every record of an l2pop SQLite database (read-only), index records included."""
    if not path.is_file():
        raise ValidationError("--from", str(path), "no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ValidationError("--from", str(path), f"cannot open: {exc}") from None
    try:
        rows = conn.execute("SELECT kind, key, value FROM records ORDER BY kind, key").fetchall()
    except sqlite3.Error as exc:
        raise ValidationError("--from", str(path), f"not an l2pop database: {exc}") from None
    finally:
        conn.close()
    return [(str(kind), str(key), json.loads(value)) for kind, key, value in rows]


def sqlite_revision(path: Path) -> int:
    """The revision of an l2pop SQLite database (read-only; 0 when unreadable)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


async def copy_sqlite_to_etcd(
    records: list[tuple[str, str, JSON]], target: EtcdStore, past: int = 0
) -> CopyReport:
    """Copy ``records`` (:func:`read_sqlite_records`) into the started, empty
    ``target``; compact etcd's history after it.

    ``past`` is the source's revision: an agent may hold any revision up to it.
    The compaction makes every revision before the head ``410``, and one above
    it is ``400``, but an agent holding exactly etcd's head would resume there
    with another store's state; so while the head is not past ``past`` (a
    young etcd), empty transactions move it on (at most :data:`MAX_BUMP`).
    """
    if await target.count_keys() != 0:
        raise ConflictError(
            f"etcd prefix {target.layout.prefix} is not empty: copy into an empty prefix only"
        )
    report = CopyReport()
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        change = await target.commit([Put(kind, key, value, ABSENT) for kind, key, value in batch])
        report.transactions += 1
        report.revision = change.revision
        report.records.update(kind for kind, _, _ in batch)
    for _ in range(MAX_BUMP):
        if report.revision > past:
            break
        report.revision = (await target.commit([])).revision
    if report.revision:
        await target.compact(report.revision)
    return report
