"""Where per-cell tasks run: this process, local worker processes, or a Dask cluster.

Local workers are started with ``spawn``, never ``fork``: the parent may already have started
an OpenMP runtime (pykdtree uses one), and a forked child that touches it deadlocks. Every
worker runs single-threaded so that N workers use N cores without oversubscription, and exits
as soon as its parent is gone, however the parent died (SIGKILL, the OOM killer): a thread
waits on the parent's sentinel. What a killed build leaves is resumable as ever (finished cells
are on disk; temporaries are removed by the next run).

On Dask (``--scheduler tcp://HOST:PORT`` or ``local`` for a ``LocalCluster``) tasks are retried
when a worker is lost; each finished cell is already on disk, so nothing finished is lost.
The results are the same bytes whichever way the tasks ran.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DASK_RETRIES = 3


#: Exit status of a worker that outlived its parent.
ORPHAN_EXIT = 75


def _exit_when_parent_dies() -> None:
    """In a worker process: exit at once when the parent process is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(ORPHAN_EXIT)  # no cleanup to run: every write is atomic, the next build resumes

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init_worker() -> None:
    os.environ.update(ONE_THREAD)
    _exit_when_parent_dies()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh (spawned), single-threaded processes."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )


def run_tasks(fn: Callable[[T], R], tasks: Iterable[T], workers: int = 1, scheduler: str | None = None) -> Iterator[R]:
    """Run ``fn`` on every task, yielding results as they complete (in no fixed order).

    Parameters
    ----------
    fn : picklable callable
    tasks : iterable of picklable tasks
    workers : int
        Local processes (``scheduler`` None), or workers of a ``LocalCluster``.
    scheduler : str, optional
        ``"local"`` for a Dask ``LocalCluster`` of ``workers`` single-threaded processes, or the
        address of a running Dask scheduler (``tcp://HOST:PORT``).
    """
    tasks = list(tasks)
    if scheduler:
        yield from _run_dask(fn, tasks, workers, scheduler)
    elif workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield fn(t)
    else:
        with process_pool(workers) as pool:
            for f in as_completed([pool.submit(fn, t) for t in tasks]):
                yield f.result()


#: Dask settings for a LocalCluster: no statistical profiler (it samples every worker's stack
#: every 10 ms while holding the GIL) and no dashboard.
DASK_CONFIG = {"distributed.worker.profile.enabled": False}


def _run_dask(fn: Callable[[T], R], tasks: list[T], workers: int, scheduler: str) -> Iterator[R]:
    import dask
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if scheduler == "local":
        with dask.config.set(DASK_CONFIG):  # workers take the config they are started with
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, env=dict(ONE_THREAD)
            )
        address = cluster
    else:
        address = scheduler
    log.info("running %d tasks on Dask (%s)", len(tasks), "LocalCluster" if cluster else scheduler)
    client = Client(address)
    try:
        # one small message per task (client.map would ship every task's rows in one graph)
        futures = [client.submit(fn, t, pure=False, retries=DASK_RETRIES) for t in tasks]
        for f in dask_completed(futures):
            yield f.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
