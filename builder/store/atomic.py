"""Atomic writes: write to a hidden temporary file (or folder) beside the target, then rename.

A reader (or a rerun after a crash) sees either the old file or the complete new one, never a
half-written file under the final name; a folder written with :func:`atomic_folder` replaces
the previous one whole (every file of one run, none of another).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from builder.errors import OutputWriteError

TMP_MARK = ".tmp-"
#: Mark of a folder renamed aside while :func:`atomic_folder` puts the new one in place.
OLD_MARK = ".old-"


def tmp_path(path: Path) -> Path:
    """Temporary sibling of ``path`` (hidden, unique per process)."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success fsync and rename it to ``path``."""
    path = Path(path)
    tmp = tmp_path(path)
    with _discarded_on_error(tmp, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)


@contextlib.contextmanager
def _discarded_on_error(tmp: Path, path: Path) -> Iterator[None]:
    """Remove ``tmp`` when the block fails; an OSError becomes an :class:`OutputWriteError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        _discard(tmp)
        raise OutputWriteError(path, exc) from exc
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    """Remove a temporary file or folder; a failure here (a read-only file system) must not hide
    the error that made the write fail."""
    with contextlib.suppress(OSError):
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp)
        else:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` whole.

    The previous folder is renamed aside (``.NAME.old-PID``), the new one renamed into place,
    then the old one deleted: killed at any point, ``path`` is either the previous run's folder
    or this run's (:func:`restore_folder` puts an aside folder back if the kill fell between
    the two renames). Hold the folder's lock (:mod:`builder.store.lock`) around it.
    """
    path = Path(path)
    tmp = tmp_path(path)
    old = path.with_name(f".{path.name}{OLD_MARK}{os.getpid()}")
    with _discarded_on_error(tmp, path):
        restore_folder(path)
        for stale in path.parent.glob(f".{path.name}{TMP_MARK}*") if path.parent.is_dir() else ():
            _discard(stale)  # of a killed run (we hold the lock: no live writer's)
        tmp.mkdir(parents=True)
        yield tmp
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    _discard(old)


def restore_folder(path: Path) -> None:
    """Put back a folder that :func:`atomic_folder` renamed aside when it was killed before the
    new one took its place; delete aside copies that are no longer needed."""
    path = Path(path)
    aside = sorted(path.parent.glob(f".{path.name}{OLD_MARK}*")) if path.parent.is_dir() else []
    for i, old in enumerate(aside):
        if i == 0 and not path.exists():
            os.replace(old, path)
        else:
            _discard(old)


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Atomically write ``path`` with ``writer(tmp_path)``."""
    with atomic_path(path) as tmp:
        writer(tmp)


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporary files and folders left by an interrupted run under ``root``; returns how
    many. Call it only while holding the folder's lock: another writer's temporaries are live."""
    n = 0
    if root.is_dir():
        for p in sorted(root.rglob(f".*{TMP_MARK}*"), key=lambda q: len(q.parts)):
            if p.exists() or p.is_symlink():
                _discard(p)
                n += 1
    return n


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
