from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from srvproc import ServerProc, running


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProc]:
    with running(tmp_path) as proc:
        yield proc
