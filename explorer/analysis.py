"""Views that relate mitochondria to the cable and its synapses: gradients along the dendrite,
the dendrogram, several cells in 3D, and the selections that link them.

As in :mod:`explorer.callbacks`: pure functions of the app's :class:`ExplorerData` and plain
browser values, and :func:`register_analysis` wiring each callback to one of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dash import Dash, Input, Output, Patch, State, no_update

from builder import schema
from explorer.data import MAX_SELECTION, ExplorerData, parse_id, parse_ids
from explorer.figures.cells3d import cells_figure
from explorer.figures.dendrogram import HIGHLIGHT_TRACE as DENDRO_HIGHLIGHT
from explorer.figures.dendrogram import dendrogram_figure, highlight_xy
from explorer.figures.gradients import GRADIENT_QUANTITIES, density_figure, gradient_figure
from explorer.figures.message import message_figure
from explorer.figures.scatter import selected_ids
from explorer.inputs import as_dict, as_event, as_opt_str, as_records, as_str, as_str_list
from explorer.published import published_gradients_view

MAX_CELLS_3D = 12
PICK_A_CELL = "Pick a cell in the table to see its dendrogram."


def search_for_click(clicked: dict | None) -> str | None:
    """``?cell=<id>`` for a click on a row of the cells grid (its row id is the cell id)."""
    cid = parse_id((clicked or {}).get("rowId"))
    return None if cid is None else f"?cell={cid}"


def selected_cells(data: ExplorerData, rows: list[dict] | None) -> list[int]:
    """Cell ids of the ticked rows that are in the dataset (at most :data:`MAX_CELLS_3D`)."""
    ids = [c for c in parse_ids([r.get("cell_id") for r in rows or []], limit=1000) if data.ds.has_cell(c)]
    return ids[:MAX_CELLS_3D]


def partner_cells(data: ExplorerData, cell_id: int) -> list[int]:
    """The cell and its synaptic partners that are cells of the dataset, most synapses first
    (at most :data:`MAX_CELLS_3D` in all)."""
    syn = data.ds.cell_synapses(cell_id)
    partner = np.where(syn["synapse_type"] == "pre", syn["post_root_id"], syn["pre_root_id"])
    counts = pd.Series(partner[partner != cell_id]).value_counts()
    known = [int(c) for c in counts.index if data.ds.has_cell(int(c))]
    return [int(cell_id), *known][:MAX_CELLS_3D]


def cells_view(data: ExplorerData, ids: list[int]) -> tuple[dict, str]:
    """3D figure and info line for several ticked cells."""
    skel = {c: data.display_skeleton(c, spacing_um=2.0) for c in ids}
    mitos = data.mitos[data.mitos["cellid"].isin(ids)]
    types = data.ds.cells.set_index("cell_id").loc[ids, "cell_type"].value_counts()
    info = f"{len(ids)} cells ({', '.join(f'{v} {k}' for k, v in types.items())}) · {len(mitos)} mitochondria"
    return cells_figure(skel, mitos), info


def _scope_bins(data: ExplorerData, cell: str | None, scope: str, rows: list[dict] | None) -> tuple[pd.DataFrame, str]:
    bins = data.ds.distance_bins
    cid = parse_id(cell)
    if scope == "cell":
        return (bins.iloc[:0], "") if cid is None else (bins[bins["cell_id"] == cid], f"cell {cid}")
    if scope == "type":
        if cid is None:
            return bins.iloc[:0], ""
        ctype = data.ds.cell(cid).cell_type
        ids = data.ds.cells.loc[data.ds.cells["cell_type"] == ctype, "cell_id"]
        return bins[bins["cell_id"].isin(ids)], f"{len(ids)} {ctype} cells"
    if scope == "table":
        ids = parse_ids([r.get("cell_id") for r in rows or []], limit=100_000)
        return bins[bins["cell_id"].isin(ids)], f"{len(ids)} cells in the table"
    return bins, f"all {data.ds.cells.shape[0]} cells"


def gradients_view(
    data: ExplorerData,
    cell: str | None,
    quantity: str,
    scope: str,
    rows: list[dict] | None,
    comps: list[str],
    stat: str = "segments",
) -> tuple:
    """The gradient and the regression figures for the controls: the published statistic over
    segments (``stat="segments"``, :func:`explorer.published.published_gradients_view`), or the
    median over cells of per-cell bins."""
    if quantity not in GRADIENT_QUANTITIES or stat not in ("segments", "cells"):
        return no_update, no_update
    if stat == "segments":
        return published_gradients_view(data, cell, quantity, scope, rows, comps)
    bins, title = _scope_bins(data, cell, scope, rows)
    if bins.empty:
        msg = ("Pick a cell in the table (this scope follows the current cell)." if scope in ("cell", "type")
               else "No cells in the table: clear its filters.")  # fmt: skip
        return message_figure(msg), message_figure(msg)
    keep = tuple(c for c in comps if c in ("Basal", "Apical")) or ("Basal",)
    return gradient_figure(bins, quantity, title), density_figure(bins, keep)


def bin_selection(data: ExplorerData, cell: str | None, click: dict | None) -> dict | None:
    """The current cell's mitochondria in a clicked bin (compartment and 10-um range) as a selection."""
    cid = parse_id(cell)
    pts = (click or {}).get("points") or []
    if cid is None or not pts:
        return None
    cd = pts[0].get("customdata")
    if not isinstance(cd, list) or len(cd) < 2:
        return None
    comp, start = str(cd[0])[:40], pd.to_numeric(cd[1], errors="coerce")
    if comp not in schema.COMPARTMENT_NAMES.values() or not np.isfinite(
        start
    ):  # a point of the segments view: no bin of this cell
        return None
    m = data.mitos
    sel = m[
        (m["cellid"] == cid) & (m["compartment"] == comp) & m["path_dist_to_soma_um"].between(start, start + 10, inclusive="left")
    ]
    return {"ids": sel["mito_id"].astype(str).tolist()[:MAX_SELECTION], "source": f"bin {comp} {start:g}-{start + 10:g} um"}


