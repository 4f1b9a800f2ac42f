"""Workers end with their parent: SIGKILL on the builder's main process alone (as the OOM killer
does) leaves no worker behind, and the killed build still resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import REPO, SMALL


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


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
        main = psutil.Process(proc.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = [c.pid for c in main.children(recursive=True) if "resource_tracker" not in " ".join(c.cmdline())]
            done = list((out / ".build" / "cells").glob("*/done.json")) if (out / ".build").is_dir() else []
            if len(workers) >= 2 and done:  # workers busy, at least one cell finished
                break
            time.sleep(0.05)
        assert proc.poll() is None and len(workers) >= 2, "the build ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only
        proc.wait(timeout=30)
        t0 = time.monotonic()
        while _alive(workers) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert _alive(workers) == [], f"workers {_alive(workers)} outlived their parent by 10 s"
    finally:
        for pid in [proc.pid, *_alive(workers)]:  # never leave a process behind, even on failure
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    # resumable as before: the rerun builds only what was not finished, and equals a clean build
    from builder.__main__ import main as cli

    assert cli(args) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["cells_computed_this_run"] < SMALL.cells
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    ref = json.loads((small_dataset / "manifest.json").read_text())["files"]
    assert {k: v["sha256"] for k, v in manifest.items()} == {k: v["sha256"] for k, v in ref.items()}
