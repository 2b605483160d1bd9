"""The audit trail of admin writes: who, what, from where, with what result.

The revision a write committed at is known deep in :meth:`Service.write`; the
request that caused it is known at the edge. A context variable carries it
back out: the edge opens a slot for its request (:func:`recording`), the write
notes its revision into it (:func:`note_revision`). Each request runs in its
own task, so concurrent writes never see each other's slot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["note_revision", "recording"]

_SLOT: ContextVar[list[int] | None] = ContextVar("l2pop_audit_revisions", default=None)


def note_revision(revision: int) -> None:
    """Record the revision of a committed write for the request being served, if audited."""
    slot = _SLOT.get()
    if slot is not None:
        slot.append(revision)


@contextlib.contextmanager
def recording() -> Iterator[list[int]]:
    """The revisions the writes in this block commit at, in order."""
    slot: list[int] = []
    token = _SLOT.set(slot)
    try:
        yield slot
    finally:
        _SLOT.reset(token)
