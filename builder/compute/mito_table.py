"""One cell's mitochondria table: mesh measures where a mesh exists, table measures always.

A mitochondrion whose mesh cannot be had (absent from the mesh source, unreadable, open, with
bad faces...) is kept: its volume comes from ``mito_vx``, its position and bounding box from
the mitochondria table, its compartment from the skeleton node nearest its centre (flagged in
``compartment_method``: the published analysis never had such mitochondria), and the columns
that need a mesh (:data:`builder.schema.MESH_MEASURE_COLUMNS`) are NaN with the reason in
``mesh_missing``.

Compartments of mitochondria with a mesh follow the published vertex-weighted vote
(:func:`builder.compute.association.majority_labels`); path distances are to the soma surface
(:meth:`builder.compute.skeleton.Tree.distance_to_soma_um`); ``volume_in_cell_um3`` is the
volume the published density analysis splits among nodes: the overlap table's volume inside the
cell when the source has one (``scripts/computedensitystats.py``: "we only count the volume that
overlaps with a given segmentation ID"), else ``volume_um3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from builder.compute.association import associate, covered_path_length_um, majority_labels, nearest_nodes
from builder.compute.compartments import astrocyte_compartments, code_names
from builder.compute.meshes import MeshBatch
from builder.compute.mito_nodes import MitoNodes
from builder.compute.morphometrics import MORPHOMETRIC_COLUMNS, mesh_morphometrics
from builder.compute.skeleton import Tree
from builder.schema import (
    BBOX_COLUMNS,
    COMPARTMENT_METHODS,
    MITO_COLUMNS,
    NM_PER_UM,
    complexity_index,
    mito_vx_to_um3,
)

_MORPHO = tuple(c for c in MORPHOMETRIC_COLUMNS if c not in ("cx", "cy", "cz", "n_vertices"))


@dataclass(frozen=True)
class MitoTable:
    """Result of :func:`mito_table`.

    Attributes
    ----------
    frame : DataFrame
        One row per mitochondrion, columns :data:`builder.schema.MITO_COLUMNS`, sorted by id.
    nodes : dict
        ``{mito_id: sorted int64 array of covered node ids}`` (the nearest node only when the
        mitochondrion has no mesh).
    pairs : MitoNodes
        The same (mitochondrion, node) pairs with the number of mesh vertices nearest each node
        (0 for the one node of a mitochondrion without a mesh).
    """

    frame: pd.DataFrame
    nodes: dict[int, np.ndarray]
    pairs: MitoNodes


def mito_table(
    mitos: pd.DataFrame,
    meshes: MeshBatch,
    missing: Mapping[int, str],
    tree: Tree,
    labels: np.ndarray,
    soma_nm: np.ndarray,
    astrocyte: bool,
    dist_soma_um: np.ndarray | None = None,
) -> MitoTable:
    """Measure and place every mitochondrion of one cell.

    Parameters
    ----------
    mitos : DataFrame
        The cell's rows of the mitochondria table: ``mito_id, cellid, mito_vx, x, y, z`` (nm),
        optionally :data:`builder.schema.BBOX_COLUMNS` (nm) and ``overlap_vx`` (voxels of the
        mitochondrion inside this cell, in ``mito_vx`` units; NaN where unknown).
    meshes : MeshBatch
        Usable (closed, well-formed) meshes, vertices in nm; ids a subset of ``mitos.mito_id``.
    missing : mapping
        ``{mito_id: reason}`` for mitochondria without a usable mesh. Rows of ``mitos`` in
        neither ``meshes`` nor ``missing`` are treated as missing ("no mesh returned").
    tree : Tree
        The cell's oriented skeleton (N nodes, nm).
    labels : ndarray, shape (N,), int
        Compartment code of every node (0-5).
    soma_nm : ndarray, shape (3,)
        Soma centre, nm.
    astrocyte : bool
        Use the astrocyte distance rule instead of node labels.
    dist_soma_um : ndarray, shape (N,), optional
        Path distance of every node to the soma surface, um (computed from ``labels`` when
        not given).

    Returns
    -------
    MitoTable
    """
    mitos = mitos.drop_duplicates("mito_id").set_index("mito_id", drop=False).sort_index()
    soma_nm = np.asarray(soma_nm, np.float64)
    props = mesh_morphometrics(meshes)
    flat = degenerate(meshes, props)
    if flat.any():  # closed but enclosing no volume: kept without mesh measures, as any unusable mesh
        missing = {**missing, **{int(m): DEGENERATE for m in meshes.ids[flat]}}
        meshes, props = meshes.subset(~flat), props.loc[~flat]
    meshed = meshes.ids
    meshless = mitos.index.difference(pd.Index(meshed)).to_numpy(np.int64)

    # with a mesh: morphometrics and vertex-to-node association
    vnode, _ = nearest_nodes(tree.vertices, meshes.vertices)
    assoc = associate(meshes.vertex_owner(), vnode, meshes.n, tree.n)
    centre_m = props[["cx", "cy", "cz"]].to_numpy().reshape(-1, 3)
    with_mesh = pd.DataFrame({"mito_id": meshed, "n_nodes": np.bincount(assoc.mito_index, minlength=meshes.n)})
    for c in _MORPHO:
        with_mesh[c] = props[c].to_numpy()
    with_mesh["n_vertices"] = meshes.n_vertices.astype(np.int64)
    with_mesh["path_length_um"] = covered_path_length_um(assoc, tree.parent, tree.edge_lengths_um())
    with_mesh["mesh_missing"] = ""
    if astrocyte:
        comp_m = None
    else:
        comp_m = code_names(np.maximum(majority_labels(assoc, labels), 0))
    nodes = dict(zip(meshed.tolist(), assoc.split()))
    bounds = np.searchsorted(assoc.mito_index, np.arange(meshes.n + 1))
    counts = dict(zip(meshed.tolist(), np.split(assoc.n_vertices, bounds[1:-1])))

    # without: table centre, nearest node
    centre_x = mitos.loc[meshless, ["x", "y", "z"]].to_numpy(np.float64).reshape(-1, 3)
    centres = np.vstack([centre_m, centre_x])
    cnode, _ = nearest_nodes(tree.vertices, centres)
    xnode = cnode[meshes.n :]
    without = pd.DataFrame({"mito_id": meshless, "n_nodes": np.ones(len(meshless), np.int64)})
    for c in _MORPHO:
        without[c] = np.nan
    without["n_vertices"] = 0
    without["path_length_um"] = np.nan
    without["mesh_missing"] = [missing.get(int(m), "no mesh returned by the mesh source") for m in meshless]
    nodes.update({int(m): np.array([n], np.int64) for m, n in zip(meshless, xnode)})
    counts.update({int(m): np.zeros(1, np.int64) for m in meshless})

    out = pd.concat([with_mesh, without], ignore_index=True)
    vote, nearest, astro_rule = COMPARTMENT_METHODS
    if astrocyte:
        compartment, far = astrocyte_compartments(centres, soma_nm)
        method = np.full(len(out), astro_rule, dtype=object)
    else:
        compartment = np.concatenate([comp_m, code_names(labels[xnode])])
        far = np.zeros(len(out), bool)
        method = np.array([vote] * meshes.n + [nearest] * len(meshless), dtype=object)
    if dist_soma_um is None:
        dist_soma_um = tree.distance_to_soma_um(labels)
    rows = mitos.loc[out["mito_id"].to_numpy()]
    out["cellid"] = rows["cellid"].to_numpy(np.int64)
    out["compartment"] = compartment
    out["compartment_method"] = method
    out[["x", "y", "z"]] = centres
    out["mito_vx"] = rows["mito_vx"].to_numpy(np.int64)
    out["volume_um3"] = mito_vx_to_um3(out["mito_vx"].to_numpy())
    out["complexityindex"] = complexity_index(out["surface_area"].to_numpy(), out["volume_um3"].to_numpy())
    overlap = rows["overlap_vx"].to_numpy(np.float64) if "overlap_vx" in rows.columns else np.full(len(out), np.nan)
    out["overlap_vx"] = overlap
    out["volume_in_cell_um3"] = np.where(np.isfinite(overlap), mito_vx_to_um3(np.nan_to_num(overlap)), out["volume_um3"])
    out["path_dist_to_soma_um"] = np.asarray(dist_soma_um, np.float64)[cnode]
    out["euclid_dist_to_soma_um"] = np.linalg.norm(centres - soma_nm, axis=1) / NM_PER_UM
    out["far"] = far
    out[["bbox_x_um", "bbox_y_um", "bbox_z_um"]] = _bbox_extents_um(rows, meshes, out["mito_id"].to_numpy())
    out = out.sort_values("mito_id", ignore_index=True)[list(MITO_COLUMNS)]
    return MitoTable(frame=out, nodes=nodes, pairs=MitoNodes.from_dicts(nodes, counts))


#: Why a closed mesh that encloses no volume is set aside.
DEGENERATE = "degenerate mesh (encloses no volume)"


def degenerate(meshes: MeshBatch, props: pd.DataFrame) -> np.ndarray:
    """Meshes whose solid is flat (all vertices on a point, a line or a plane), shape (n,), bool:
    volume a millionth of the bounding cube or less, or no finite centroid."""
    lo, hi = meshes.bounds()
    extent_um = np.max(hi - lo, axis=1) / NM_PER_UM if meshes.n else np.zeros(0)
    vol = props["mesh_volume_um3"].to_numpy(np.float64)
    centre_ok = np.isfinite(props[["cx", "cy", "cz"]].to_numpy(np.float64)).all(axis=1)
    return ~(np.isfinite(vol) & (vol > 1e-6 * extent_um**3) & centre_ok)


def _bbox_extents_um(rows: pd.DataFrame, meshes: MeshBatch, ids: np.ndarray) -> np.ndarray:
    """Axis-aligned extents, um, shape (n, 3): the table's box where it has one, else the mesh's."""
    n = len(ids)
    if all(c in rows.columns for c in BBOX_COLUMNS):
        box = rows[list(BBOX_COLUMNS)].to_numpy(np.float64)
        ext = (box[:, 3:] - box[:, :3]) / NM_PER_UM
    else:
        ext = np.full((n, 3), np.nan)
    lo, hi = meshes.bounds()
    mesh_ext = pd.DataFrame((hi - lo) / NM_PER_UM, index=meshes.ids).reindex(ids).to_numpy()
    return np.where(np.isfinite(ext), ext, mesh_ext)
