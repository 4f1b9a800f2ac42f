"""Read a built L2/3 dataset: the reader that stands beside the writers.

The explorer (and notebooks) read datasets only through :class:`Dataset`. Cell-level tables
are loaded when the dataset is opened; skeleton nodes and meshes, which are large, are read
one cell at a time from their Parquet row groups (the builder writes one row group per cell).

Examples
--------
>>> ds = Dataset.open("data/demo")                                   # doctest: +SKIP
>>> ds.cells[["cell_id", "cell_type", "n_mito"]].head()              # doctest: +SKIP
>>> nodes = ds.skeleton_nodes(int(ds.cells.cell_id[0]))              # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from builder.compute.meshes import MeshBatch
from builder.errors import DatasetError
from builder.store.meshes import decode_meshes
from builder.store.paths import DatasetPaths

BUILD_HINT = "build one with `python -m builder` (demo) or point --data at a built dataset"


class _RowGroupIndex:
    """cell_id -> row groups of a Parquet file written one cell per row group."""

    def __init__(self, path: Path) -> None:
        self.file = pq.ParquetFile(path)
        col = self.file.schema_arrow.get_field_index("cell_id")
        self.groups: dict[int, list[int]] = {}
        for i in range(self.file.num_row_groups):
            st = self.file.metadata.row_group(i).column(col).statistics
            if st is None or not st.has_min_max or st.min != st.max:
                raise DatasetError(f"{path}: row group {i} is not a single cell; rebuild the dataset")
            self.groups.setdefault(int(st.min), []).append(i)

    def read(self, cell_id: int, columns: list[str] | None = None):
        groups = self.groups.get(int(cell_id), [])
        if not groups:
            return self.file.schema_arrow.empty_table() if columns is None else self.file.schema_arrow.empty_table().select(columns)
        return self.file.read_row_groups(groups, columns=columns)


class Dataset:
    """A built dataset opened read-only.

    Attributes
    ----------
    root : Path
    manifest : dict
    cells : DataFrame
        The cell table with per-cell counts (``tables/cells.parquet``).
    mitochondria : DataFrame
        All mitochondria (``tables/mitochondria.parquet``), columns as in DESIGN section 4.
    synapses : DataFrame
        All synapse rows (``tables/synapses.parquet``).
    """

    def __init__(self, root: Path, cache_cells: int = 8) -> None:
        self.root = Path(root)
        self.paths = DatasetPaths(self.root)
        if not self.paths.manifest.is_file():
            raise DatasetError(f"{self.root}: no manifest.json, so this is not a built L2/3 dataset; {BUILD_HINT}")
        try:
            self.manifest = json.loads(self.paths.manifest.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{self.paths.manifest}: unreadable ({exc}); rebuild the dataset") from exc
        for name in ("cells", "mitochondria", "synapses", "skeleton_nodes"):
            if not self.paths.table(name).is_file():
                raise DatasetError(f"{self.paths.table(name)}: missing; rebuild the dataset ({BUILD_HINT})")
        self.cells = pd.read_parquet(self.paths.table("cells"))
        self.mitochondria = pd.read_parquet(self.paths.table("mitochondria"))
        self.synapses = pd.read_parquet(self.paths.table("synapses"))
        self._nodes = _RowGroupIndex(self.paths.table("skeleton_nodes"))
        mesh_path = self.paths.table("mito_meshes")
        self._meshes = _RowGroupIndex(mesh_path) if mesh_path.is_file() else None
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_cells
        self._cell_index = pd.Index(self.cells["cell_id"])

    @classmethod
    def open(cls, root: Path | str) -> "Dataset":
        """Open the dataset at ``root`` (raises :class:`DatasetError` with the fix)."""
        return cls(Path(root))

    @property
    def synthetic(self) -> bool:
        """True for datasets built from the synthetic demo volume."""
        return bool(self.manifest.get("synthetic", False))

    @property
    def has_meshes(self) -> bool:
        """Whether mitochondrion meshes are available."""
        return self._meshes is not None

    def has_cell(self, cell_id: int) -> bool:
        """Whether ``cell_id`` is a cell of this dataset."""
        return int(cell_id) in self._cell_index

    def cell(self, cell_id: int) -> pd.Series:
        """The cell table row of ``cell_id``; :class:`DatasetError` if it is not in the dataset."""
        if not self.has_cell(cell_id):
            raise DatasetError(f"cell {cell_id} is not in the dataset at {self.root}")
        return self.cells.iloc[self._cell_index.get_loc(int(cell_id))]

    def cell_mitochondria(self, cell_id: int) -> pd.DataFrame:
        """Mitochondria of one cell."""
        return self.mitochondria[self.mitochondria["cellid"] == int(cell_id)]

    def cell_synapses(self, cell_id: int) -> pd.DataFrame:
        """Synapse rows of one cell."""
        return self.synapses[self.synapses["cell_id"] == int(cell_id)]

    def _cached(self, key: tuple, load):
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = load()
        self._cache[key] = value
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return value

    def skeleton_nodes(self, cell_id: int) -> pd.DataFrame:
        """Skeleton nodes of one cell: ``node_id, label, x, y, z, radius, parent`` (nm) ..."""
        self.cell(cell_id)
        return self._cached(("nodes", int(cell_id)), lambda: self._nodes.read(cell_id).to_pandas())

    def mito_meshes(self, cell_id: int) -> MeshBatch | None:
        """Meshes (nm) of one cell's mitochondria, or None when the dataset has no meshes."""
        self.cell(cell_id)
        if self._meshes is None:
            return None
        return self._cached(("meshes", int(cell_id)), lambda: decode_meshes(self._meshes.read(cell_id)))

    def numeric_mito_columns(self) -> list[str]:
        """Numeric columns of the mitochondria table that make sense as scatter axes."""
        skip = {"mito_id", "cellid", "far"}
        return [c for c in self.mitochondria.columns if c not in skip and np.issubdtype(self.mitochondria[c].dtype, np.number)]
