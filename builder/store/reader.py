"""Read a built L2/3 dataset: the reader that stands beside the writers.

The explorer and the notebooks read datasets only through :class:`Dataset`. It reads the
Parquet tables when present, otherwise the CSV / SWC / JSON layout (from the folders, or from
the archives when the folders are gone), and gives the same frames either way. Skeleton nodes
and meshes, which are large, are read one cell at a time (one Parquet row group per cell).

Examples
--------
>>> ds = Dataset.open(dataset_path)
>>> ds.layout, len(ds.cells) == ds.manifest["counts"]["cells"]
('parquet', True)
>>> cell_id = int(ds.cells.query("cell_type == 'pyramidal'").cell_id.iloc[0])
>>> n = ds.neuron(cell_id)
>>> n.n_nodes == len(ds.skeleton_nodes(cell_id)), set(n.connectors.type) <= {"pre", "post", "autapse"}
(True, True)
>>> bool(abs(n.cable_length / 1000 - ds.cell(cell_id).cable_length_um) < 1e-3)  # nm -> um
True
>>> n.mitochondria[["mito_id", "compartment", "volume_um3", "node_id"]].shape[1]
4
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from builder.compute.meshes import MeshBatch
from builder.errors import DatasetError
from builder.schema import COMPARTMENT_NAMES, NODE_COLUMNS
from builder.store.lru import LRUCache
from builder.store.meshes import decode_meshes
from builder.store.paths import DatasetPaths
from builder.store.reader_checks import (
    BUILD_HINT,
    TABLE_SCHEMAS,
    dataset_problems,
    open_table,
    read_manifest_checked,
    read_table,
    rebuild_hint,
)
from builder.store.reader_files import MemberFiles, load_file_layout, read_associations
from builder.store.reader_layers import layer_names, served_file
from builder.store.tables import MESH_SCHEMA_U16, NODE_SCHEMA

if TYPE_CHECKING:
    import navis

__all__ = ["BUILD_HINT", "Dataset", "dataset_problems", "layer_names", "served_file"]


class _RowGroupIndex:
    """cell_id -> row groups of a Parquet file written one cell per row group.

    Threads share it (the explorer's threaded server): pyarrow's ``ParquetFile`` is not safe to
    read from several threads at once (its read-ahead cache: crashes, ``ReadRangeCache did not
    find matching cache entry``), so reads take turns under a lock (one cell's row group: ms).
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.file = open_table(path, schema)
        self._lock = threading.Lock()
        col = self.file.schema_arrow.get_field_index("cell_id")
        self.groups: dict[int, list[int]] = {}
        for i in range(self.file.num_row_groups):
            st = self.file.metadata.row_group(i).column(col).statistics
            if st is None or not st.has_min_max or st.min != st.max:
                raise DatasetError(f"{path}: row group {i} is not a single cell; rebuild the dataset")
            self.groups.setdefault(int(st.min), []).append(i)

    def read(self, cell_id: int, columns: list[str] | None = None) -> pa.Table:
        """The rows of one cell (an empty table of the file's schema for a cell without rows)."""
        groups = self.groups.get(int(cell_id), [])
        if not groups:
            empty = self.file.schema_arrow.empty_table()
            return empty if columns is None else empty.select(columns)
        try:
            with self._lock:
                return self.file.read_row_groups(groups, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            hint = rebuild_hint(self.path.parent.parent)
            raise DatasetError(f"{self.path}: damaged Parquet data of cell {cell_id} ({exc}); {hint}") from exc


class Dataset:
    """A built dataset opened read-only.

    Parameters
    ----------
    root : Path
        The dataset directory (``manifest.json`` at its top).
    layout : {"auto", "parquet", "files"}
        Where to read from: the Parquet tables, the CSV/SWC/JSON files (or their archives), or
        the tables when present.

    Attributes
    ----------
    root : Path
    manifest : dict
    layout : str
        ``"parquet"`` or ``"files"``.
    cells : DataFrame
        One row per cell: ``cell_id, x, y, z`` (soma, nm), ``cell_type, cell_subtype`` and the
        per-cell counts (mitochondria per compartment, synapses in/out, nodes, cable in um).
    mitochondria : DataFrame
        One row per mitochondrion, columns of README, 'The L2/3 dataset format' (units in the names).
    synapses : DataFrame
        One row per (synapse, cell): ``synapse_id, cell_id, synapse_type, x, y, z`` (nm),
        partners, ``size``, the nearest ``node_id`` and its ``compartment``.

    Raises
    ------
    DatasetError
        Not a dataset, or a damaged one (manifest.json not a JSON object, no or another format
        version, a Parquet table truncated, not Parquet or without a column the reader needs:
        :func:`dataset_problems` lists them all); the message names the file and the fix.

    Notes
    -----
    One ``Dataset`` may be shared by threads (the explorer's threaded server): its per-cell
    cache, its Parquet files and its archives are read under locks.
    """

    def __init__(self, root: Path, layout: str = "auto", cache_cells: int = 8, require_manifest: bool = True) -> None:
        self.root = Path(root)
        self.paths = DatasetPaths(self.root)
        self.manifest: dict = {}
        if self.paths.manifest.is_file():
            self.manifest = read_manifest_checked(self.paths.manifest)
        elif require_manifest:
            raise DatasetError(f"{self.root}: no manifest.json, so this is not a built L2/3 dataset; {BUILD_HINT}")
        have_tables = all(self.paths.table(n).is_file() for n in ("cells", "mitochondria", "synapses", "skeleton_nodes"))
        if layout not in ("auto", "parquet", "files"):
            raise ValueError(f"layout must be auto, parquet or files, not {layout!r}")
        if layout == "parquet" and not have_tables:
            raise DatasetError(f"{self.root / 'tables'}: Parquet tables missing; rebuild the dataset ({BUILD_HINT})")
        self.layout = "parquet" if (layout == "parquet" or (layout == "auto" and have_tables)) else "files"
        self._files = MemberFiles(self.paths)  # folders, or their archives (opened once)
        self._meshes: _RowGroupIndex | None = None
        self._bins: pd.DataFrame | None = None
        self._segments: pd.DataFrame | None = None
        self._file_nodes: dict[int, pd.DataFrame] = {}
        if self.layout == "parquet":
            self._open_tables()
        else:
            self.cells, self.mitochondria, self.synapses, self._file_nodes, self._bins, self._segments = load_file_layout(
                self._files
            )
        self._cache: LRUCache[Any] = LRUCache(cache_cells)  # shared by threads: the explorer's server
        self._load_lock = threading.Lock()
        self._cell_index = pd.Index(self.cells["cell_id"])
        if len(self._cell_index):  # the index's hash table built now (pandas fills it lazily, racing threads see it half-built)
            self.has_cell(int(self._cell_index[0]))

    def _open_tables(self) -> None:
        """Check every Parquet table present (footer and columns), read the small ones, index
        the per-cell ones."""
        for name, schema in TABLE_SCHEMAS.items():
            if name not in ("skeleton_nodes", "mito_meshes") and self.paths.table(name).is_file():
                open_table(self.paths.table(name), schema)
        self.cells = read_table(self.paths.table("cells"))
        self.mitochondria = read_table(self.paths.table("mitochondria"))
        self.synapses = read_table(self.paths.table("synapses"))
        self._nodes = _RowGroupIndex(self.paths.table("skeleton_nodes"), NODE_SCHEMA)
        mesh_path = self.paths.table("mito_meshes")
        self._meshes = _RowGroupIndex(mesh_path, MESH_SCHEMA_U16) if mesh_path.is_file() else None

    @classmethod
    def open(cls, root: Path | str, layout: str = "auto") -> Dataset:
        """Open the dataset at ``root`` (see the class parameters)."""
        return cls(Path(root), layout=layout)

    @property
    def synthetic(self) -> bool:
        """True for datasets built from the synthetic demo volume."""
        return bool(self.manifest.get("synthetic", False))

    @property
    def source_name(self) -> str:
        """The source it was built from: ``demo``, ``phase1`` or ``volume`` (a lab's VOLUME.toml)."""
        src = self.manifest.get("source")
        name = src.get("name") if isinstance(src, dict) else None
        return str(name) if name else ("demo" if self.synthetic else "phase1")

    @property
    def in_phase1_space(self) -> bool:
        """Whether its positions are in the Phase 1 volume's space (the release and the demo,
        which is placed there), so that the public Phase 1 EM and segmentation lie under it."""
        return self.source_name in ("phase1", "demo")

    @property
    def has_meshes(self) -> bool:
        """Whether mitochondrion meshes are available (Parquet layout only)."""
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

    def _cached(self, key: tuple, load: Callable[[], Any]) -> Any:
        return self._cache.get(key, load)

    def skeleton_nodes(self, cell_id: int | None = None) -> pd.DataFrame:
        """Skeleton nodes of one cell (or of all cells when ``cell_id`` is None):
        ``cell_id, node_id, label, x, y, z, radius, parent`` (nm, parent -1 at the soma) and
        ``path_dist_to_soma_um``, in cell then node id order."""
        if cell_id is None:
            if self.layout == "files":
                return pd.concat([self._file_nodes[c][list(NODE_COLUMNS)] for c in self.cells["cell_id"]], ignore_index=True)
            return read_table(self.paths.table("skeleton_nodes"))
        self.cell(cell_id)
        if self.layout == "files":
            return self._file_nodes[int(cell_id)][list(NODE_COLUMNS)]
        return self._cached(("nodes", int(cell_id)), lambda: self._nodes.read(cell_id).to_pandas())

    def mito_meshes(self, cell_id: int) -> MeshBatch | None:
        """Meshes (nm) of one cell's mitochondria, or None when the dataset has no meshes."""
        self.cell(cell_id)
        meshes = self._meshes
        if meshes is None:
            return None
        return self._cached(("meshes", int(cell_id)), lambda: decode_meshes(meshes.read(cell_id)))

    def mesh_ids(self, cell_id: int) -> np.ndarray | None:
        """Ids (int64, sorted as stored) of one cell's mitochondria that have a mesh, read without
        the meshes; None when the dataset has no meshes."""
        self.cell(cell_id)
        meshes = self._meshes
        if meshes is None:
            return None
        if ("meshes", int(cell_id)) in self._cache:
            return self.mito_meshes(cell_id).ids  # type: ignore[union-attr]
        return self._cached(
            ("mesh_ids", int(cell_id)), lambda: meshes.read(cell_id, ["mito_id"]).column("mito_id").to_numpy().astype(np.int64)
        )

    @property
    def distance_bins(self) -> pd.DataFrame:
        """``tables/distance_bins.parquet``: per cell, compartment and 10-um bin of path distance
        to the soma, cable, radius, mitochondrial volume and coverage, synapse counts and density
        (columns :data:`builder.compute.gradients.BIN_COLUMNS`; README, 'The L2/3 dataset format')."""
        return self._whole_table("distance_bins", "_bins", since_format=5)

    @property
    def segments(self) -> pd.DataFrame:
        """``tables/segments.parquet``: the published analysis' statistical unit, one row per
        segment (connected piece of a 10-um bin of distance to the soma surface) with its path
        length, diameters, distances, mitochondrial volume and coverage and input synapses
        (columns :data:`builder.compute.segments.SEGMENT_COLUMNS`; docs/analysis.md)."""
        return self._whole_table("segments", "_segments", since_format=6)

    def _whole_table(self, name: str, attr: str, since_format: int) -> pd.DataFrame:
        """A table read whole on first use (once, whichever threads ask), kept in ``attr``."""
        with self._load_lock:
            if getattr(self, attr) is None:
                p = self.paths.table(name)
                if not p.is_file():
                    raise DatasetError(f"{p}: missing; datasets of format {since_format} and later have it ({BUILD_HINT})")
                setattr(self, attr, read_table(p))
            return getattr(self, attr)

    def mito_nodes(self, cell_id: int) -> pd.DataFrame:
        """One cell's (mitochondrion, node) pairs: ``mito_id, node_id, n_vertices`` (the mesh
        vertices of the mitochondrion nearest that node; MicronsBinder's ``mitotoskel``)."""
        self.cell(cell_id)
        from builder.store.reader_files import read_mito_nodes

        pairs = read_mito_nodes(self._files, int(cell_id))
        return pd.DataFrame({"mito_id": pairs.mito_id, "node_id": pairs.node, "n_vertices": pairs.n_vertices})

    def cell_distance_bins(self, cell_id: int) -> pd.DataFrame:
        """Rows of :attr:`distance_bins` of one cell."""
        self.cell(cell_id)
        return self.distance_bins[self.distance_bins["cell_id"] == int(cell_id)]

    def associations(self, cell_id: int) -> dict[int, list[int]]:
        """``{mito_id: [skeleton node ids it covers]}`` of one cell."""
        self.cell(cell_id)
        return read_associations(self._files, int(cell_id))

    def neuron(self, cell_id: int) -> navis.TreeNeuron:
        """One cell as a ``navis.TreeNeuron`` (units nm).

        Its ``nodes`` carry ``label`` (code 0-5) and ``compartment``; its ``connectors`` are the
        cell's synapses (``connector_id`` = synapse id, ``type`` pre/post/autapse, the partner,
        size and compartment, linked to their nearest node); ``mitochondria`` is the cell's
        mitochondria table with the covered ``node_ids`` and the ``node_id`` nearest each centroid.
        """
        import navis

        from builder.compute.association import nearest_nodes

        row = self.cell(cell_id)
        nodes = self.skeleton_nodes(cell_id)
        swc = nodes.rename(columns={"parent": "parent_id"})[["node_id", "label", "x", "y", "z", "radius", "parent_id"]]
        n = navis.TreeNeuron(swc.copy(), units="nm", id=int(cell_id), name=f"{row.cell_type} {cell_id}")
        n.nodes["compartment"] = n.nodes["label"].map(COMPARTMENT_NAMES)
        n.soma = int(nodes.loc[nodes["parent"] < 0, "node_id"].iloc[0])
        syn = self.cell_synapses(cell_id)
        partner = np.where(syn["synapse_type"] == "pre", syn["post_root_id"], syn["pre_root_id"])
        n.connectors = pd.DataFrame(
            {
                "connector_id": syn["synapse_id"].to_numpy(),
                "node_id": syn["node_id"].to_numpy(),
                "x": syn["x"].to_numpy(),
                "y": syn["y"].to_numpy(),
                "z": syn["z"].to_numpy(),
                "type": syn["synapse_type"].to_numpy(),
                "partner_id": partner,
                "size": syn["size"].to_numpy(),
                "compartment": syn["compartment"].to_numpy(),
            }
        )
        mito = self.cell_mitochondria(cell_id).reset_index(drop=True)
        assoc = self.associations(cell_id)
        node_xyz = nodes[["x", "y", "z"]].to_numpy(np.float64)
        near, _ = nearest_nodes(node_xyz, mito[["x", "y", "z"]].to_numpy(np.float64))
        n.mitochondria = mito.assign(
            node_id=nodes["node_id"].to_numpy()[near], node_ids=[assoc.get(int(m), []) for m in mito["mito_id"]]
        )
        return n

    def numeric_mito_columns(self) -> list[str]:
        """Numeric columns of the mitochondria table that make sense as scatter axes."""
        skip = {"mito_id", "cellid", "far"}
        types = pd.api.types  # is_numeric_dtype also knows pandas 3's string dtype (np.issubdtype does not)
        mito = self.mitochondria
        return [c for c in mito.columns if c not in skip and types.is_numeric_dtype(mito[c]) and not types.is_bool_dtype(mito[c])]
