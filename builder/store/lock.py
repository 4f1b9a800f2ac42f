"""One writer per folder: an exclusive lock that build, neuroglancer, analyze and publish hold.

The lock is ``fcntl.flock`` on the hidden file ``FOLDER/.lock``: the kernel releases it when
its holder ends, however it ends (SIGKILL included), so a lock is never stale. The holder
writes who it is into the file (pid, command, start time) so that a second writer is refused
with a message naming the first. Worker processes are spawned (``builder.parallel``) and do
not inherit the lock's file descriptor.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from builder.errors import FolderBusyError, InputFileError, OutputWriteError

LOCK_NAME = ".lock"


def _holder_text(data: bytes) -> str:
    """The holder as the lock file describes it, in words."""
    try:
        h = json.loads(data.decode())
        return f"pid {h['pid']} on {h['host']}, `{h['command']}`, since {h['started']}"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "a process that has not said who it is yet"


@contextlib.contextmanager
def folder_lock(folder: Path, command: str | None = None) -> Iterator[Path]:
    """Hold the exclusive write lock of ``folder`` (created if needed) for the ``with`` block.

    Parameters
    ----------
    folder : Path
    command : str, optional
        What this process is doing, for the message another writer gets (default: its argv).

    Raises
    ------
    FolderBusyError
        Another process holds the lock; the message names it (pid, host, command, start).
    OutputWriteError
        The folder or its lock file cannot be created (read-only, permissions).
    """
    folder = Path(folder)
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputWriteError(path, exc) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputWriteError(path, exc) from exc
            raise FolderBusyError(folder, _holder_text(os.pread(fd, 4096, 0))) from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": command or " ".join(["python", *sys.argv]),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        try:
            yield folder
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # nobody's: the file stays (deleting it would race a new holder)
    finally:
        os.close(fd)  # releases the lock


def lock_holder(folder: Path) -> str | None:
    """Who holds the write lock of ``folder`` (None when nobody does); takes no lock itself."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _holder_text(os.pread(fd, 4096, 0))
        return None
    finally:
        os.close(fd)


def refuse_unmarked_folder(folder: Path, marker: str, writer: str, fix: str) -> None:
    """Raise :class:`InputFileError` unless ``folder`` is new, empty (hidden files aside) or holds
    ``marker``, the file its ``writer`` leaves there: a writer that deletes and rewrites what it
    finds must never touch a folder it did not make. ``fix`` ends the message."""
    if not folder.is_dir() or (folder / marker).is_file():
        return
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if names:
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise InputFileError(folder, f"holds files {writer} did not write ({shown}) and no marker {marker}; "
                             f"{writer} never writes into such a folder", fix)  # fmt: skip
