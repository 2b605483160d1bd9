from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from storebackends import BACKENDS, OpenStore


@pytest.fixture(params=sorted(BACKENDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Each backend in turn; etcd joins by adding itself to BACKENDS."""
    yield from BACKENDS[request.param](tmp_path)
