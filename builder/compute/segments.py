"""Segments: the statistical unit of the published distance-to-soma analysis.

MicronsBinder ``notebooks/vignette_analysis/mitochondria``, followed function by function:

- a segment is a connected piece of the skeleton whose nodes share one 10-um bin of path
  distance to the soma surface; soma-labelled nodes form their own pieces (``lib/skel.py``
  ``distancebins`` -> ``branches``). Pieces are cut by distance only: a piece keeps the
  compartment label of its node nearest the soma, which is also its id (``branches`` with
  ``somadists``: ``component[np.argmin(somadists[component])]``);
- path length: the edges with both nodes in the piece (``lib/skel.py`` ``pathlength``);
- input synapses: postsynaptic synapses counted on their nearest node
  (``scripts/computedensitystats.py`` ``synapsesbygroup``);
- mitochondrial volume: each mitochondrion's volume inside the cell split by the fraction of
  its vertices on the piece's nodes (``mitovolbygroup``);
- mito path length and its parts: every edge inside the piece counts once per mitochondrion
  associated with both its nodes (``mitocoveragebygroup``: ``coveredpathlength``,
  ``uncoveredpathlength``, ``extracoveragelength``), and ``linearmitocoverage`` is that over
  the path length (``computedensities``);
- diameter: min, mean, median and max over the piece's nodes of the skeleton's ``rs`` vertex
  property, MeshParty's shape-diameter (``scripts/branchdiameter.py`` ``groupstats``; the
  dataset stores node radii, ``rs / 2``, so the diameter is twice the radius);
- distance to the soma: min, mean and max over its nodes; distance to a leaf: the minimum over
  its nodes of the path distance to the nearest end node (``scripts/branchproximity.py``).

Where the published measure needs the neuron's mesh (segment volume and surface area, hence the
areal synapse density and the mitochondrial volume fraction) the skeleton's frustum equivalent
is given instead, under its own name: each edge inside the piece is a conical frustum between
its nodes' radii. ``cylinder_synapse_density_per_um2`` is the published
``cylindersynapsedensity`` (synapses / (pi x median diameter x path length)), which needs no mesh.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from builder.compute.mito_nodes import MitoNodes
from builder.compute.skeleton import Tree
from builder.schema import COMPARTMENT_NAMES, NM_PER_UM

#: Width of the distance bins, um (``distancebins(..., resolution=10_000)`` nm).
SEGMENT_BIN_UM = 10.0
_NAMES = np.array([COMPARTMENT_NAMES[c] for c in range(6)], dtype=object)

#: Columns of ``tables/segments.parquet``, in order (README / docs/analysis.md).
SEGMENT_COLUMNS: tuple[str, ...] = (
    "cell_id", "segment_id", "compartment", "bin_start_um", "n_nodes", "path_length_um",
    "min_dist_to_soma_um", "mean_dist_to_soma_um", "max_dist_to_soma_um", "dist_to_leaf_um",
    "min_diameter_um", "mean_diameter_um", "median_diameter_um", "max_diameter_um",
    "frustum_volume_um3", "frustum_area_um2",
    "n_mito", "mito_volume_um3", "mito_volume_per_um", "frustum_mito_volume_fraction",
    "mito_path_length_um", "uncovered_length_um", "extra_coverage_length_um", "linear_mito_coverage",
    "coverage_factor", "n_synapses_in", "synapse_density_per_um", "frustum_synapse_density_per_um2",
    "cylinder_synapse_density_per_um2",
)  # fmt: skip


def segment_of_nodes(
    parent: np.ndarray, dist_soma_um: np.ndarray, labels: np.ndarray, bin_um: float = SEGMENT_BIN_UM
) -> np.ndarray:
    """Segment id of every node: the id of the segment's node nearest the soma.

    Parameters
    ----------
    parent : ndarray, shape (N,), int; -1 at the root
    dist_soma_um : ndarray, shape (N,); path distance to the soma surface, um
    labels : ndarray, shape (N,), int; compartment codes (0 = Somatic)
    bin_um : float

    Returns
    -------
    ndarray, shape (N,), int64
        For each node, the node id that names its segment (lowest id among the nodes nearest
        the soma when several tie).
    """
    parent = np.asarray(parent, np.int64)
    n = len(parent)
    d = np.asarray(dist_soma_um, np.float64)
    tmp = np.floor(d / bin_um).astype(np.int64)
    tmp[np.asarray(labels) == 0] = -1
    child = np.flatnonzero(parent >= 0)
    same = child[tmp[child] == tmp[parent[child]]]
    g = sparse.csr_matrix((np.ones(len(same)), (same, parent[same])), shape=(n, n))
    _, comp = csgraph.connected_components(g, directed=False)
    order = np.lexsort((np.arange(n), d, comp))  # per component: nearest the soma, then lowest id
    first = np.ones(n, bool)
    first[1:] = comp[order][1:] != comp[order][:-1]
    head = np.empty(comp.max() + 1 if n else 0, np.int64)
    head[comp[order][first]] = order[first]
    return head[comp]


def cell_segments(
    cell_id: int,
    tree: Tree,
    labels: np.ndarray,
    dist_soma_um: np.ndarray,
    pairs: MitoNodes,
    volume_in_cell_um3: Mapping[int, float],
    input_node: np.ndarray,
    bin_um: float = SEGMENT_BIN_UM,
) -> pd.DataFrame:
    """The segments of one cell and their published measures (see the module docstring).

    Parameters
    ----------
    cell_id : int
    tree : Tree
        The cell's skeleton (N nodes; positions and radii in nm, radii half the published ``rs``).
    labels : ndarray, shape (N,), int
        Compartment codes of the nodes.
    dist_soma_um : ndarray, shape (N,)
        Path distance of each node to the soma surface, um.
    pairs : MitoNodes
        The cell's (mitochondrion, node, vertex count) pairs.
    volume_in_cell_um3 : mapping mito id -> um^3
        Volume of each mitochondrion inside the cell (split among its nodes by vertex fraction).
    input_node : ndarray, shape (S,), int
        Nearest node of every input synapse (``post`` and ``autapse`` rows).
    bin_um : float

    Returns
    -------
    DataFrame
        :data:`SEGMENT_COLUMNS`, one row per segment, sorted by ``segment_id``; lengths um,
        volumes um^3, areas um^2; ratios NaN where the segment has no path length.
    """
    parent = tree.parent
    seg = segment_of_nodes(parent, dist_soma_um, labels, bin_um)
    ids, inv = np.unique(seg, return_inverse=True)
    k = len(ids)

    def per(w: np.ndarray | None, at: np.ndarray = inv) -> np.ndarray:
        return np.bincount(at, weights=w, minlength=k)

    def reduce(fn: np.ufunc, values: np.ndarray) -> np.ndarray:
        return fn.reduceat(np.asarray(values, np.float64)[by_seg], bounds[:-1])

    r_um = tree.radius / NM_PER_UM
    child = np.flatnonzero(parent >= 0)
    inside = child[seg[child] == seg[parent[child]]]  # edges with both nodes in one segment
    length = tree.edge_lengths_um()[inside]
    ra, rb = r_um[inside], r_um[parent[inside]]
    at = inv[inside]
    share = pairs.edge_sharing(parent)[inside]
    path = per(length, at)
    mito_path = per(length * share, at)
    diam = 2.0 * r_um
    d_soma = np.asarray(dist_soma_um, np.float64)
    by_seg = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[by_seg], np.arange(k + 1))
    sizes = np.diff(bounds)
    by_diam = np.lexsort((diam, inv))
    median = 0.5 * (diam[by_diam][bounds[:-1] + (sizes - 1) // 2] + diam[by_diam][bounds[:-1] + sizes // 2])
    n_syn = per(None, inv[np.asarray(input_node, np.int64)])
    vol = per(pairs.node_volume(volume_in_cell_um3, tree.n))
    n_mito = np.bincount(np.unique(pairs.mito_id * np.int64(k) + inv[pairs.node]) % k, minlength=k) if len(pairs) else np.zeros(k)
    fr_vol = per(np.pi * length * (ra**2 + ra * rb + rb**2) / 3.0, at)
    fr_area = per(np.pi * (ra + rb) * np.sqrt(length**2 + (ra - rb) ** 2), at)
    with np.errstate(divide="ignore", invalid="ignore"):
        cable = np.where(path > 0, path, np.nan)
        out = pd.DataFrame(
            {
                "cell_id": np.full(k, cell_id, np.int64),
                "segment_id": ids.astype(np.int64),
                "compartment": _NAMES[np.asarray(labels, np.int64)[ids]],
                "bin_start_um": np.floor(d_soma[ids] / bin_um) * bin_um,
                "n_nodes": sizes.astype(np.int64),
                "path_length_um": path,
                "min_dist_to_soma_um": reduce(np.minimum, d_soma),
                "mean_dist_to_soma_um": per(d_soma) / sizes,
                "max_dist_to_soma_um": reduce(np.maximum, d_soma),
                "dist_to_leaf_um": reduce(np.minimum, tree.distance_to_leaf_um()),
                "min_diameter_um": diam[by_diam][bounds[:-1]],
                "mean_diameter_um": per(diam) / sizes,
                "median_diameter_um": median,
                "max_diameter_um": diam[by_diam][bounds[1:] - 1],
                "frustum_volume_um3": fr_vol,
                "frustum_area_um2": fr_area,
                "n_mito": n_mito.astype(np.int64),
                "mito_volume_um3": vol,
                "mito_volume_per_um": vol / cable,
                "frustum_mito_volume_fraction": vol / np.where(fr_vol > 0, fr_vol, np.nan),
                "mito_path_length_um": mito_path,
                "uncovered_length_um": per(length * (share == 0), at),
                "extra_coverage_length_um": per(length * np.maximum(share - 1, 0), at),
                "linear_mito_coverage": mito_path / cable,
                "coverage_factor": per(length * (share > 0), at) / cable,
                "n_synapses_in": n_syn.astype(np.int64),
                "synapse_density_per_um": n_syn / cable,
                "frustum_synapse_density_per_um2": n_syn / np.where(fr_area > 0, fr_area, np.nan),
                "cylinder_synapse_density_per_um2": n_syn / (np.pi * median * cable),
            }
        )
    return out[list(SEGMENT_COLUMNS)]
