"""Many threads reading one shared dataset, as the explorer's threaded server does (run by
tests/store/test_reader_threads.py in a child process, so that a crash or a hang fails the
test instead of killing the test run).

    python tests/store/thread_stress.py DATASET {parquet|archives} SECONDS THREADS

Every thread calls the reader on random cells for SECONDS and compares each answer with the
same call made beforehand by one thread on its own ``Dataset``; the caches are smaller than the
number of cells, so entries are evicted all the time. Prints one JSON line: calls made, the
first distinct errors, and the threads still running at the end.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import explorer.data
from builder.store.reader import Dataset
from explorer.data import ExplorerData


def _same(a: object, b: object) -> bool:
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.reset_index(drop=True).equals(b.reset_index(drop=True))
    if a is None or b is None:
        return a is b
    if isinstance(a, dict):
        return a == b
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("ids", "vertices", "faces", "vertex_offsets"))


def _calls(ds: Dataset, xd: ExplorerData | None, mode: str) -> dict[str, Callable[[int], object]]:
    """The reader calls under test, by name (each returns something comparable with ``_same``)."""
    if mode == "archives":
        return {
            "associations": ds.associations,
            "mito_nodes": ds.mito_nodes,
            "skeleton_nodes": ds.skeleton_nodes,
            "neuron": lambda c: ds.neuron(c).nodes,
        }
    assert xd is not None
    return {
        "skeleton_nodes": ds.skeleton_nodes,
        "mito_meshes": ds.mito_meshes,
        "neuron": lambda c: ds.neuron(c).mitochondria.drop(columns="node_ids"),
        "display_meshes": xd.display_meshes,
        "display_skeleton": xd.display_skeleton,
    }


def main(root: str, mode: str, seconds: float, n_threads: int) -> dict:
    explorer.data.DISPLAY_CACHE = 2  # the explorer's caches evict too
    reference = Dataset(Path(root))
    cells = [int(c) for c in reference.cells["cell_id"]]
    ref_calls = _calls(reference, ExplorerData.load(root) if mode == "parquet" else None, mode)
    expected = {(name, c): fn(c) for name, fn in ref_calls.items() for c in cells}
    shared = Dataset(Path(root), cache_cells=2)  # fewer than the cells: evictions all the time
    xd = None
    if mode == "parquet":
        xd = ExplorerData.load(root)
        xd.ds = shared
    calls = _calls(shared, xd, mode)
    # mostly the per-cell Parquet reads (fast, so many at once), the slower calls between them
    names = [n for n in calls for _ in range(3 if n in ("skeleton_nodes", "mito_meshes", "associations", "mito_nodes") else 1)]
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()
    sys.setswitchinterval(1e-5)  # switch threads often: races show within seconds

    def work(k: int) -> None:
        rng = random.Random(k)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            name, c = rng.choice(names), rng.choice(cells)
            try:
                ok = _same(calls[name](c), expected[(name, c)])
                problem = "" if ok else f"{name}({c}): differs from the single-threaded read"
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                problem = f"{name}({c}): {type(exc).__name__}: {exc}"[:300]
            with lock:
                done[0] += 1
                if problem and problem not in errors:
                    errors.append(problem)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    return {"calls": done[0], "errors": errors[:10], "alive": sum(t.is_alive() for t in threads)}


if __name__ == "__main__":
    out = main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(out), flush=True)
