"""Atomic file writes: write to a hidden temporary file beside the target, then rename.

A reader (or a rerun after a crash) sees either the old file or the complete new one, never a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from builder.errors import OutputWriteError

TMP_MARK = ".tmp-"


def tmp_path(path: Path) -> Path:
    """Temporary sibling of ``path`` (hidden, unique per process)."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success fsync and rename it to ``path``."""
    path = Path(path)
    tmp = tmp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputWriteError(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Atomically write ``path`` with ``writer(tmp_path)``."""
    with atomic_path(path) as tmp:
        writer(tmp)


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporaries left by an interrupted build under ``root``; returns how many."""
    n = 0
    if root.is_dir():
        for p in root.rglob(f".*{TMP_MARK}*"):
            p.unlink(missing_ok=True)
            n += 1
    return n


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
