"""Workers end with their parent: SIGKILL on the builder's main process alone (as the OOM killer
does) leaves no worker behind, and the killed build still resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO, SMALL
from tests.procs import alive, descendants, kill_all, wait_until


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if alive(pid)]


@pytest.mark.slow
def test_workers_exit_when_the_main_process_is_killed(small_raw, small_dataset, tmp_path):
    out = tmp_path / "ds"
    args = ["build", "--raw-dir", str(small_raw), "--out", str(out), "--cells", str(SMALL.cells),
            "--seed", str(SMALL.seed), "--workers", "2"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers: list[int] = []
    proc = subprocess.Popen([sys.executable, "-m", "builder", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:

        def ready() -> bool:  # workers busy (a worker may exit or turn zombie meanwhile), one cell finished
            workers[:] = descendants(proc.pid)
            done = list((out / ".build" / "cells").glob("*/done.json")) if (out / ".build").is_dir() else []
            return proc.poll() is not None or (len(workers) >= 2 and bool(done))

        wait_until(ready, timeout=300)
        assert proc.poll() is None and len(workers) >= 2, "the build ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only
        proc.wait(timeout=60)
        # a loaded machine may take a while to deliver the parent's death to its workers
        gone = wait_until(lambda: not _alive(workers), timeout=30, interval=0.1)
        assert gone, f"workers {_alive(workers)} outlived their parent by 30 s"
    finally:
        kill_all([proc.pid, *_alive(workers)])  # never leave a process behind, even on failure
    # resumable as before: the rerun builds only what was not finished, and equals a clean build
    from builder.__main__ import main as cli

    assert cli(args) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["cells_computed_this_run"] < SMALL.cells
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    ref = json.loads((small_dataset / "manifest.json").read_text())["files"]
    assert {k: v["sha256"] for k, v in manifest.items()} == {k: v["sha256"] for k, v in ref.items()}
