"""The store interface: versioned records, atomic transactions, a change stream.

The store knows nothing about networks or ports. It keeps JSON records under
``(kind, key)``, each with the revision that last wrote it (``mod_revision``),
and applies a transaction -- a list of puts and deletes, each optionally
guarded by the ``mod_revision`` it expects -- atomically at one new revision.
That is the shape of an etcd transaction (compare on ``mod_revision``, then
put/delete), so an etcd backend fits the same interface:

* uniqueness (VNI, MAC/IP per network, tunnel IP) is an *index record*
  (kind :data:`INDEX`) put with ``expect=ABSENT`` in the same transaction;
* the revision is one global, strictly increasing counter (gaps allowed);
  concurrent transactions on disjoint keys may share one (etcd's group
  commit folds them into one Txn): their changes then form one record;
* every committed transaction becomes a :class:`ChangeRecord` holding the
  before and after image of each resource record it touched; index records are
  not part of it. Change records are retained for at least ``retain``
  revisions; asking for older ones raises :class:`~l2pop.errors.GoneError`.

Every replica *applies* the committed change stream (``subscribe``) to its
in-memory view, its own writes included: a write is acknowledged once the
local view reached its revision, which gives read-your-writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from l2pop.errors import ConflictError

__all__ = [
    "ABSENT",
    "ANY",
    "DEFAULT_RETAIN",
    "INDEX",
    "JSON",
    "ChangeListener",
    "ChangeRecord",
    "Check",
    "CheckNone",
    "Delete",
    "Liveness",
    "Loaded",
    "Op",
    "PreconditionFailed",
    "Put",
    "ResourceChange",
    "SharedStore",
    "Store",
    "StoredRecord",
]

JSON = dict[str, Any]

# ``expect`` values: ANY skips the check, ABSENT requires that the key does not
# exist, a positive number requires exactly that mod_revision (etcd: mod == 0
# means absent, which is why ABSENT is 0).
ANY: int | None = None
ABSENT = 0
INDEX = "index"
DEFAULT_RETAIN = 10_000


@dataclass(frozen=True, slots=True)
class Put:
    kind: str
    key: str
    value: JSON
    expect: int | None = ANY


@dataclass(frozen=True, slots=True)
class Delete:
    kind: str
    key: str
    expect: int | None = ANY


@dataclass(frozen=True, slots=True)
class Check:
    """Guard only: the record's mod_revision must be ``expect`` (nothing written)."""

    kind: str
    key: str
    expect: int


@dataclass(frozen=True, slots=True)
class CheckNone:
    """Guard only: no record of ``kind`` has a key starting with ``prefix``.

    (etcd: a compare over the key range of the prefix.) Deleting a network
    checks that no ``mac/<network>/`` index record, i.e. no port, remains.
    """

    kind: str
    prefix: str


Op = Put | Delete | Check | CheckNone


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One record touched by a transaction: None stands for "did not exist"."""

    kind: str
    key: str
    before: JSON | None
    after: JSON | None


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One committed transaction, as the change stream and the change log carry it."""

    revision: int
    changes: tuple[ResourceChange, ...]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    value: JSON
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything the store holds at ``revision`` (index records excluded)."""

    revision: int
    compacted: int
    records: Mapping[str, Mapping[str, StoredRecord]]


class PreconditionFailed(ConflictError):
    """A guarded op found another mod_revision than it expected.

    The service re-validates against its refreshed view and retries; an index
    record that already exists is the store's last word on a duplicate.
    """

    def __init__(self, kind: str, key: str, expected: int | None, actual: int) -> None:
        self.kind = kind
        self.key = key
        self.expected = expected
        self.actual = actual
        super().__init__(f"{kind} {key}: expected revision {expected}, found {actual}")


ChangeListener = Callable[[ChangeRecord], None]


class Store(Protocol):
    """What the service needs from a backend (SQLite now, etcd later)."""

    async def start(self) -> None:
        """Open the backend; after this, ``load`` and ``commit`` work."""

    async def close(self) -> None:
        """Finish pending commits and release the backend."""

    async def load(self) -> Loaded:
        """All resource records at one revision (the start of a replica's view)."""

    async def commit(self, ops: Sequence[Op]) -> ChangeRecord:
        """Apply ``ops`` atomically at a new revision, durably.

        Raises :class:`PreconditionFailed` (nothing written) when a guard
        fails, :class:`~l2pop.errors.StoreUnavailableError` when the backend
        does not answer in time. Returns after every listener got the record.
        """

    async def changes(self, after: int) -> list[ChangeRecord]:
        """Change records with revision > ``after``, oldest first.

        Raises :class:`~l2pop.errors.GoneError` when ``after`` is older than
        the retained log and :class:`~l2pop.errors.ValidationError` when it is
        ahead of the current revision.
        """

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener`` for every committed change, in revision order,
        from the revision ``load`` returned on (on the event loop thread)."""

    @property
    def revision(self) -> int:
        """The latest committed revision this store instance knows of."""

    async def healthy(self) -> bool:
        """True when the backend answers (``/healthz``)."""

    @property
    def shared(self) -> SharedStore | None:
        """This store as several replicas share it (etcd), or None (SQLite: one replica)."""


class Liveness(Protocol):
    """Host liveness shared by replicas: a host is up while an agent's stream holds it."""

    def alive(self, host: str) -> bool:
        """Whether ``host`` is up on any replica."""

    def up_hosts(self) -> Collection[str]:
        """Every host up on any replica."""

    def hold(self, host: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Keep ``host`` up while the context is open (its agent's watch stream)."""

    async def seen(self, host: str) -> None:
        """``host``'s agent was heard from (a status report)."""


class SharedStore(Store, Protocol):
    """A store several replicas share: what a replica needs beyond :class:`Store`."""

    @property
    def liveness(self) -> Liveness:
        """Host liveness across replicas."""

    async def barrier(self) -> int:
        """Wait until this replica saw every write acknowledged anywhere; that revision."""
