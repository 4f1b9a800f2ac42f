"""The demo's truth of the published analysis, measured on the generator's own geometry.

``demo_truth/segments.parquet`` holds the segments of every neuron computed with the published
definitions (:func:`builder.compute.segments.cell_segments`) from what the generator placed, in
EM space, before anything is written in the release's dialect: its skeletons (radii, not the
``rs`` diameters of the files), every mesh vertex (not the nominal 4-nm meshes), each synapse's
true position (not rounded to voxels), each mitochondrion's true volume inside the cell (not the
overlap table's mip-1 voxels). A build must reach the same segments from the files: the tests
compare them, segment by segment and through ``analyze``.

``demo_truth/planted.json`` holds what was planted (:func:`profiles.planted_record`) and the
statistics of these true segments (per-bin means, the published regressions): the values the
analysis must recover.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from builder.compute.association import associate, nearest_nodes
from builder.compute.meshes import MeshBatch
from builder.compute.mito_nodes import MitoNodes
from builder.compute.segments import cell_segments
from builder.compute.skeleton import Tree
from builder.compute.statistics import GRADIENT_MEASURES, filter_segments, gradient_table, segment_regressions
from builder.sources.demo.profiles import planted_record

#: Mitochondria whose centre lies within this distance of the segmented volume's faces (where
#: the neurites are cut) leave it: only a fraction of them (uniform in :data:`IN_CELL_FRACTION`)
#: is inside the cell.
EDGE_UM = 2.0
IN_CELL_FRACTION = (0.4, 0.95)


def overlap_fractions(rng: np.random.Generator, centres_um: np.ndarray, lo_um: np.ndarray, size_um: np.ndarray) -> np.ndarray:
    """Fraction of each mitochondrion inside its cell, shape (n,): 1 except near the volume's
    faces (the published density analysis counts only the overlapping volume)."""
    c = np.asarray(centres_um, np.float64).reshape(-1, 3)
    gap = np.minimum(c - lo_um, lo_um + size_um - c).min(axis=1)
    frac = np.ones(len(c))
    edge = gap < EDGE_UM
    frac[edge] = rng.uniform(*IN_CELL_FRACTION, size=int(edge.sum()))
    return frac


def cell_pairs(nodes_nm: np.ndarray, batch: MeshBatch) -> MitoNodes:
    """The (mitochondrion, node, vertex count) pairs of a cell's true meshes (EM space)."""
    vnode, _ = nearest_nodes(nodes_nm, batch.vertices)
    a = associate(batch.vertex_owner(), vnode, batch.n, len(nodes_nm))
    return MitoNodes(mito_id=np.asarray(batch.ids, np.int64)[a.mito_index], node=a.node, n_vertices=a.n_vertices)


def write_truth_segments(
    truth_dir: Path,
    roster: pd.DataFrame,
    morphs: list,
    pairs: list[MitoNodes],
    mito_truth: pd.DataFrame,
    syn: pd.DataFrame,
    syn_nm: np.ndarray,
) -> pd.DataFrame:
    """Compute and write ``segments.parquet`` and ``planted.json`` (module docstring)."""
    vol = dict(zip(mito_truth["mito_id"].tolist(), mito_truth["volume_in_cell_um3"].tolist()))
    post = syn["post_root_id"].to_numpy(np.int64)
    frames = []
    for r, m, pr in zip(roster.itertuples(index=False), morphs, pairs):
        if r.cell_type == "astrocyte":
            continue
        tree = Tree(vertices=m.vertices_um * 1000.0, parent=m.parent, root=0, radius=m.radius_um * 1000.0)
        dist = tree.distance_to_soma_um(m.labels)
        mine = syn_nm[post == r.cell_id]
        node = cKDTree(tree.vertices).query(mine)[1] if len(mine) else np.zeros(0, np.int64)
        seg = cell_segments(int(r.cell_id), tree, m.labels, dist, pr, vol, np.asarray(node, np.int64))
        frames.append(seg.assign(cell_type=r.cell_type))
    seg = pd.concat(frames, ignore_index=True)
    seg.to_parquet(Path(truth_dir) / "segments.parquet", index=False)
    record = planted_record()
    pyr = filter_segments(seg[seg["cell_type"] == "pyramidal"])
    if len(pyr):
        grad = gradient_table(pyr, list(GRADIENT_MEASURES))
        record["true_segments"] = {
            "about": "published statistics of demo_truth/segments.parquet (pyramidal cells, published filters)",
            "gradients": json.loads(grad[grad["shown"]].to_json(orient="records")),
            "regressions": json.loads(segment_regressions(pyr).to_json(orient="records")),
        }
    (Path(truth_dir) / "planted.json").write_text(json.dumps(record, indent=2))
    return seg
