"""One group commit of the SQLite store, in a handful of statements.

The writer thread shares the GIL with the event loop, and the ``sqlite3``
module gives the GIL up and takes it back around every statement: with five
statements per transaction (savepoint, read, write, change log, release) a
batch of twenty transactions waited for the GIL two hundred times, and a busy
event loop made each wait long (7 ms per batch, 2 ms of it CPU). Here a
batch reads every key it guards in one ``SELECT``, checks the guards of each
transaction in order in Python against what it read and what the batch's
earlier transactions wrote (a failed transaction is dropped before it writes
anything, so no savepoints are needed), and writes the survivors with one
``executemany`` per table.

Only ``CheckNone`` (a prefix that must be empty) reads the database on its
own; the batch's pending writes go to the database first, so the range read
sees them (SQLite reads its own uncommitted writes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from l2pop.server.store.base import (
    INDEX,
    JSON,
    ChangeRecord,
    Check,
    CheckNone,
    Op,
    PreconditionFailed,
    Put,
    ResourceChange,
    WriteFailed,
)

__all__ = ["BatchWriter"]

_Key = tuple[str, str]
_KEYS_PER_SELECT = 500  # well under SQLite's variable limit


@dataclass(slots=True)
class _Row:
    """A record as the batch sees it: value (None: absent) and mod_revision (0: absent)."""

    value: JSON | None
    mod: int
    text: str | None = None  # the stored JSON, parsed only when a before-image needs it

    def image(self) -> JSON | None:
        if self.value is None and self.text is not None:
            self.value = orjson.loads(self.text)
        return self.value


_ABSENT = _Row(None, 0)


class BatchWriter:
    """Applies a batch of transactions inside an open write transaction of ``conn``."""

    def __init__(self, conn: sqlite3.Connection, revision: int) -> None:
        self._conn = conn
        self.revision = revision
        self._read: dict[_Key, _Row] = {}
        self._dirty: dict[_Key, _Row] = {}  # written by this batch, not yet in the database
        self._changes: list[tuple[int, str]] = []

    def run(
        self, batch: Sequence[Sequence[Op]]
    ) -> list[ChangeRecord | PreconditionFailed | WriteFailed]:
        self._prefetch(op for ops in batch for op in ops)
        outcome = [self._transaction(ops) for ops in batch]
        self._flush()
        return outcome

    def _prefetch(self, ops: Iterable[Op]) -> None:
        by_kind: dict[str, set[str]] = {}
        for op in ops:
            if not isinstance(op, CheckNone):
                by_kind.setdefault(op.kind, set()).add(op.key)
        # "kind = ? AND key IN (...)" walks the primary key; a row-value IN scans.
        for kind, key_set in by_kind.items():
            keys = list(key_set)
            for start in range(0, len(keys), _KEYS_PER_SELECT):
                chunk = keys[start : start + _KEYS_PER_SELECT]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    "SELECT key, value, mod_revision FROM records "
                    f"WHERE kind = ? AND key IN ({marks})",
                    [kind, *chunk],
                )
                for key, text, mod in rows:
                    self._read[(kind, key)] = _Row(None, int(mod), text)

    def _current(self, key: _Key, local: dict[_Key, _Row]) -> _Row:
        row = local.get(key) or self._dirty.get(key) or self._read.get(key)
        return _ABSENT if row is None else row

    def _transaction(self, ops: Sequence[Op]) -> ChangeRecord | PreconditionFailed | WriteFailed:
        revision = self.revision + 1
        local: dict[_Key, _Row] = {}
        changes: list[ResourceChange] = []
        try:
            for op in ops:
                if isinstance(op, CheckNone):
                    self._check_none(op, local)
                    continue
                key = (op.kind, op.key)
                row = self._current(key, local)
                if op.expect is not None and op.expect != row.mod:
                    raise PreconditionFailed(op.kind, op.key, op.expect, row.mod)
                if isinstance(op, Check):
                    continue
                before = row.image()
                after = op.value if isinstance(op, Put) else None
                # Encoded here, not at the flush: a value the encoder cannot
                # take (a lone surrogate, an integer over 64 bits) fails this
                # transaction alone instead of the whole batch.
                local[key] = _ABSENT if after is None else _Row(after, revision, _encode(after))
                if op.kind != INDEX and (before is not None or after is not None):
                    changes.append(ResourceChange(op.kind, op.key, before, after))
            record = ChangeRecord(revision, tuple(changes))
            encoded = _encode_change(record)
        except PreconditionFailed as failed:
            return failed
        except (TypeError, ValueError) as exc:
            return WriteFailed(f"revision {revision} cannot be stored: {exc}")
        self._dirty.update(local)
        self.revision = revision
        self._changes.append((revision, encoded))
        return record

    def _check_none(self, op: CheckNone, local: dict[_Key, _Row]) -> None:
        self._flush()  # the range read below sees the batch's earlier transactions
        # Keys are text; "prefix" <= key < "prefix" + U+FFFF selects the prefix range.
        rows = self._conn.execute(
            "SELECT key, mod_revision FROM records WHERE kind = ? AND key >= ? AND key < ?",
            (op.kind, op.prefix, op.prefix + "\uffff"),
        )
        for key, mod in rows:
            shadow = local.get((op.kind, key))  # this transaction deleted it?
            if shadow is None or shadow.mod:
                raise PreconditionFailed(op.kind, str(key), 0, int(mod))
        for (kind, key), row in local.items():
            if kind == op.kind and key.startswith(op.prefix) and row.mod:
                raise PreconditionFailed(kind, key, 0, row.mod)

    def _flush(self) -> None:
        """Write what the batch changed so far (one statement per table)."""
        if self._dirty:
            puts = [
                (kind, key, row.text or _encode(row.value), row.mod)
                for (kind, key), row in self._dirty.items()
                if row.value is not None
            ]
            gone = [key for key, row in self._dirty.items() if row.value is None]
            if puts:
                self._conn.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", puts)
            if gone:
                self._conn.executemany("DELETE FROM records WHERE kind = ? AND key = ?", gone)
            # Written: later transactions read these rows from here on.
            self._read.update(self._dirty)
            self._dirty = {}
        if self._changes:
            self._conn.executemany("INSERT INTO changes VALUES (?, ?)", self._changes)
            self._changes = []


def _encode(value: JSON) -> str:
    return orjson.dumps(value).decode()


def _encode_change(record: ChangeRecord) -> str:
    return orjson.dumps([[c.kind, c.key, c.before, c.after] for c in record.changes]).decode()
