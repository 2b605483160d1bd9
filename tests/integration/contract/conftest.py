"""Fixtures of the DESIGN §5 contract suite: real ``l2pop server`` processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_support import Api, ContractServer, running_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractServer]:
    """One server for the whole suite; tests use unique names so they do not see each other."""
    with running_server(tmp_path_factory.mktemp("contract")) as proc:
        yield proc


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ContractServer]:
    """A server for one test alone (restarts, counts that must start from empty)."""
    with running_server(tmp_path / "srv") as proc:
        yield proc


@pytest.fixture
def admin(server: ContractServer) -> Iterator[Api]:
    api = server.admin()
    try:
        yield api
    finally:
        api.close()
