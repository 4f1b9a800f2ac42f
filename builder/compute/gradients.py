"""Mitochondria and synapses along the skeleton: nearest mitochondrion of each synapse, and
per-bin measures by path distance to the soma (Turner et al. 2022, Fig. 5).

Everything is measured on the cell's skeleton: a node stands for the cable of the edge to its
parent (its length, um), and a quantity is placed at the node's path distance to the soma
surface (the nearest soma-labelled node, as the published analysis measures it). Per bin, the
published quantities (MicronsBinder ``scripts/computedensitystats.py``): mitochondrial volume
split among nodes by the fraction of each mitochondrion's vertices on them (``mitovolbygroup``)
and the linear mitochondrial coverage, mito path length / path length, where an edge counts once
per mitochondrion associated with both its nodes (``mitocoveragebygroup``, ``computedensities``:
``linearmitocoverage``; it can exceed 1). Beside them, ``coverage_factor``: the fraction of cable
covered by at least one mitochondrion. The published statistical unit, the segment, is in
:mod:`builder.compute.segments`; these bins are whole (compartment, 10-um) slices of a cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from builder.compute.mito_nodes import MitoNodes
from builder.schema import COMPARTMENT_NAMES

_NAMES = np.array([COMPARTMENT_NAMES[c] for c in range(6)], dtype=object)

#: Width of the path-distance bins, um (10 um, as in the published analysis).
BIN_UM = 10.0
#: Columns of ``tables/distance_bins.parquet`` (and of :func:`distance_bins`).
BIN_COLUMNS: tuple[str, ...] = (
    "cell_id", "compartment", "bin_start_um", "bin_end_um", "path_length_um", "mean_radius_nm",
    "mito_volume_um3", "mito_volume_per_um", "covered_length_um", "coverage_factor",
    "mito_path_length_um", "linear_mito_coverage", "n_synapses_in", "n_synapses_out", "synapse_density_per_um",
)  # fmt: skip
#: Quantities that :func:`cell_totals` gives per cell and per compartment.
TOTAL_QUANTITIES = ("path_length_um", "mito_volume_um3", "mito_volume_per_um", "coverage_factor", "linear_mito_coverage",
                    "synapse_density_per_um")  # fmt: skip
_WHOLE = ("mito_volume_um3", "covered_length_um", "mito_path_length_um", "n_synapses_in", "n_synapses_out",
          "mito_volume_per_um", "coverage_factor", "linear_mito_coverage", "synapse_density_per_um")  # fmt: skip
_SNAKE = tuple(COMPARTMENT_NAMES[c].lower().replace(" ", "_") for c in range(6))
#: Columns :func:`cell_totals` adds to ``cells.parquet``, in order.
TOTAL_COLUMNS: tuple[str, ...] = _WHOLE + tuple(f"{c}_{q}" for c in _SNAKE for q in TOTAL_QUANTITIES)


def nearest_mito_along_skeleton(
    parent: np.ndarray,
    edge_len_um: np.ndarray,
    covered_node: np.ndarray,
    covered_mito: np.ndarray,
    query_node: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest mitochondrion of each query node, measured along the skeleton.

    One multi-source Dijkstra from every covered node at once (scipy ``min_only``), no loop per
    query. A node covered by several mitochondria counts for the first of them in
    ``covered_mito`` order (pass pairs sorted by preference, e.g. by mito id).

    Parameters
    ----------
    parent : ndarray, shape (N,), int
        Parent of each node, -1 at the root.
    edge_len_um : ndarray, shape (N,)
        Length of each node's edge to its parent, um.
    covered_node, covered_mito : ndarray, shape (P,), int
        (node, mitochondrion id) pairs: the nodes each mitochondrion covers.
    query_node : ndarray, shape (Q,), int
        Nodes to answer for (the synapses' nodes).

    Returns
    -------
    mito_id : ndarray, shape (Q,), int64
        Nearest mitochondrion, -1 where none is reachable (no mitochondrion in the cell).
    path_um : ndarray, shape (Q,), float64
        Path length to the nearest node it covers, um: 0 on a covered node, NaN for -1.
    """
    parent = np.asarray(parent, np.int64)
    query_node = np.asarray(query_node, np.int64)
    n = len(parent)
    q = len(query_node)
    if len(covered_node) == 0 or n == 0:
        return np.full(q, -1, np.int64), np.full(q, np.nan)
    nodes, first = np.unique(np.asarray(covered_node, np.int64), return_index=True)
    owner = np.asarray(covered_mito, np.int64)[first]
    child = np.flatnonzero(parent >= 0)
    # zero-length edges (duplicate nodes) would vanish from a sparse matrix: keep them tiny
    w = np.maximum(np.asarray(edge_len_um, np.float64)[child], 1e-12)
    graph = csr_matrix((w, (child, parent[child])), shape=(n, n))
    dist, _, src = dijkstra(graph, directed=False, indices=nodes, min_only=True, return_predecessors=True)
    d, s = dist[query_node], src[query_node]
    reach = np.isfinite(d) & (s >= 0)
    mito = np.full(q, -1, np.int64)
    mito[reach] = owner[np.searchsorted(nodes, s[reach])]
    path = np.where(reach, d, np.nan)
    path[reach & np.isin(query_node, nodes)] = 0.0
    return mito, path


