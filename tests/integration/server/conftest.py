from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from srvproc import ServerProc, running


@pytest.fixture(params=[("--no-stream-writer",), ()], ids=["in-process", "stream-writer"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProc]:
    """A real server process, writing its watch streams itself or from a second process."""
    with running(tmp_path, request.param) as proc:
        yield proc
