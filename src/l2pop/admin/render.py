"""Rich tables for the admin CLI, or JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["show_json", "show_record", "show_table"]

JSON = dict[str, Any]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def show_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def show_table(title: str, rows: Iterable[JSON], columns: Sequence[tuple[str, str]]) -> None:
    """``columns``: (heading, field); list fields are joined with commas."""
    table = Table(title=title)
    for heading, _ in columns:
        # Fold, never truncate: ids must stay copyable.
        table.add_column(heading, overflow="fold")
    for row in rows:
        table.add_row(*(_text(row.get(field)) for _, field in columns))
    Console().print(table)


def show_record(title: str, record: JSON) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key in sorted(record):
        table.add_row(key, _text(record[key]))
    Console().print(table)