def distance_bins(
    cell_id: int,
    parent: np.ndarray,
    edge_len_um: np.ndarray,
    dist_um: np.ndarray,
    radius_nm: np.ndarray,
    labels: np.ndarray,
    node_volume_um3: np.ndarray,
    edge_sharing: np.ndarray,
    syn_node: np.ndarray,
    syn_is_input: np.ndarray,
    syn_is_output: np.ndarray,
    bin_um: float = BIN_UM,
) -> pd.DataFrame:
    """Measures per compartment and bin of path distance to the soma, for one cell.

    Parameters
    ----------
    cell_id : int
    parent : ndarray, shape (N,), int; -1 at the root
    edge_len_um : ndarray, shape (N,); length of each node's edge to its parent, um
    dist_um : ndarray, shape (N,); path distance of each node to the soma surface, um
    radius_nm : ndarray, shape (N,); node radius, nm (NaN where unknown)
    labels : ndarray, shape (N,), int; compartment code of each node (0-5)
    node_volume_um3 : ndarray, shape (N,)
        Mitochondrial volume held by each node (:meth:`MitoNodes.node_volume`).
    edge_sharing : ndarray, shape (N,), int
        Mitochondria associated with both ends of each node's edge to its parent
        (:meth:`MitoNodes.edge_sharing`).
    syn_node : ndarray, shape (S,), int; node of each synapse row
    syn_is_input, syn_is_output : ndarray, shape (S,), bool
        Postsynaptic (input) and presynaptic (output) rows; an autapse is both.
    bin_um : float

    Returns
    -------
    DataFrame
        :data:`BIN_COLUMNS`, one row per (compartment, bin) with cable; lengths in um, radius
        in nm, volumes in um^3. ``mito_volume_per_um`` = volume / path length,
        ``coverage_factor`` = length of edges with a mitochondrion on both ends / path length,
        ``mito_path_length_um`` = sum of edge lengths times the mitochondria on both ends,
        ``linear_mito_coverage`` = that / path length, ``synapse_density_per_um`` = input
        synapses / path length (linear synapse density, as in the published analysis).
    """
    parent = np.asarray(parent, np.int64)
    length = np.where(parent >= 0, np.asarray(edge_len_um, np.float64), 0.0)
    rad = np.asarray(radius_nm, np.float64)
    share = np.asarray(edge_sharing, np.int64)
    b = np.floor(np.asarray(dist_um, np.float64) / bin_um).astype(np.int64)
    n_bins = int(b.max(initial=0)) + 1
    key = np.asarray(labels, np.int64) * n_bins + b  # (compartment, bin) of each node
    size = 6 * n_bins

    def per_key(weights: np.ndarray | None, at: np.ndarray = key) -> np.ndarray:
        return np.bincount(at, weights=weights, minlength=size)

    has_rad = np.isfinite(rad)
    path = per_key(length)
    out = pd.DataFrame(
        {
            "code": np.arange(size) // n_bins,
            "bin": np.arange(size) % n_bins,
            "path_length_um": path,
            "rad_len": per_key(np.where(has_rad, rad * length, 0.0)),
            "len_rad": per_key(np.where(has_rad, length, 0.0)),
            "mito_volume_um3": per_key(np.asarray(node_volume_um3, np.float64)),
            "covered_length_um": per_key(np.where(share > 0, length, 0.0)),
            "mito_path_length_um": per_key(length * share),
            "n_synapses_in": per_key(None, key[np.asarray(syn_node, np.int64)[np.asarray(syn_is_input, bool)]]),
            "n_synapses_out": per_key(None, key[np.asarray(syn_node, np.int64)[np.asarray(syn_is_output, bool)]]),
        }
    )
    out = out[(out["path_length_um"] > 0) | (out["mito_volume_um3"] > 0) | (out["n_synapses_in"] + out["n_synapses_out"] > 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        res = pd.DataFrame(
            {
                "cell_id": np.int64(cell_id),
                "compartment": _NAMES[out["code"].to_numpy()],
                "bin_start_um": out["bin"].to_numpy() * bin_um,
                "bin_end_um": (out["bin"].to_numpy() + 1) * bin_um,
                "path_length_um": out["path_length_um"].to_numpy(),
                "mean_radius_nm": (out["rad_len"] / out["len_rad"]).to_numpy(),
                "mito_volume_um3": out["mito_volume_um3"].to_numpy(),
                "mito_volume_per_um": (out["mito_volume_um3"] / out["path_length_um"]).to_numpy(),
                "covered_length_um": out["covered_length_um"].to_numpy(),
                "coverage_factor": (out["covered_length_um"] / out["path_length_um"]).to_numpy(),
                "mito_path_length_um": out["mito_path_length_um"].to_numpy(),
                "linear_mito_coverage": (out["mito_path_length_um"] / out["path_length_um"]).to_numpy(),
                "n_synapses_in": out["n_synapses_in"].to_numpy(np.int64),
                "n_synapses_out": out["n_synapses_out"].to_numpy(np.int64),
                "synapse_density_per_um": (out["n_synapses_in"] / out["path_length_um"]).to_numpy(),
            }
        )
    for c in RATIO_COLUMNS:  # no cable: undefined
        res.loc[res["path_length_um"] <= 0, c] = np.nan
    return res[list(BIN_COLUMNS)].reset_index(drop=True)


#: Per-um ratios of the bins (undefined where a bin has no cable).
RATIO_COLUMNS = ("mito_volume_per_um", "coverage_factor", "linear_mito_coverage", "synapse_density_per_um")


def cell_gradients(
    cell_id: int,
    parent: np.ndarray,
    edge_len_um: np.ndarray,
    dist_um: np.ndarray,
    radius_nm: np.ndarray,
    labels: np.ndarray,
    pairs: MitoNodes,
    volume_in_cell_um3: dict[int, float],
    syn_node: np.ndarray,
    syn_type: np.ndarray,
) -> tuple[pd.Series, np.ndarray, pd.DataFrame]:
    """Nearest mitochondrion of each synapse row and the distance bins of one cell.

    The one place both the builder and the reader's file layout compute them (identical
    results from either). ``pairs`` are the cell's (mitochondrion, node, vertex count) pairs,
    ``volume_in_cell_um3`` maps mito id -> the volume split among its nodes; ``syn_type`` is
    ``pre``, ``post`` or ``autapse`` per synapse row.

    Returns
    -------
    nearest_mito_id : Series, Int64, one per synapse row (<NA> where none is reachable)
    nearest_mito_path_um : ndarray, shape (S,)
    bins : DataFrame, :data:`BIN_COLUMNS`
    """
    # a node covered by several mitochondria counts for the lowest id (pairs are sorted by id)
    syn_node = np.asarray(syn_node, np.int64)
    near, path = nearest_mito_along_skeleton(parent, edge_len_um, pairs.node, pairs.mito_id, syn_node)
    near_ids = pd.Series(pd.array(near, dtype="Int64"))
    near_ids[near < 0] = pd.NA
    kind = np.asarray(syn_type)
    n = len(parent)
    bins = distance_bins(cell_id, parent, edge_len_um, dist_um, radius_nm, labels, pairs.node_volume(volume_in_cell_um3, n),
                         pairs.edge_sharing(parent), syn_node, np.isin(kind, ("post", "autapse")),
                         np.isin(kind, ("pre", "autapse")))  # fmt: skip
    return near_ids, path, bins


def cell_totals(bins: pd.DataFrame) -> pd.DataFrame:
    """Per-cell totals of the bin measures, over all compartments and per compartment.

    Parameters
    ----------
    bins : DataFrame
        :data:`BIN_COLUMNS` rows (any number of cells).

    Returns
    -------
    DataFrame, one row per cell, index ``cell_id``, columns :data:`TOTAL_COLUMNS`
        ``mito_volume_um3, covered_length_um, mito_path_length_um, n_synapses_in,
        n_synapses_out`` and the ratios ``mito_volume_per_um, coverage_factor,
        linear_mito_coverage, synapse_density_per_um`` over the whole cell,
        then ``{compartment}_{q}`` for q in :data:`TOTAL_QUANTITIES` (compartment in snake
        case: ``basal_mito_volume_per_um``); ratios NaN where there is no cable, every
        per-compartment value NaN where the cell has no such compartment.
    """
    sums = ["path_length_um", "mito_volume_um3", "covered_length_um", "mito_path_length_um", "n_synapses_in", "n_synapses_out"]
    whole = bins.groupby("cell_id")[sums].sum()
    per = bins.groupby(["cell_id", "compartment"])[sums].sum()
    for t in (whole, per):
        with np.errstate(divide="ignore", invalid="ignore"):
            cable = t["path_length_um"].where(t["path_length_um"] > 0)
            t["mito_volume_per_um"] = t["mito_volume_um3"] / cable
            t["coverage_factor"] = t["covered_length_um"] / cable
            t["linear_mito_coverage"] = t["mito_path_length_um"] / cable
            t["synapse_density_per_um"] = t["n_synapses_in"] / cable
    wide = per[list(TOTAL_QUANTITIES)].unstack("compartment")
    wide.columns = [f"{comp.lower().replace(' ', '_')}_{q}" for q, comp in wide.columns]
    return whole.join(wide).reindex(columns=list(TOTAL_COLUMNS))
