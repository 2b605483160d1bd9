"""DESIGN §5 command lines: the flags of ``l2pop server`` and ``l2pop agent``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from contract_support import L2POP, ContractServer, free_port, fresh_vni, unique


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [str(L2POP), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("server", ["--db", "--etcd", "--listen", "--admin-token-file"]),
        ("agent", ["--host", "--tunnel-ip", "--server", "--token-file", "--mode", "--interface"]),
        (
            "evpn",
            [
                "--server",
                "--token-file",
                "--asn",
                "--router-id",
                "--peer",
                "--peer-password-file",
                "--ca-file",
            ],
        ),
    ],
)
def test_help_lists_the_documented_flags(command: str, flags: list[str]) -> None:
    done = _run(command, "--help")
    assert done.returncode == 0, done.stderr
    for flag in flags:
        assert f"{flag} " in done.stdout or f"{flag}\n" in done.stdout, (flag, done.stdout)


def test_server_help_documents_the_listen_default(tmp_path: Path) -> None:
    assert "127.0.0.1:9696" in _run("server", "--help").stdout


def test_db_and_etcd_together_is_an_error_at_start(tmp_path: Path) -> None:
    token = tmp_path / "admin.token"
    token.write_text("t\n")
    done = _run(
        "server", "--db", str(tmp_path / "x.db"), "--etcd", "127.0.0.1:2379",
        "--listen", f"127.0.0.1:{free_port()}", "--admin-token-file", str(token),
        timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    said = (done.stdout + done.stderr).lower()
    assert "--db" in said, said
    assert "--etcd" in said, said
    assert not (tmp_path / "x.db").exists(), "nothing is created by a refused start"


def test_sqlite_in_the_working_directory_is_the_default_store(special: ContractServer) -> None:
    """The special server runs without ``--db`` (see conftest)."""
    name = unique("default-db")
    api = special.admin()
    api.network(name=name, **{"provider:segmentation_id": fresh_vni()})
    assert "--db" not in special.extra
    assert special.db == special.workdir / "l2pop.db"
    assert special.db.exists()
    with sqlite3.connect(special.db) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
