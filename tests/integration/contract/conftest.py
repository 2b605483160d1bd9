"""Fixtures of the DESIGN §5 contract suite: real ``l2pop server`` processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contract_support import (
    SMALL_MAX_BODY,
    VNI_HIGH,
    VNI_LOW,
    Api,
    ContractServer,
    running_server,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractServer]:
    """One server for the whole suite; tests use unique names so they do not see each other."""
    with running_server(tmp_path_factory.mktemp("contract")) as proc:
        yield proc


@pytest.fixture(scope="session")
def special(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractServer]:
    """A second server with a tiny ``--vni-range`` and ``--max-body``; tests may restart or
    kill it (left running). Only the VNI allocation test creates networks without a VNI.
    It runs without ``--db`` in its own working directory: DESIGN's default ``./l2pop.db``."""
    extra = ["--vni-range", f"{VNI_LOW}:{VNI_HIGH}", "--max-body", str(SMALL_MAX_BODY)]
    with running_server(tmp_path_factory.mktemp("special"), extra, default_db=True) as proc:
        yield proc


@pytest.fixture
def admin(server: ContractServer) -> Iterator[Api]:
    api = server.admin()
    try:
        yield api
    finally:
        api.close()
