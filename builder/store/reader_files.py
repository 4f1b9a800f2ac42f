"""Read the CSV / SWC / JSON layout of a dataset, from its folders or from its archives.

Gives exactly the frames the Parquet tables hold: columns the CSV files do not carry (per-cell
counts, a synapse's nearest node and compartment, node path distances) are recomputed with the
same functions the builder used, from the same rounded SWC coordinates.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading

import numpy as np
import pandas as pd

from builder.compute.compartments import synapse_compartments
from builder.compute.counts import cell_counts
from builder.compute.gradients import BIN_COLUMNS, cell_gradients, cell_totals
from builder.compute.mito_nodes import MitoNodes
from builder.compute.segments import SEGMENT_COLUMNS, cell_segments
from builder.compute.skeleton import Tree
from builder.errors import DatasetError
from builder.schema import CELL_COLUMNS, MITO_COLUMNS, SWC_COLUMNS, SYNAPSE_COLUMNS, SYNAPSE_EXTRA_COLUMNS
from builder.store.paths import DatasetPaths
from builder.store.tables import CELL_SCHEMA, VERTEX_COUNT_COLUMNS


class MemberFiles:
    """Dataset members by relative path (``microns/x.csv``), from folders or their archives.

    Threads may share it: an archive is one open ``tarfile`` (one file position), so opening it
    and reading its members take turns under a lock.
    """

    def __init__(self, paths: DatasetPaths) -> None:
        self.paths = paths
        self._tars: dict[str, tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]] = {}
        self._lock = threading.Lock()

    def _tar(self, folder: str) -> tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]:
        """The open archive of ``folder`` and its files by name (call with the lock held)."""
        if folder not in self._tars:
            a = self.paths.archive(folder)
            if not a.is_file():
                raise DatasetError(f"{self.paths.root}: neither {folder}/ nor {a.name} exists; rebuild the dataset")
            try:
                tf = tarfile.open(a, "r:gz")
                self._tars[folder] = (tf, {m.name: m for m in tf.getmembers() if m.isfile()})
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise DatasetError(f"{a}: damaged archive ({exc}); rebuild the dataset") from exc
        return self._tars[folder]

    def read_bytes(self, rel: str) -> bytes:
        """Bytes of a member; :class:`DatasetError` naming the file when it is missing."""
        p = self.paths.root / rel
        if p.is_file():
            return p.read_bytes()
        folder = rel.split("/", 1)[0]
        if (self.paths.root / folder).is_dir():
            raise DatasetError(f"{p}: missing; rebuild the dataset")
        archive = self.paths.archive(folder)
        with self._lock:
            tf, members = self._tar(folder)
            if rel not in members:
                raise DatasetError(f"{archive}: has no member {rel}; rebuild the dataset")
            try:
                member = tf.extractfile(members[rel])
                data = None if member is None else member.read()
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise DatasetError(f"{archive}: damaged member {rel} ({exc}); rebuild the dataset") from exc
        if data is None:  # not a regular file
            raise DatasetError(f"{archive}: member {rel} is not a file; rebuild the dataset")
        return data


def read_swc(data: bytes, name: str) -> pd.DataFrame:
    """An SWC file of the dataset as ``node_id, label, x, y, z, radius, parent``."""
    try:
        df = pd.read_csv(
            io.BytesIO(data), sep=" ", header=None, names=list(SWC_COLUMNS), comment="#", float_precision="round_trip"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{name}: not an SWC file ({exc}); rebuild the dataset") from exc
    if df.isna().any().any():
        raise DatasetError(f"{name}: missing values in the SWC; rebuild the dataset")
    return df.rename(columns={"node": "node_id"}).astype({"node_id": np.int64, "label": np.int64, "parent": np.int64})


def tree_of(nodes: pd.DataFrame) -> Tree:
    """The skeleton tree of SWC nodes (rows in node id order)."""
    nodes = nodes.sort_values("node_id")
    parent = nodes["parent"].to_numpy(np.int64)
    return Tree(
        vertices=nodes[["x", "y", "z"]].to_numpy(np.float64),
        parent=parent,
        root=int(np.flatnonzero(parent < 0)[0]),
        radius=nodes["radius"].to_numpy(np.float64),
    )


def load_file_layout(
    files: MemberFiles,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[int, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Cells, mitochondria, synapses, per-cell skeleton nodes, distance bins and segments from
    the file layout (the derived columns computed as the builder computes them)."""
    paths = files.paths
    cells = pd.read_csv(io.BytesIO(files.read_bytes(paths.cells_csv.name)), float_precision="round_trip")
    if list(cells.columns) != list(CELL_COLUMNS):
        raise DatasetError(f"{paths.cells_csv}: columns {list(cells.columns)}, expected {list(CELL_COLUMNS)}")
    cells = cells.sort_values("cell_id", ignore_index=True)
    syn = pd.read_csv(io.BytesIO(files.read_bytes(paths.synapses_csv.name)), float_precision="round_trip")
    mitos, nodes, syn_parts, counts, bins, segs = [], {}, [], [], [], []
    syn_groups = dict(tuple(syn.groupby("cell_id", sort=False)))
    for r in cells.itertuples(index=False):
        cid = int(r.cell_id)
        m = pd.read_csv(io.BytesIO(files.read_bytes(f"microns/{r.cell_type}_{cid}.csv")), float_precision="round_trip")
        n = read_swc(files.read_bytes(f"morphologies/{cid}.swc"), f"morphologies/{cid}.swc")
        tree = tree_of(n)
        n = n.sort_values("node_id", ignore_index=True)
        labels = n["label"].to_numpy()
        dist = tree.distance_to_soma_um(labels)
        n = n.assign(cell_id=cid, path_dist_to_soma_um=dist)
        s = syn_groups.get(cid, syn.iloc[:0])
        node, comp = synapse_compartments(
            r.cell_type, s[["x", "y", "z"]].to_numpy(np.float64), tree.vertices, labels, np.array([r.x, r.y, r.z])
        )
        pairs = read_mito_nodes(files, cid)
        vol = dict(zip(m["mito_id"].tolist(), m["volume_in_cell_um3"].tolist()))
        kind = s["synapse_type"].to_numpy()
        near, near_um, b = cell_gradients(
            cid, tree.parent, tree.edge_lengths_um(), dist, tree.radius, labels, pairs, vol, node, kind
        )
        bins.append(b)
        segs.append(cell_segments(cid, tree, labels, dist, pairs, vol, node[np.isin(kind, ("post", "autapse"))]))
        syn_parts.append(s.assign(node_id=node, compartment=comp, nearest_mito_id=near.to_numpy(), nearest_mito_path_um=near_um,
                                  path_dist_to_soma_um=dist[node]))  # fmt: skip
        counts.append(cell_counts(m["compartment"], s["synapse_type"], tree.n, tree.cable_length_um()))
        mitos.append(m.assign(mesh_missing=m["mesh_missing"].fillna("").astype(str))[list(MITO_COLUMNS)])
        nodes[cid] = n
    bins_df = pd.concat(bins, ignore_index=True) if bins else pd.DataFrame(columns=list(BIN_COLUMNS))
    seg_df = pd.concat(segs, ignore_index=True) if segs else pd.DataFrame(columns=list(SEGMENT_COLUMNS))
    cells = pd.concat([cells, pd.DataFrame(counts)], axis=1)
    cells = cells.join(cell_totals(bins_df).reindex(cells["cell_id"]).reset_index(drop=True))[CELL_SCHEMA.names]
    mito_df = pd.concat(mitos, ignore_index=True) if mitos else pd.DataFrame(columns=list(MITO_COLUMNS))
    syn_df = pd.concat(syn_parts, ignore_index=True) if syn_parts else syn.assign(**{c: [] for c in SYNAPSE_EXTRA_COLUMNS})
    return cells, mito_df, syn_df[[*SYNAPSE_COLUMNS, *SYNAPSE_EXTRA_COLUMNS]], nodes, bins_df, seg_df


