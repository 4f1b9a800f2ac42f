"""Process helpers for tests that start, watch and kill processes on a slow, loaded machine.

Processes vanish or turn zombie at any moment between two calls: every helper here treats
``psutil.NoSuchProcess``, ``psutil.ZombieProcess`` and ``psutil.AccessDenied`` as "gone" instead
of failing, and waits on conditions (with a deadline), never on fixed sleeps.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import psutil


def cmdline(pid: int) -> str:
    """The command line of ``pid``, or "" when it has exited, is a zombie or cannot be read."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def descendants(pid: int, skip: tuple[str, ...] = ("resource_tracker",)) -> list[int]:
    """Live descendants of ``pid`` whose command line contains none of ``skip`` (zombies left out)."""
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for c in kids:
        line = cmdline(c.pid)
        if line and not any(s in line for s in skip) and alive(c.pid):
            out.append(c.pid)
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has finished: it counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)


def kill_all(pids: list[int]) -> None:
    """SIGKILL every pid still there (a pid that is already gone is fine)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers an HTTP GET (any status below 500)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def stop(proc, grace: float = 20.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session=True``), then
    SIGKILL what is left after ``grace`` seconds; reaps ``proc``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=grace)
            if sig == signal.SIGTERM:  # the leader is gone; children of its group may linger
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            return
        except Exception:  # TimeoutExpired: escalate
            continue
