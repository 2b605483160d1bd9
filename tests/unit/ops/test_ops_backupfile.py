"""Backup files: written whole, read back equal; cut, foreign or too-new files refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2pop.errors import ValidationError
from l2pop.server.store.backup import Backup, read_backup, write_backup
from l2pop.server.store.schema import CURRENT, SCHEMA_VERSION, SchemaError


def sample() -> Backup:
    records = [("network", "n1", {"id": "n1", "vni": 100}), ("index", "vni/100", {"id": "n1"})]
    return Backup(42, CURRENT, "sqlite:/x.db", records)


def test_round_trip_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    write_backup(sample(), path)
    assert read_backup(path) == sample()
    assert not (tmp_path / "b.jsonl.tmp").exists()

    lines = path.read_text().splitlines()
    (tmp_path / "cut.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValidationError, match="cut short"):
        read_backup(tmp_path / "cut.jsonl")

    (tmp_path / "foreign.jsonl").write_text('{"hello": 1}\n')
    with pytest.raises(ValidationError, match="not an l2pop backup"):
        read_backup(tmp_path / "foreign.jsonl")

    header = json.loads(lines[0])
    header["readable_from"] = SCHEMA_VERSION + 1
    (tmp_path / "new.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(SchemaError, match=f"knows {SCHEMA_VERSION}"):
        read_backup(tmp_path / "new.jsonl")

    del header["revision"]
    header["readable_from"] = 1
    (tmp_path / "bad.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(ValidationError, match="lacks a field"):
        read_backup(tmp_path / "bad.jsonl")
