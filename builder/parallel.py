"""Local worker processes for per-cell work.

Workers are started with ``spawn``, never ``fork``: the parent may already have started an
OpenMP runtime (pykdtree uses one), and a forked child that touches it deadlocks. Each worker
runs single-threaded so that N workers use N cores without oversubscription.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def _one_thread_per_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh (spawned), single-threaded processes."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_one_thread_per_worker,
    )