def dendrogram_view(data: ExplorerData, cell: str | None, selection: dict | None) -> dict | object:
    """The dendrogram of the current cell, with the current selection highlighted."""
    cid = parse_id(cell)
    if cid is None or not data.ds.has_cell(cid):
        return message_figure(PICK_A_CELL)
    ids = parse_ids((selection or {}).get("ids"))
    fig = dendrogram_figure(data.ds.skeleton_nodes(cid), data.ds.cell_mitochondria(cid), data.ds.associations(cid),
                            data.ds.cell_synapses(cid), highlight_ids=ids)  # fmt: skip
    return fig


def selection_from_dendrogram(selected: dict | None) -> dict:
    """Mito ids of a box/lasso selection in the dendrogram (points of mitochondrion traces)."""
    return {"ids": [str(i) for i in selected_ids(selected)[:MAX_SELECTION]], "source": "dendrogram"}


def highlight_dendrogram(data: ExplorerData, cell: str | None, selection: dict | None) -> Patch | object:
    """Partial update of the dendrogram's highlight trace to the selection."""
    cid = parse_id(cell)
    if cid is None or not data.ds.has_cell(cid):
        return no_update
    ids = parse_ids((selection or {}).get("ids"))
    xs, ys = highlight_xy(data.ds.skeleton_nodes(cid), data.ds.associations(cid), ids)
    p = Patch()
    p["data"][DENDRO_HIGHLIGHT]["x"] = xs
    p["data"][DENDRO_HIGHLIGHT]["y"] = ys
    return p


def register_analysis(app: Dash, data: ExplorerData) -> None:
    """Wire the gradients and dendrogram views to the shared stores."""

    @app.callback(
        Output("graph-gradients", "figure"), Output("graph-density", "figure"),
        Input("cell-store", "data"), Input("grad-q", "value"), Input("grad-scope", "value"),
        Input("cell-table", "virtualRowData"), Input("grad-comp", "value"), Input("grad-stat", "value"), Input("tabs", "value"),
    )  # fmt: skip
    def _gradients(cell, q, scope, rows, comps, stat, tab):
        if tab != "gradients":  # drawn when its tab is shown
            return no_update, no_update
        return gradients_view(data, as_opt_str(cell, 40), as_str(q), as_str(scope), as_records(rows), as_str_list(comps),
                              as_str(stat))  # fmt: skip

    @app.callback(
        Output("selection-store", "data", allow_duplicate=True),
        Input("graph-gradients", "clickData"), State("cell-store", "data"), prevent_initial_call=True,
    )  # fmt: skip
    def _bin(click, cell):
        return bin_selection(data, as_opt_str(cell, 40), as_event(click)) or no_update

    @app.callback(
        Output("graph-dendrogram", "figure"), Input("cell-store", "data"), Input("tabs", "value"), State("selection-store", "data"),
    )  # fmt: skip
    def _dendrogram(cell, tab, selection):
        if tab != "dendrogram":  # drawn (with the current selection) when its tab is shown
            return no_update
        return dendrogram_view(data, as_opt_str(cell, 40), as_dict(selection))

    @app.callback(
        Output("graph-dendrogram", "figure", allow_duplicate=True),
        Input("selection-store", "data"), State("cell-store", "data"), State("tabs", "value"), prevent_initial_call=True,
    )  # fmt: skip
    def _dendro_highlight(selection, cell, tab):
        if tab != "dendrogram":  # not drawn yet: it takes the selection when it is
            return no_update
        return highlight_dendrogram(data, as_opt_str(cell, 40), as_dict(selection))

    @app.callback(
        Output("selection-store", "data", allow_duplicate=True),
        Input("graph-dendrogram", "selectedData"),
        prevent_initial_call=True,
    )
    def _dendro_select(selected):
        return selection_from_dendrogram(as_event(selected))
