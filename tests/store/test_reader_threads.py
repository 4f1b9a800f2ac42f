"""One dataset shared by many threads (the explorer's threaded server) reads what one thread
reads: no crash, no hang, no error, no wrong rows, while its caches evict all the time."""

from __future__ import annotations

import doctest
import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from builder.store import lru
from builder.store.lru import LRUCache
from tests.conftest import REPO

STRESS = Path(__file__).with_name("thread_stress.py")


def _stress(root: Path, mode: str, seconds: float, threads: int = 16) -> dict:
    """Run tests/store/thread_stress.py in a child process (a crash or a hang there fails the
    test, it does not end the test run)."""
    cmd = [sys.executable, str(STRESS), str(root), mode, str(seconds), str(threads)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{threads} threads reading one dataset hung (no answer within {seconds + 90} s)")
    if r.returncode < 0:
        pytest.fail(f"{threads} threads reading one dataset crashed: {signal.Signals(-r.returncode).name}\n{r.stderr[-2000:]}")
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_sixteen_threads_read_the_parquet_tables_as_one_thread_does(small_dataset):
    out = _stress(small_dataset, "parquet", seconds=7)
    assert out["errors"] == [] and out["alive"] == 0
    assert out["calls"] >= 16


def test_sixteen_threads_read_the_archives_as_one_thread_does(small_dataset, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    for folder in ("microns", "morphologies", "nodes", "tables"):  # the archives alone: one shared tarfile each
        shutil.rmtree(ds / folder)
    out = _stress(ds, "archives", seconds=3)
    assert out["errors"] == [] and out["alive"] == 0
    assert out["calls"] >= 16


def test_the_lru_cache_keeps_the_most_recent_and_gives_each_key_its_value():
    assert doctest.testmod(lru).failed == 0
    made: list[str] = []
    cache: LRUCache[str] = LRUCache(2)

    def get(key: str) -> str:
        return cache.get(key, lambda: made.append(key) or key.upper())

    assert [get("a"), get("b"), get("a"), get("c")] == ["A", "B", "A", "C"]
    assert "b" not in cache and "a" in cache and len(cache) == 2
    assert made == ["a", "b", "c"]
    none: LRUCache[int] = LRUCache(0)
    assert none.get("x", lambda: 1) == 1 and len(none) == 0


def test_the_lru_cache_under_many_threads():
    cache: LRUCache[tuple[int, int]] = LRUCache(3)
    wrong: list[tuple] = []
    sizes: list[int] = []

    def work(k: int) -> None:
        for i in range(3000):
            key = (k * 7 + i) % 10
            value = cache.get(key, lambda key=key: (key, key * key))
            if value != (key, key * key):
                wrong.append((key, value))
            sizes.append(len(cache))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(old)
    assert not any(t.is_alive() for t in threads)
    assert wrong == [] and max(sizes) <= 3
