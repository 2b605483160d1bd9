from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.servers import ServerProc, running


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProc]:
    """A real server process (SQLite in tmp_path, a free port on 127.0.0.1)."""
    with running(tmp_path) as proc:
        yield proc
