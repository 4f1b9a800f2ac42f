"""SIGKILL at chosen and at random points of a build; disk full and permission errors.

After every kill, each file under its final name is byte-identical to the one an uninterrupted
build writes (or absent): nothing half-written is ever visible. A rerun then finishes with the
same manifest checksums as the uninterrupted build.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.__main__ import EXIT_ERROR, EXIT_OK, main
from builder.store.lock import LOCK_NAME
from tests.conftest import REPO, SMALL
from tests.procs import wait_until

RUNNER = Path(__file__).with_name("kill_runner.py")
#: (final-path suffix, which occurrence): a cell's part, a cell marker, a table, an archive,
#: the CSV of the cell table, the report and the manifest
KILL_POINTS = [
    ("/mitochondria.parquet", 3),
    ("/done.json", 4),
    ("tables/skeleton_nodes.parquet", 1),
    ("morphologies.tar.gz", 1),
    ("nodes.tar.gz", 1),
    ("cell_type_classification_filtered.csv", 1),
    ("build_report.json", 1),
    ("manifest.json", 1),
]
VOLATILE = {"build_report.json"}  # holds timings: compared as JSON, not bytes


def _args(raw: Path, out: Path, workers: int = 1) -> list[str]:
    return ["build", "--raw-dir", str(raw), "--out", str(out), "--cells", str(SMALL.cells),
            "--seed", str(SMALL.seed), "--workers", str(workers)]  # fmt: skip


def _run(pattern: str, nth: int, raw: Path, out: Path, workers: int = 1) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, str(RUNNER), pattern, str(nth), "--", *_args(raw, out, workers)]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _visible(out: Path) -> dict[str, Path]:
    """Files under their final names (not temporaries, not the per-cell work area)."""
    return {
        str(p.relative_to(out)): p
        for p in out.rglob("*")
        if p.is_file() and ".tmp-" not in p.name and ".build" not in p.relative_to(out).parts and p.name != LOCK_NAME
    }


def _assert_nothing_partial(out: Path, reference: Path) -> None:
    for rel, p in _visible(out).items():
        ref = reference / rel
        assert ref.is_file(), f"{rel} should not exist"
        if rel in VOLATILE:
            json.loads(p.read_text())  # complete JSON, whatever its timings
        else:
            assert p.read_bytes() == ref.read_bytes(), f"{rel} is visible but differs from the good build"


def _checksums(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["files"]


@pytest.mark.slow
@pytest.mark.parametrize("pattern,nth", KILL_POINTS, ids=[p.strip("/") for p, _ in KILL_POINTS])
def test_sigkill_while_writing_then_rerun_is_identical(small_raw, small_dataset, tmp_path, pattern, nth):
    out = tmp_path / "ds"
    killed = _run(pattern, nth, small_raw, out)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    _assert_nothing_partial(out, small_dataset)
    assert list(out.rglob("*.tmp-*")), "the kill should leave a temporary behind"
    assert not (out / "manifest.json").exists()  # an interrupted build never claims to be complete
    done = _run("-", 0, small_raw, out)
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    assert _checksums(out) == _checksums(small_dataset)
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


@pytest.mark.slow
def test_sigkill_at_random_moments_with_two_workers(small_raw, small_dataset, tmp_path):
    """Kill the whole process group (parent and spawned workers) at 4 random moments of a build
    from scratch; each killed build, rerun, ends identical to the uninterrupted one.

    A moment is drawn as a number of finished cells (0 to cells - 2) plus a random fraction of a
    second, and the test waits for that many done-markers: on a slow or loaded machine the kill
    still lands mid-build, where a fixed fraction of a timed run could come too late.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(20261122)
    landed = 0
    for k in range(4):
        out = tmp_path / f"ds{k}"
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), "-", "0", "--", *_args(small_raw, out, workers=2)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        n_done, extra = rng.randint(0, SMALL.cells - 2), rng.uniform(0.0, 0.3)
        try:

            def started(proc=proc, out=out, n_done=n_done) -> bool:
                return proc.poll() is not None or len(list(out.glob(".build/cells/*/done.json"))) >= n_done

            wait_until(started, 300)
            time.sleep(extra)  # a random moment within the next cell, not a wait for a condition
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                landed += 1
            proc.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # nothing of the group outlives the test
        _assert_nothing_partial(out, small_dataset)
        assert _run("-", 0, small_raw, out).returncode == EXIT_OK
        assert _checksums(out) == _checksums(small_dataset)
    assert landed >= 3, f"only {landed} of 4 kills landed before the build finished"


@pytest.mark.parametrize(
    "err,text", [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")], ids=["disk-full", "permission"]
)
def test_write_errors_name_the_path_and_stop_cleanly(small_raw, small_dataset, tmp_path, monkeypatch, capsys, err, text):
    import builder.store.atomic as atomic

    real = atomic.atomic_path
    target = "morphologies.tar.gz"

    @contextlib.contextmanager
    def failing(path):
        with real(path) as tmp:
            if str(path).endswith(target):
                tmp.write_bytes(b"half an archive")
                raise OSError(err, os.strerror(err))  # as write() would on a full disk
            yield tmp

    out = tmp_path / "ds"
    monkeypatch.setattr(atomic, "atomic_path", failing)
    assert main(_args(small_raw, out)) == EXIT_ERROR
    msg = capsys.readouterr().err
    assert f"cannot write {out / target}: {text}" in msg and "rerun the same command to resume" in msg
    _assert_nothing_partial(out, small_dataset)
    assert not (out / "manifest.json").exists()
    monkeypatch.setattr(atomic, "atomic_path", real)  # space freed / permission fixed
    assert main(_args(small_raw, out)) == EXIT_OK
    assert _checksums(out) == _checksums(small_dataset)
