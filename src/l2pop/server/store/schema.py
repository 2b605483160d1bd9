"""The stored data's schema version, and the migrations run at start.

Each store keeps a marker: the schema ``version`` that last wrote it and
``readable_from``, the oldest schema that can still serve it. Migrations are
additive (new tables, keys, record kinds or fields that older code ignores),
so a store migrated by version N+1 keeps ``readable_from <= N`` and replicas
sharing one etcd can be upgraded one at a time; only a migration that older
code could not live with raises ``readable_from``, and a server whose schema
is below that refuses the store with a clear message instead of misreading it.
A store without a marker was written by release 0.1.0 (schema 1) or is new.

Record kinds added additively (a new ``kind`` of record, a new field) need no
migration: older servers do not load kinds they do not know.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from l2pop.errors import L2popError

__all__ = [
    "CURRENT",
    "MIGRATIONS",
    "READABLE_FROM",
    "SCHEMA_VERSION",
    "Marker",
    "SchemaError",
    "upgrade",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
# The oldest schema that can serve what this version writes.
READABLE_FROM = 1
# What each schema version added; the store-specific steps (none needed so far:
# version 2 adds only the marker) run in the stores' own open code.
MIGRATIONS = {
    1: "release 0.1.0: records, change log, revision (no marker)",
    2: "the schema marker itself",
}


class SchemaError(L2popError):
    """The store was written by a newer l2pop that this one cannot serve."""


@dataclass(frozen=True, slots=True)
class Marker:
    version: int
    readable_from: int

    def encode(self) -> bytes:
        return json.dumps({"version": self.version, "readable_from": self.readable_from}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Marker:
        try:
            body = json.loads(raw)
            return cls(int(body["version"]), int(body["readable_from"]))
        except (ValueError, KeyError, TypeError):
            raise SchemaError(f"the store's schema marker is not readable: {raw[:100]!r}") from None


CURRENT = Marker(SCHEMA_VERSION, READABLE_FROM)


def upgrade(stored: Marker | None, where: str) -> Marker | None:
    """The marker to write after migrating (None: leave it); SchemaError when refused."""
    if stored is None:
        log.info("store %s: no schema marker (new, or release 0.1.0's): schema %d", where, 1)
        stored = Marker(1, 1)
    if stored.readable_from > SCHEMA_VERSION:
        raise SchemaError(
            f"store {where} has schema {stored.version}, which needs an l2pop of schema "
            f"{stored.readable_from} or later; this l2pop knows schema {SCHEMA_VERSION}: "
            "upgrade l2pop (or restore a backup taken before the upgrade)"
        )
    if stored.version >= SCHEMA_VERSION:
        if stored.version > SCHEMA_VERSION:
            log.warning(
                "store %s has schema %d, newer than this l2pop's %d: served (it is additive)",
                where,
                stored.version,
                SCHEMA_VERSION,
            )
        return None
    for version in range(stored.version + 1, SCHEMA_VERSION + 1):
        log.info("store %s: migrating to schema %d (%s)", where, version, MIGRATIONS[version])
    return Marker(SCHEMA_VERSION, max(stored.readable_from, READABLE_FROM))
