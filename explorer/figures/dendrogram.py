"""The dendrogram of a cell: its skeleton laid out in 2D with path distance to the soma across,
mitochondria as intervals over the cable they cover and synapses as ticks, by compartment.

Layout (all vectorised): nodes in depth-first preorder from the soma; a node's row is the
number of leaves before it in that order, so each branch (the first-child chain from a branch
point to its first leaf) is one horizontal line, and a side branch starts with an elbow at its
branch point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import depth_first_order

from explorer.palette import COMPARTMENT_COLORS, HIGHLIGHT_COLOR, LABEL_NAMES

HIGHLIGHT_TRACE = 0


def dendrogram_rows(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Preorder and row of every node of a tree.

    Parameters
    ----------
    parent : ndarray, shape (N,), int; -1 at the root

    Returns
    -------
    order : ndarray, shape (N,), int64; nodes in depth-first preorder from the root
    row : ndarray, shape (N,), int64; leaves before the node in that order
    """
    parent = np.asarray(parent, np.int64)
    n = len(parent)
    root = int(np.flatnonzero(parent < 0)[0])
    child = np.flatnonzero(parent >= 0)
    g = csr_matrix((np.ones(len(child)), (parent[child], child)), shape=(n, n))
    order = depth_first_order(g, root, directed=True, return_predecessors=False).astype(np.int64)
    is_leaf = np.bincount(parent[child], minlength=n) == 0
    before = np.cumsum(is_leaf[order]) - is_leaf[order]
    row = np.empty(n, np.int64)
    row[order] = before
    return order, row


