"""The schema marker of a SQLite store: two rows of its ``meta`` table.

Release 0.1.0 reads only its own ``meta`` rows (revision, compacted), so the
marker rows do not disturb it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from l2pop.server.store.schema import SCHEMA_VERSION, Marker, upgrade

__all__ = ["check_sqlite_schema", "migrate_sqlite", "read_marker"]


def read_marker(conn: sqlite3.Connection) -> Marker | None:
    rows = dict(
        conn.execute(
            "SELECT name, value FROM meta WHERE name IN ('schema', 'schema_readable_from')"
        ).fetchall()
    )
    if "schema" not in rows:
        return None
    return Marker(int(rows["schema"]), int(rows.get("schema_readable_from", 1)))


def migrate_sqlite(conn: sqlite3.Connection, where: str) -> None:
    """Check the marker and migrate, in one transaction; SchemaError when refused."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        marker = upgrade(read_marker(conn), where)
        if marker is not None:
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("schema", marker.version), ("schema_readable_from", marker.readable_from)],
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def check_sqlite_schema(path: Path) -> None:
    """Before serving: SchemaError when ``path`` is a store this l2pop cannot serve."""
    if not path.is_file():
        return  # a new store
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        stored = read_marker(conn) if has_meta else None
    except sqlite3.Error:
        return  # not readable as ours: the store's own open says why
    finally:
        conn.close()
    if stored is not None and stored.readable_from > SCHEMA_VERSION:
        upgrade(stored, str(path))  # raises, with the message
