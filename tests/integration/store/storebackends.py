"""The store backend under test. Adding a backend (etcd) = one more entry in BACKENDS.

A backend is a factory ``open_store(retain) -> Store`` over one persistent
location; calling it again opens the same data (a restart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from etcdbackend import etcd_backend

from l2pop.server.store.base import Store
from l2pop.server.store.sqlite import SQLiteStore

OpenStore = Callable[[int], Store]


def _sqlite(tmp_path: Path) -> Iterator[OpenStore]:
    db = tmp_path / "store.db"
    yield lambda retain: SQLiteStore(db, retain=retain)


BACKENDS = {"sqlite": _sqlite, "etcd": etcd_backend}
