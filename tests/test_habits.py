"""The project's habits hold: the pre-commit configuration is valid and runs what `make lint`
runs (ruff check, ruff format, mypy over builder/compute and builder/store)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_pre_commit_config_is_valid_and_matches_make_lint():
    exe = shutil.which("pre-commit") or str(REPO / ".venv" / "bin" / "pre-commit")
    if not shutil.which(exe):
        pytest.skip("pre-commit is not installed (pip install -e '.[dev]')")
    r = subprocess.run([exe, "validate-config", ".pre-commit-config.yaml"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    config = (REPO / ".pre-commit-config.yaml").read_text()
    lint = re.search(r"^lint:.*?\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), flags=re.M).group(1)
    for tool in ("ruff check", "ruff format", "mypy"):
        assert tool in config and tool in lint, tool
    assert re.search(r"^test: lint\b", (REPO / "Makefile").read_text(), flags=re.M)  # make test runs the checks first


def test_mypy_checks_the_compute_and_store_packages_strictly():
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    assert cfg["files"] == ["builder/compute", "builder/store"] and cfg["disallow_untyped_defs"] is True
    assert sys.version_info >= (3, 11)