def _segments(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten (k, m) point arrays into one polyline with a gap (NaN) after each row."""
    gap = np.full((len(x), 1), np.nan)
    return np.hstack([x, gap]).ravel(), np.hstack([y, gap]).ravel()


def dendrogram_figure(
    nodes: pd.DataFrame, mitos: pd.DataFrame, assoc: dict[int, list[int]], synapses: pd.DataFrame,
    highlight_ids: list[int] | None = None,
) -> go.Figure:  # fmt: skip
    """The dendrogram of one cell.

    Parameters
    ----------
    nodes : DataFrame
        The cell's skeleton nodes: ``node_id`` (0..N-1), ``parent``, ``label``,
        ``path_dist_to_soma_um``.
    mitos : DataFrame
        The cell's mitochondria (``mito_id, compartment``).
    assoc : dict
        ``{mito_id: [covered node ids]}``.
    synapses : DataFrame
        The cell's synapse rows (``node_id, synapse_type, compartment``).
    highlight_ids : list of int, optional
        Mitochondria drawn in the highlight trace (index 0).

    Returns
    -------
    Figure
        Trace 0 highlights; mitochondrion traces carry ``customdata`` = mito id (text).
    """
    nodes = nodes.sort_values("node_id")
    parent = nodes["parent"].to_numpy(np.int64)
    x = nodes["path_dist_to_soma_um"].to_numpy(np.float64)
    lab = nodes["label"].to_numpy(np.int64)
    order, row = dendrogram_rows(parent)
    y = row.astype(np.float64)
    fig = go.Figure([go.Scatter(x=[], y=[], mode="lines", line={"color": HIGHLIGHT_COLOR, "width": 10},
                                opacity=0.5, hoverinfo="skip", showlegend=False, name="selected")])  # fmt: skip
    fig.add_traces([*_cable_traces(parent, x, y, lab, order, row), *_mito_traces(mitos, assoc, x, y),
                    *_synapse_traces(synapses, x, y)])  # fmt: skip
    fig.update_layout(
        dragmode="select",
        uirevision="dendrogram",
        xaxis={"title": "path distance to soma (µm)", "zeroline": False},
        yaxis={"title": "branches", "showticklabels": False, "zeroline": False},
        margin={"l": 40, "r": 10, "t": 10, "b": 50},
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.18},
    )
    if highlight_ids:
        set_highlight(fig, mitos, assoc, nodes, highlight_ids)
    return fig


def _cable_traces(parent, x, y, lab, order, row) -> list:
    """One horizontal line per run of preorder nodes with the same row and label, and an elbow
    from each side branch's branch point; a trace per compartment."""
    o_par = parent[order]
    new_run = np.ones(len(order), bool)
    new_run[1:] = (row[order][1:] != row[order][:-1]) | (lab[order][1:] != lab[order][:-1])
    start = order[new_run]  # first node of each run
    end = order[np.r_[np.flatnonzero(new_run)[1:] - 1, len(order) - 1]]
    first_par = o_par[new_run]
    x0 = np.where(first_par >= 0, x[np.maximum(first_par, 0)], x[start])  # joins its parent
    y0 = np.where(first_par >= 0, y[np.maximum(first_par, 0)], y[start])
    traces = []
    for code in np.unique(lab):
        sel = lab[start] == code
        if not sel.any():
            continue
        px, py = _segments(
            np.stack([x0[sel], x0[sel], x[end[sel]]], axis=1), np.stack([y0[sel], y[start[sel]], y[end[sel]]], axis=1)
        )
        name = LABEL_NAMES.get(int(code), str(code))
        traces.append(go.Scattergl(x=px, y=py, mode="lines", name=f"{name} cable", legendgroup=name,
                                   line={"color": COMPARTMENT_COLORS.get(name, "#999999"), "width": 1.5}, hoverinfo="skip"))  # fmt: skip
    return traces


def _mito_traces(mitos: pd.DataFrame, assoc: dict, x: np.ndarray, y: np.ndarray) -> list:
    """Mitochondria from the most proximal to the most distal node they cover, on the row of the
    most proximal one; a trace per compartment, ``customdata`` the mito id."""
    ids = mitos["mito_id"].to_numpy(np.int64)
    lo, hi, mrow = mito_intervals(x, y, assoc, ids)
    has = np.isfinite(mrow)
    traces = []
    comp = mitos["compartment"].to_numpy()
    for name in pd.unique(comp[has]) if has.any() else []:
        sel = has & (comp == name)
        px, py = _segments(np.stack([lo[sel], hi[sel]], 1), np.stack([mrow[sel], mrow[sel]], 1))
        traces.append(go.Scattergl(
            x=px, y=py, mode="lines+markers", name=f"{name} mitochondria", legendgroup=name,
            line={"color": COMPARTMENT_COLORS.get(name, "#999999"), "width": 6},
            marker={"size": 3, "color": COMPARTMENT_COLORS.get(name, "#999999")}, customdata=np.repeat(ids[sel].astype(str), 3),
            hovertemplate="mitochondrion %{customdata}<br>%{x:.1f} µm from the soma<extra></extra>",
        ))  # fmt: skip
    return traces


def _synapse_traces(synapses: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> list:
    """Synapses as ticks above the cable for inputs, below for outputs."""
    if not len(synapses):
        return []
    sn = synapses["node_id"].to_numpy(np.int64)
    kind = synapses["synapse_type"].to_numpy()
    traces = []
    for k, dy, sym in (("post", 0.3, "triangle-down"), ("pre", -0.3, "triangle-up"), ("autapse", 0.0, "diamond")):
        s = kind == k
        if s.any():
            traces.append(go.Scattergl(
                x=x[sn[s]], y=y[sn[s]] + dy, mode="markers", name={"post": "inputs", "pre": "outputs"}.get(k, k),
                marker={"symbol": sym, "size": 5, "color": "#333333"},
                hovertemplate=f"{k} synapse<br>%{{x:.1f}} µm from the soma<extra></extra>",
            ))  # fmt: skip
    return traces


def mito_intervals(x: np.ndarray, row: np.ndarray, assoc: dict[int, list[int]], ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """Start, end (um from the soma) and row of each mitochondrion's interval, shape (n,) each.

    From its most proximal to its most distal covered node (at least 0.15 um long), on the row
    of the most proximal one; NaN row for a mitochondrion that covers no node.
    """
    cov = [np.asarray(assoc.get(int(m), []), np.int64) for m in ids]
    sizes = np.array([len(c) for c in cov], np.int64)
    lo, hi, mrow = np.full(len(ids), np.inf), np.full(len(ids), -np.inf), np.full(len(ids), np.nan)
    if sizes.sum() == 0:
        return lo, hi, mrow
    flat = np.concatenate(cov)
    own = np.repeat(np.arange(len(ids)), sizes)
    np.minimum.at(lo, own, x[flat])
    np.maximum.at(hi, own, x[flat])
    o = np.lexsort((x[flat], own))  # per mitochondrion, its most proximal node first
    first = np.r_[True, own[o][1:] != own[o][:-1]]
    mrow[own[o][first]] = row[flat[o][first]]
    return lo, np.maximum(hi, lo + 0.15), mrow


def highlight_xy(nodes: pd.DataFrame, assoc: dict[int, list[int]], ids: list[int]) -> tuple[list, list]:
    """Polyline (x, y with gaps) over the covered cable of the given mitochondria."""
    nodes = nodes.sort_values("node_id")
    x = nodes["path_dist_to_soma_um"].to_numpy(np.float64)
    _, row = dendrogram_rows(nodes["parent"].to_numpy(np.int64))
    lo, hi, mrow = mito_intervals(x, row.astype(np.float64), assoc, np.asarray(ids, np.int64))
    ok = np.isfinite(mrow)
    px, py = _segments(np.stack([lo[ok], hi[ok]], 1), np.stack([mrow[ok], mrow[ok]], 1))
    return [None if np.isnan(v) else float(v) for v in px], [None if np.isnan(v) else float(v) for v in py]


def set_highlight(fig: go.Figure, mitos: pd.DataFrame, assoc: dict, nodes: pd.DataFrame, ids: list[int]) -> None:
    """Put the given mitochondria into the highlight trace of a dendrogram figure."""
    xs, ys = highlight_xy(nodes, assoc, ids)
    fig.data[HIGHLIGHT_TRACE].x, fig.data[HIGHLIGHT_TRACE].y = xs, ys
