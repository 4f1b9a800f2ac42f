"""Read-only dataset access for the explorer, through the builder's reader.

One :class:`ExplorerData` is made per app from the dataset path given at start-up; nothing the
browser sends is ever used as a path. Ids travel to the browser as strings (MICrONS root ids
exceed JavaScript's 2^53 integer precision) and are parsed back here.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from builder.compute.meshes import MeshBatch, cluster_simplify
from builder.compute.skeleton import thin_tree
from builder.schema import MESH_MEASURE_COLUMNS
from builder.store.lru import LRUCache
from builder.store.reader import Dataset

log = logging.getLogger(__name__)
_ID = re.compile(r"^\d{1,20}$", re.ASCII)
MAX_SELECTION = 20_000
#: Synapse columns the morphometrics scatter can show (synapses.parquet).
SYNAPSE_SCATTER_COLUMNS = ("size", "nearest_mito_path_um", "path_dist_to_soma_um")
#: Display meshes: vertex-clustering grid = each mitochondrion's thickness / this (30-250 nm).
DISPLAY_CELLS_ACROSS = 2.0
#: Cells whose display meshes, and (cell, spacing) pairs whose thinned skeletons, stay cached.
DISPLAY_CACHE = 16
#: Cells waiting to be read ahead (more requests are ignored: a flood of links costs nothing).
PREFETCH_QUEUE = 4
#: Views of a scope (statistics with their bootstrap) kept, so that a click elsewhere that leaves
#: the scope's cells as they were does not compute them again.
VIEW_CACHE = 32


def parse_id(text: object) -> int | None:
    """An id from browser input, or None when it is not 1-20 decimal digits."""
    s = str(text).strip() if text is not None else ""
    return int(s) if _ID.match(s) else None


def parse_ids(values: list | None, limit: int = MAX_SELECTION) -> list[int]:
    """Valid ids of a list from the browser (at most ``limit``; invalid entries dropped)."""
    out = []
    for v in (values or [])[:limit]:
        i = parse_id(v)
        if i is not None:
            out.append(i)
    return out


@dataclass
class ExplorerData:
    """The dataset and the tables the views share, prepared once at start-up."""

    ds: Dataset
    mitos: pd.DataFrame  # all mitochondria + cell_type
    numeric_columns: list[str]
    # shared by the server's threads: thread-safe least-recently-used caches
    _display: LRUCache[MeshBatch | None] = field(default_factory=lambda: LRUCache(DISPLAY_CACHE), repr=False)
    _skeletons: LRUCache[pd.DataFrame] = field(default_factory=lambda: LRUCache(DISPLAY_CACHE), repr=False)
    _synapses: list = field(default_factory=list, repr=False)
    _views: LRUCache = field(default_factory=lambda: LRUCache(VIEW_CACHE), repr=False)
    _ahead: queue.Queue = field(default_factory=lambda: queue.Queue(PREFETCH_QUEUE), repr=False)
    _reader: list = field(default_factory=list, repr=False)
    _reader_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, root: Path | str) -> ExplorerData:
        ds = Dataset.open(root)
        mitos = ds.mitochondria.merge(
            ds.cells[["cell_id", "cell_type", "cell_subtype"]], left_on="cellid", right_on="cell_id", how="left"
        ).drop(columns="cell_id")
        return cls(ds=ds, mitos=mitos, numeric_columns=ds.numeric_mito_columns())

    @property
    def synapses(self) -> pd.DataFrame:
        """All synapse rows with their cell's type (made on first use: the scatter of synapses)."""
        if not self._synapses:
            self._synapses.append(self.ds.synapses.merge(self.ds.cells[["cell_id", "cell_type"]], on="cell_id", how="left"))
        return self._synapses[0]

    @property
    def synapse_columns(self) -> list[str]:
        """Numeric synapse columns the scatter offers: cleft size, nearest mitochondrion along the
        skeleton, distance to the soma surface (those the dataset has)."""
        return [c for c in SYNAPSE_SCATTER_COLUMNS if c in self.ds.synapses.columns]

    @property
    def measures_without_values(self) -> list[str]:
        """Numeric columns with no finite value in the whole dataset (e.g. the mesh measures of
        a dataset built without meshes)."""
        return [c for c in self.numeric_columns if not np.isfinite(self.mitos[c].to_numpy(np.float64)).any()]

    def scatter_defaults(self) -> tuple[str, str, list[str]]:
        """Default scatter axes and log toggles: volume against complexity index when the
        dataset has mesh measures, else volume against path distance to the soma."""
        if "complexityindex" not in self.measures_without_values:
            return "volume_um3", "complexityindex", ["log x", "log y"]
        return "path_dist_to_soma_um", "volume_um3", ["log y"]

    def mesh_note(self) -> str:
        """What a user should know when mesh measures are missing (empty when all are there)."""
        empty = [c for c in self.measures_without_values if c in MESH_MEASURE_COLUMNS]
        if not empty:
            return ""
        reasons = self.mitos.get("mesh_missing", pd.Series(dtype=str))
        reason = reasons[reasons.astype(str) != ""].astype(str).value_counts()
        why = f" (build report reason: {reason.index[0]})" if len(reason) else ""
        return (
            f"This dataset has no mitochondrion meshes{why}, so {', '.join(empty)} have no values. Volume "
            "(from mito_vx), position, compartment and distances along the skeleton are all there. Rebuild with a "
            "reachable --mesh-source to add the mesh measures."
        )

    def cell_table(self, cell_types: list[str] | None, subtypes: list[str] | None, query: str | None) -> pd.DataFrame:
        """Cells passing the filters, ids as strings, counts as numbers."""
        c = self.ds.cells
        keep = pd.Series(True, index=c.index)
        if cell_types:
            keep &= c["cell_type"].isin(cell_types)
        if subtypes:
            keep &= c["cell_subtype"].isin(subtypes)
        q = (query or "").strip()
        if q:
            keep &= c["cell_id"].astype(str).str.contains(re.escape(q[:20]), regex=True)
        out = c.loc[keep].copy()
        out["cell_id"] = out["cell_id"].astype(str)
        out["cable_length_um"] = out["cable_length_um"].round(1)
        return out

    def display_meshes(self, cell_id: int) -> MeshBatch | None:
        """The cell's mitochondrion meshes simplified for the cell view (vertex clustering).

        At cell scale a mitochondrion spans a few pixels; clustering to half its thickness keeps
        its shape and cuts the vertices about 6-fold. Cached per cell (:data:`DISPLAY_CACHE` cells).
        """

        def make() -> MeshBatch | None:
            full = self.ds.mito_meshes(cell_id)
            return None if full is None else cluster_simplify(full, cells_across=DISPLAY_CELLS_ACROSS)

        return self._display.get(int(cell_id), make)

    def display_skeleton(self, cell_id: int, spacing_um: float = 1.0) -> pd.DataFrame:
        """The cell's skeleton thinned for the cell view (:func:`builder.compute.skeleton.thin_tree`):
        roots, branch points, ends and label changes kept, one node per ``spacing_um`` elsewhere.
        The dataset keeps every node. Cached per cell and spacing."""

        def make() -> pd.DataFrame:
            nodes = self.ds.skeleton_nodes(cell_id).sort_values("node_id", ignore_index=True)
            ids = nodes["node_id"].to_numpy()
            parent = nodes["parent"].to_numpy()
            pidx = np.where(parent >= 0, np.searchsorted(ids, np.maximum(parent, 0)), -1)
            dist, labels = nodes["path_dist_to_soma_um"].to_numpy(), nodes["label"].to_numpy()
            keep, new_parent = thin_tree(pidx, dist, labels, spacing_um)
            thin = nodes.iloc[keep].reset_index(drop=True)
            thin["parent"] = np.where(new_parent >= 0, ids[np.maximum(new_parent, 0)], -1)
            return thin

        return self._skeletons.get((int(cell_id), float(spacing_um)), make)

    def read_ahead(self, cell: str | None, then: Callable[[int], object] | None = None) -> None:
        """Read a cell's skeleton and meshes in the background (a link ``/?cell=ID`` is opening:
        its page loads for a second before it asks for the 3D view), then call ``then(cell_id)``
        (a view that keeps what it makes); invalid or unknown ids and a full queue are ignored.
        One daemon thread, started on first use, ends with the process."""
        cid = parse_id(cell)
        if cid is None or not self.ds.has_cell(cid):
            return
        try:
            self._ahead.put_nowait((cid, then))
        except queue.Full:
            return
        with self._reader_lock:
            if not self._reader:
                t = threading.Thread(target=self._read_ahead_loop, name="explorer-read-ahead", daemon=True)
                t.start()
                self._reader.append(t)

    def _read_ahead_loop(self) -> None:
        while True:
            cid, then = self._ahead.get()
            try:
                self.display_skeleton(cid)
                self.ds.mesh_ids(cid)
                if then is not None:  # the view first: it is asked for before the meshes
                    then(cid)
                self.display_meshes(cid)
            except Exception as exc:  # noqa: BLE001 - the request that needs it reports it
                log.info("reading cell %d ahead failed: %s", cid, exc)

    def memo(self, name: str, cells: np.ndarray, params: tuple, make):  # noqa: ANN001, ANN201 - any view
        """``make()``, kept for the view ``name`` of these ``cells`` (int64 ids) and ``params``."""
        key = (name, hashlib.sha256(np.ascontiguousarray(cells, np.int64).tobytes()).hexdigest(), params)
        return self._views.get(key, make)

    def mito_rows(self, ids: list[int]) -> pd.DataFrame:
        """Rows of the given mitochondria, in the order of the table."""
        return self.mitos[self.mitos["mito_id"].isin(ids)]
