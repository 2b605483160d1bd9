"""Store backends behind one interface (:mod:`l2pop.server.store.base`)."""

from __future__ import annotations

from pathlib import Path

from l2pop.errors import StoreUnavailableError
from l2pop.server.store.base import Store
from l2pop.server.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "open_etcd_store"]


def open_etcd_store(
    endpoints: str,
    *,
    ca: Path | None = None,
    cert: Path | None = None,
    key: Path | None = None,
    user: str | None = None,
    password_file: Path | None = None,
    prefix: str = "/l2pop/",
    retain: int = 10_000,
) -> Store:
    """The etcd backend (issue 9); until it exists, a clear error."""
    try:
        from l2pop.server.store.etcd import EtcdStore
    except ModuleNotFoundError:
        raise StoreUnavailableError("the etcd store is not built yet; use --db") from None
    store: Store = EtcdStore(
        endpoints,
        ca=ca,
        cert=cert,
        key=key,
        user=user,
        password_file=password_file,
        prefix=prefix,
        retain=retain,
    )
    return store
