"""`l2pop bench dataplane` end to end, at a small size: it runs, and resync plans nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.netns


def test_bench_dataplane_writes_results_with_both_contenders(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "l2pop"), "bench", "dataplane", "--entries", "300",
         "--repeat", "1", "--mode", "suppress", "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "dataplane-suppress.json").read_text())
    assert result["entries"] == 600
    assert result["resync_ops"] == 0
    run = result["runs"][0]
    assert run["l2pop"]["entries_read_back"] == 600 + 50  # + the flood entries
    assert run["iproute2"]["program_s"] > 0
    assert result["l2pop_entries_per_s"] > 0
    assert "ratio" in done.stdout
