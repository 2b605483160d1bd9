"""``l2pop server`` refuses bad flags before it serves anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2pop.cli import build_app
from l2pop.server.process.runner import parse_listen, parse_vni_range


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--db", "x.db", "--etcd", "127.0.0.1:2379"], "exclude each other"),
        (["--vni-range", "2000:1000"], "--vni-range"),
        (["--vni-range", "a:b"], "--vni-range"),
        (["--listen", "nowhere"], "--listen"),
        (["--watch-max-queued", "1000"], "--watch-max-queued"),
    ],
)
def test_bad_server_flags_exit_2_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(build_app(), ["server", *args])
    assert result.exit_code == 2
    assert words in result.output


def test_listen_and_vni_range_parsing() -> None:
    assert parse_listen("127.0.0.1:9696") == ("127.0.0.1", 9696)
    assert parse_listen("[::1]:9697") == ("::1", 9697)
    assert parse_vni_range("5:5") == (5, 5)
