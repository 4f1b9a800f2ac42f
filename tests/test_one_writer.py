"""One writer per folder, and the demo writes only into folders it made."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builder.__main__ import EXIT_ERROR, main
from builder.store import atomic
from tests.conftest import REPO, SMALL
from tests.procs import wait_until


def _tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_a_demo_build_never_writes_into_a_real_download(tmp_path, capsys):
    raw = tmp_path / "phase1"
    raw.mkdir()
    (raw / "211019_mitochondria_info.csv").write_bytes(b"mito_id,mito_vx\n1,2\n")
    (raw / "smoothed_skeletons_v185").mkdir()
    (raw / "smoothed_skeletons_v185" / "1_skeleton.h5").write_bytes(b"real skeleton")
    before = _tree(raw)
    code = main(["build", "--raw-dir", str(raw), "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert str(raw) in err and "--source phase1" in err and "211019_mitochondria_info.csv" in err
    assert _tree(raw) == before and sorted(p.name for p in raw.iterdir()) == [
        "211019_mitochondria_info.csv",
        "smoothed_skeletons_v185",
    ]
    assert not (tmp_path / "ds").exists()
    assert main(["demo", "--raw-dir", str(raw)]) == EXIT_ERROR and _tree(raw) == before


HOLD = (
    "import sys; from builder.store.lock import folder_lock\n"
    "with folder_lock(sys.argv[1], 'test holder'):\n    print('locked', flush=True); sys.stdin.read()"
)


@pytest.fixture()
def holder(tmp_path):
    """A process that holds the lock of a folder until its stdin closes (or it is killed)."""
    procs = []

    def start(folder: Path) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             cwd=REPO, text=True)  # fmt: skip
        procs.append(p)
        assert p.stdout.readline().strip() == "locked"
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait(timeout=60)


def test_a_second_writer_is_refused_with_the_first_ones_name(small_dataset, tmp_path, holder, capsys):
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    live_tmp = ds / "tables" / ".cells.parquet.tmp-424242"  # the other writer's temporary: live
    live_tmp.write_bytes(b"in progress")
    p = holder(ds)
    before = _tree(ds)
    commands = [
        ["build", "--raw-dir", str(tmp_path / "raw"), "--out", str(ds), "--cells", str(SMALL.cells), "--seed", str(SMALL.seed)],
        ["neuroglancer", str(ds)],
        ["analyze", str(ds)],
        ["publish", str(ds), f"file://{tmp_path / 'pub'}"],
    ]
    for argv in commands:
        assert main(argv) == EXIT_ERROR, argv
        err = capsys.readouterr().err
        assert f"{ds} is being written by another process (pid {p.pid}" in err and "test holder" in err, err
    assert _tree(ds) == before and live_tmp.read_bytes() == b"in progress"
    assert main(["validate", str(ds)]) == EXIT_ERROR  # not a verdict on a folder being written
    assert f"is being written by another process (pid {p.pid}" in capsys.readouterr().out
    from builder.store.lock import lock_holder

    assert lock_holder(ds).startswith(f"pid {p.pid}")


def test_the_lock_ends_with_its_holder_even_killed(tmp_path, holder):
    from builder.store.lock import folder_lock, lock_holder

    folder = tmp_path / "f"
    p = holder(folder)
    p.kill()  # SIGKILL: no cleanup runs
    p.wait(timeout=60)
    assert wait_until(lambda: lock_holder(folder) is None, timeout=30)  # the kernel releases it
    with folder_lock(folder):
        assert lock_holder(folder) is not None


def test_a_read_only_output_gives_a_message_not_a_traceback(small_dataset, tmp_path, monkeypatch, capsys):
    """EROFS on every write, and on the cleanup of the temporary too (which used to hide the error)."""
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[0]) if args else "")

    monkeypatch.setattr(atomic.os, "replace", read_only)
    monkeypatch.setattr(atomic.Path, "unlink", read_only)
    monkeypatch.setattr(atomic.shutil, "rmtree", read_only)
    for argv in (["analyze", str(ds), "--no-figures"], ["neuroglancer", str(ds)]):
        assert main(argv) == EXIT_ERROR
        err = capsys.readouterr().err
        assert err.startswith("error: cannot write ") and "Read-only file system" in err and "Traceback" not in err, err


def test_a_folder_that_cannot_be_made_gives_a_message(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["build", "--out", str(blocker / "ds"), "--raw-dir", str(tmp_path / "raw"), "--cells", "6", "--seed", "7"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and err.startswith("error: cannot write ") and str(blocker) in err, err