def read_associations(files: MemberFiles, cell_id: int) -> dict[int, list[int]]:
    """``{mito_id: [node ids]}`` of one cell, from ``nodes/`` or ``nodes.tar.gz``."""
    rel = f"nodes/{cell_id}_associated_nodes.json"
    try:
        data = json.loads(files.read_bytes(rel))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{files.paths.root / rel}: not JSON ({exc}); rebuild the dataset") from exc
    return {int(k): [int(x) for x in v] for k, v in data.items()}


def read_mito_nodes(files: MemberFiles, cell_id: int) -> MitoNodes:
    """One cell's (mitochondrion, node, vertex count) pairs from ``nodes/{id}_node_vertex_counts.csv``."""
    rel = f"nodes/{cell_id}_node_vertex_counts.csv"
    try:
        df = pd.read_csv(io.BytesIO(files.read_bytes(rel)))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{files.paths.root / rel}: not a CSV file ({exc}); rebuild the dataset") from exc
    if list(df.columns) != list(VERTEX_COUNT_COLUMNS):
        raise DatasetError(f"{files.paths.root / rel}: columns {list(df.columns)}, expected mito_id, node_id, n_vertices")
    a = df.to_numpy(np.int64)
    return MitoNodes(mito_id=a[:, 0], node=a[:, 1], n_vertices=a[:, 2])
