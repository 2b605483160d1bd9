"""``l2pop store backup|restore``: the command line's refusals, before any store is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2pop.cli import build_app


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_one_store_exactly(command: str, tmp_path: Path) -> None:
    runner = CliRunner()
    app = build_app()
    for stores in ([], ["--db", str(tmp_path / "a.db"), "--etcd", "127.0.0.1:1"]):
        result = runner.invoke(app, ["store", command, str(tmp_path / "f.jsonl"), *stores])
        assert result.exit_code == 2, result.output
        assert "give one store: --db PATH or --etcd HOSTS" in result.output
    assert not (tmp_path / "a.db").exists()
    assert not (tmp_path / "f.jsonl").exists()


def test_errors_name_the_command_and_change_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    app = build_app()
    nowhere = str(tmp_path / "none.db")
    missing = runner.invoke(app, ["store", "backup", str(tmp_path / "f"), "--db", nowhere])
    assert missing.exit_code == 2
    assert "l2pop store backup: " in missing.output
    assert "no such file" in missing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a backup\n")
    restored = runner.invoke(app, ["store", "restore", str(bad), "--db", str(tmp_path / "new.db")])
    assert restored.exit_code == 2
    assert "l2pop store restore: " in restored.output
    assert not (tmp_path / "new.db").exists()
    assert not (tmp_path / "f").exists()
