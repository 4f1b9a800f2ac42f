"""The project's habits hold: the pre-commit configuration is valid and runs what `make lint`
runs (ruff check, ruff format, mypy over builder/compute and builder/store)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

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


def _code_lines(fn) -> int:
    """Lines of a function without its docstring."""
    import ast

    body = (
        fn.body[1:]
        if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(getattr(fn.body[0], "value", None), ast.Constant)
        else fn.body
    )
    return (body[-1].end_lineno - body[0].lineno + 1) if body else 0


def test_explorer_functions_and_modules_stay_small():
    """One panel per view keeps each piece readable: no function of the explorer over 60 lines of
    code, no module over 400 lines (the habits of DESIGN.md, section 5)."""
    import ast

    root = Path(__file__).resolve().parents[1] / "explorer"
    long_fns, long_modules = [], []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            long_modules.append(path.name)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > 60:
                long_fns.append(f"{path.relative_to(root)}:{node.name}")
    assert long_fns == [] and long_modules == []
