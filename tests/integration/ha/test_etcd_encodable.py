"""A value the etcd store cannot encode fails its own write before any Txn (issue #17)."""

from __future__ import annotations

import pytest

from l2pop.server.store.base import ABSENT, Delete, Put, WriteFailed
from l2pop.server.store.etcd_codec import check_encodable


@pytest.mark.parametrize("value", [{"name": "\ud800"}, {"n": 2**70}])
def test_an_unencodable_value_is_a_write_failure(value: dict[str, object]) -> None:
    with pytest.raises(WriteFailed):
        check_encodable([Put("network", "n", {"ok": 1}, ABSENT), Put("network", "m", value)])


def test_encodable_writes_pass() -> None:
    check_encodable([Put("network", "n", {"name": "é"}, ABSENT), Delete("port", "p")])
