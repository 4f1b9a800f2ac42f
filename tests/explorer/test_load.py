"""The load-test script itself: gunicorn with 2 workers, 20 concurrent clients, no errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_twenty_clients_on_gunicorn_without_errors(small_dataset):
    r = subprocess.run(
        [sys.executable, "benchmarks/load_test.py", "--data", str(small_dataset), "--clients", "20",
         "--iterations", "2", "--workers", "2", "--max-seconds", "240"],
        cwd=REPO, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "errors 0" in r.stdout and "20 clients, gunicorn 2 workers" in r.stdout
    for kind in ("3D view", "scatter axes", "neuroglancer link"):  # the URL is read in the browser
        assert f"{kind}" in r.stdout and "n=   40" in r.stdout.split(kind)[1].splitlines()[0]


def test_load_script_refuses_a_directory_that_is_not_a_dataset(tmp_path):
    r = subprocess.run(
        [sys.executable, "benchmarks/load_test.py", "--data", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "python -m builder" in r.stderr
