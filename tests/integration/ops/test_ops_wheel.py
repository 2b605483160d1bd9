"""``python -m build`` makes an sdist and a wheel; the wheel installs into a fresh venv,
where ``l2pop --version`` prints the package version (one place: l2pop/__init__.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from l2pop import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def run(*argv: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH would let the fresh venv import this tree instead of the wheel.
    return subprocess.run(
        ["env", "-u", "PYTHONPATH", *map(str, argv)],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_the_wheel_installs_and_reports_its_version(tmp_path: Path) -> None:
    # Build from a copy: the build writes egg-info and build/ beside the sources.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    built = run(sys.executable, "-m", "build", "--outdir", tmp_path / "dist", tree)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    wheels = list((tmp_path / "dist").glob("*.whl"))
    assert [w.name for w in wheels] == [f"l2pop-{__version__}-py3-none-any.whl"]
    assert list((tmp_path / "dist").glob(f"l2pop-{__version__}.tar.gz"))

    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    installed = run(
        venv / "bin" / "python", "-m", "pip", "install", "-q",
        "-c", ROOT / "packaging" / "constraints.txt", wheels[0],
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    version = run(venv / "bin" / "l2pop", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"l2pop {__version__}"
    metadata = run(
        venv / "bin" / "python", "-c", "import importlib.metadata as m; print(m.version('l2pop'))"
    )
    assert metadata.stdout.strip() == __version__
    # The installed package is the wheel's, not this tree.
    where = run(venv / "bin" / "python", "-c", "import l2pop; print(l2pop.__file__)")
    assert str(venv) in where.stdout, where.stdout
    # The examples and units the docs point at are in the tree (not installed by the wheel).
    assert (ROOT / "packaging" / "systemd" / "l2pop-server.service").is_file()
