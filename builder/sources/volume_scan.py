"""Scan a mitochondria segmentation and a cell segmentation chunk by chunk into statistics.

The volume's box is cut into a grid of chunks (the last ones along each axis smaller when the
chunk shape does not divide the box); each chunk is read from both volumes, summarised by
:func:`builder.compute.volume_stats.chunk_stats` and saved as a small ``.npz`` in a work
folder (written to a hidden temporary name, then renamed: a killed run never leaves a
half-written file under the final name). A rerun skips every chunk whose file is present and
valid (made for the same volume paths and box) and computes the others; the saved chunks are then merged
(:func:`builder.compute.volume_stats.merge_stats`). Chunks run on
:func:`builder.parallel.run_tasks` (local processes or Dask): a task carries the volumes'
paths, never open volumes, and each worker holds one chunk of each volume at a time, so
memory is bounded by the chunk, never by the volume.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from builder.compute.volume_stats import ChunkStats, chunk_stats, merge_stats
from builder.errors import InputFileError
from builder.parallel import run_tasks
from builder.store.atomic import atomic_path, remove_stale_temporaries
from builder.store.lock import folder_lock

log = logging.getLogger(__name__)
Box = tuple[tuple[int, int, int], tuple[int, int, int]]
#: Saved chunks merged at a time (bounds the memory of the final merge).
MERGE_BATCH = 256


class VolumeReader(Protocol):
    """A picklable description of a label volume; ``open()`` gives an array-like indexable by
    ``vol[x0:x1, y0:y1, z0:z1]`` (global voxel indices) returning (X, Y, Z) or (X, Y, Z, 1)."""

    def open(self) -> Any: ...


@dataclass(frozen=True)
class CloudVolumeReader:
    """A cloud-volume path (``file://``, ``gs://``, ``precomputed://https://...``) at one mip.

    Missing chunks read as 0 (background), as unlabelled space does in precomputed volumes.
    """

    path: str
    mip: int = 0

    def open(self) -> Any:
        """The opened ``cloudvolume.CloudVolume``."""
        from cloudvolume import CloudVolume

        return CloudVolume(self.path, mip=self.mip, fill_missing=True, progress=False)


@dataclass(frozen=True)
class ChunkTask:
    """One chunk to summarise: both volumes, its box ``[lo, hi)`` and its file."""

    mito: VolumeReader
    cells: VolumeReader
    lo: tuple[int, int, int]
    hi: tuple[int, int, int]
    out: str
    source: str


@dataclass(frozen=True)
class ChunkDone:
    """What a task returns: its box, how many mitochondria it found, or why its labels are unusable."""

    lo: tuple[int, int, int]
    n_mito: int
    error: str | None = None
    error_path: str = ""


def chunk_boxes(bbox: Box, chunk_shape: Sequence[int]) -> list[Box]:
    """The chunks ``[lo, hi)`` of a box, in x-fastest order.

    Parameters
    ----------
    bbox : ((x0, y0, z0), (x1, y1, z1))
        Global voxel indices, end exclusive.
    chunk_shape : (int, int, int)
        Voxels per chunk; the last chunk along an axis is cut at the box's end.
    """
    lo, hi, shape = (np.asarray(v, np.int64) for v in (bbox[0], bbox[1], chunk_shape))
    if lo.shape != (3,) or hi.shape != (3,) or shape.shape != (3,) or (hi <= lo).any() or (shape <= 0).any():
        raise ValueError(f"bad volume box {bbox} or chunk shape {tuple(chunk_shape)}: need lo < hi and positive chunk sides")
    starts = [range(int(a), int(b), int(s)) for a, b, s in zip(lo, hi, shape)]
    boxes = []
    for z, y, x in product(starts[2], starts[1], starts[0]):
        c0 = np.array([x, y, z], np.int64)
        c1 = np.minimum(c0 + shape, hi)
        boxes.append((_triple(c0), _triple(c1)))
    return boxes


def _triple(a: np.ndarray) -> tuple[int, int, int]:
    return int(a[0]), int(a[1]), int(a[2])


def _inside(boxes: Sequence[Box], bbox: Box) -> list[Box]:
    """``boxes`` cut to ``bbox`` (empty ones left out), sorted z, y, x as :func:`chunk_boxes` orders them."""
    lo, hi = np.asarray(bbox[0], np.int64), np.asarray(bbox[1], np.int64)
    out = []
    for b0, b1 in boxes:
        c0, c1 = np.maximum(np.asarray(b0, np.int64), lo), np.minimum(np.asarray(b1, np.int64), hi)
        if (c1 > c0).all():
            out.append((_triple(c0), _triple(c1)))
    return sorted(set(out), key=lambda b: (b[0][2], b[0][1], b[0][0]))


def _as_reader(vol: str | VolumeReader, mip: int) -> VolumeReader:
    return CloudVolumeReader(vol, mip) if isinstance(vol, str) else vol


def scan_volumes(
    mito: str | VolumeReader,
    cells: str | VolumeReader,
    bbox: Box,
    chunk_shape: Sequence[int],
    work_dir: Path,
    *,
    mip: int = 0,
    workers: int = 1,
    scheduler: str | None = None,
    boxes: Sequence[Box] | None = None,
) -> ChunkStats:
    """Statistics of every mitochondrion of a volume, computed chunk by chunk, resumable.

    Parameters
    ----------
    mito, cells : str or VolumeReader
        The mitochondria and cell segmentations (one grid, same voxel size): a cloud-volume
        path (opened at ``mip``) or a picklable reader.
    bbox : ((x0, y0, z0), (x1, y1, z1))
        The box to scan, global voxel indices of the volumes, end exclusive.
    chunk_shape : (int, int, int)
        Voxels per chunk; a multiple of the volumes' storage chunks reads fastest.
    work_dir : Path
        Folder of the per-chunk ``.npz`` files (created), locked for the scan (a second scan
        of it is refused with the first one's process); stale temporaries of a killed run are
        removed under the lock.
    mip : int
        Resolution level at which string paths are opened.
    workers : int
        Local processes, or workers of a Dask ``LocalCluster`` (see ``run_tasks``).
    scheduler : str, optional
        ``"local"`` or a Dask scheduler address (``tcp://HOST:PORT``).
    boxes : sequence of ((x0, y0, z0), (x1, y1, z1)), optional
        Scan only these chunks (disjoint, inside ``bbox``; e.g. the storage chunks a sparse
        mitochondria layer holds: a missing chunk has no mitochondrion, so skipping it changes
        nothing) instead of the grid of ``bbox`` cut by ``chunk_shape``.

    Returns
    -------
    ChunkStats
        The merged statistics, global voxel indices at the volumes' resolution; the same
        whatever the chunk shape, the number of workers and the runs it took.

    Raises
    ------
    InputFileError
        A volume holds non-integer, negative or >= 2**63 labels, or returned a cutout of the
        wrong shape.
    """
    readers = (_as_reader(mito, mip), _as_reader(cells, mip))
    work_dir = Path(work_dir)
    source = f"{readers[0]!r} | {readers[1]!r}"
    with folder_lock(work_dir, "scan of the mitochondria and cell volumes"):  # one writer
        remove_stale_temporaries(work_dir)
        grid = chunk_boxes(bbox, chunk_shape) if boxes is None else _inside(boxes, bbox)
        tasks = [ChunkTask(*readers, lo, hi, str(work_dir / _chunk_name(lo)), source) for lo, hi in grid]
        todo = [t for t in tasks if load_chunk(t) is None]
        log.info(
            "%d chunks of %s voxels: %d done, %d to compute", len(tasks), tuple(chunk_shape), len(tasks) - len(todo), len(todo)
        )
        _run(todo, workers, scheduler)
        return _merge_saved(tasks)


def _run(todo: list[ChunkTask], workers: int, scheduler: str | None) -> None:
    """Compute the chunks, logging progress (about 20 lines at INFO, every chunk at DEBUG)."""
    every = max(1, len(todo) // 20)
    for i, done in enumerate(run_tasks(scan_chunk, todo, workers=workers, scheduler=scheduler), 1):
        if done.error is not None:
            raise InputFileError(done.error_path.removeprefix("file://"), done.error, "Check the volume and the scanned box")
        level = logging.INFO if i % every == 0 or i == len(todo) else logging.DEBUG
        log.log(level, "computed chunk at %s (%d/%d): %d mitochondria", done.lo, i, len(todo), done.n_mito)


def _chunk_name(lo: tuple[int, int, int]) -> str:
    return "chunk_{}_{}_{}.npz".format(*lo)


def _read(vol: Any, lo: tuple[int, int, int], hi: tuple[int, int, int], what: str) -> np.ndarray:
    """One cutout of the ``what`` volume as an (X, Y, Z) array; ValueError for another shape."""
    a = np.asarray(vol[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
    if a.ndim == 4 and a.shape[3] == 1:
        a = a[..., 0]
    want = tuple(b - a0 for a0, b in zip(lo, hi))
    if a.shape != want:
        raise ValueError(f"{what} cutout {lo}..{hi} has shape {a.shape}, not {want}: is the box inside the volume?")
    return a


def scan_chunk(task: ChunkTask) -> ChunkDone:
    """Summarise one chunk and save it (atomically) to ``task.out``; a task function of
    :func:`builder.parallel.run_tasks`. Unusable labels are returned as ``error``."""
    try:
        mito = _read(task.mito.open(), task.lo, task.hi, "mitochondria")
        cells = _read(task.cells.open(), task.lo, task.hi, "cell")
        stats = chunk_stats(mito, cells, task.lo)
    except ValueError as exc:  # the message says which volume: "cell ..." or "mitochondria ..."
        vol = task.cells if str(exc).startswith("cell") else task.mito
        return ChunkDone(task.lo, 0, f"chunk {task.lo}..{task.hi}: {exc}", getattr(vol, "path", repr(vol)))
    del mito, cells
    arrays: dict[str, Any] = {
        "lo": np.asarray(task.lo),
        "hi": np.asarray(task.hi),
        "source": np.asarray(task.source),
        **stats.arrays(),
    }
    with atomic_path(Path(task.out)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return ChunkDone(task.lo, stats.n)


def load_chunk(task: ChunkTask) -> ChunkStats | None:
    """The saved statistics of a chunk, or None when its file is missing, unreadable or made
    for other volumes or another box (then the chunk is computed again)."""
    path = Path(task.out)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            same = str(z["source"]) == task.source and tuple(z["lo"]) == task.lo and tuple(z["hi"]) == task.hi
            stats = ChunkStats.from_arrays(dict(z)) if same else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("chunk file %s is unreadable (%s): computing it again", path, exc)
        return None
    if stats is None:
        log.warning("chunk file %s was made for other volumes or another box: computing it again", path)
    return stats


def _merge_saved(tasks: list[ChunkTask]) -> ChunkStats:
    """Merge the saved chunks, :data:`MERGE_BATCH` files at a time."""
    acc = ChunkStats.empty()
    for k in range(0, len(tasks), MERGE_BATCH):
        parts = [load_chunk(t) for t in tasks[k : k + MERGE_BATCH]]
        missing = [t.out for t, p in zip(tasks[k:], parts) if p is None]
        if missing:
            raise InputFileError(missing[0], "a chunk's statistics vanished or broke during the scan", "Run the scan again")
        acc = merge_stats([acc, *(p for p in parts if p is not None)])
    return acc
