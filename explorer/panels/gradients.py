"""The gradients view: a measure along the dendrites against distance to the soma, and the
published regression of synapse density on mitochondrial volume per µm.

Two statistics for the cells of a scope (:mod:`explorer.scope`, by default the published one):
the published one, the mean over segments (``python -m builder analyze``'s numbers, with the 95 %
interval of the mean over a cluster bootstrap of the cells), or the median over cells of each
cell's 10-µm bins. Both honour the compartment choice, and the right panel keeps its axes. A
click on a bin of the current cell selects its mitochondria (:data:`explorer.ids.SELECTION`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update

from builder import schema
from builder.compute.statistics import SegmentFilter, filter_segments, gradient_table, segment_regressions
from builder.compute.uncertainty import DEFAULT_BOOTSTRAP, with_gradient_intervals, with_regression_intervals
from explorer import ids, scope
from explorer.data import MAX_SELECTION, ExplorerData, parse_id
from explorer.figures.gradients import GRADIENT_QUANTITIES, density_figure, gradient_figure
from explorer.figures.message import message_figure
from explorer.figures.segments import segment_gradient_figure, segment_regression_figure
from explorer.inputs import as_event, as_opt_str, as_records, as_str, as_str_list
from explorer.palette import FrozenDict

GRAPH, DENSITY, QUANTITY, SCOPE, COMPS, STAT = (
    "graph-gradients",
    "graph-density",
    "grad-q",
    "grad-scope",
    "grad-comp",
    "grad-stat",
)
GRAPHS: tuple[str, ...] = (GRAPH, DENSITY)
TAB = "gradients"
#: Bin measures of the gradients view -> the segment column the published statistic shows.
SEGMENT_MEASURE = FrozenDict(
    {
        "mito_volume_per_um": "mito_volume_per_um",
        "coverage_factor": "coverage_factor",
        "linear_mito_coverage": "linear_mito_coverage",
        "synapse_density_per_um": "synapse_density_per_um",
        "mean_radius_nm": "median_diameter_um",
        "mito_volume_um3": "mito_volume_um3",
        "path_length_um": "path_length_um",
    }
)
HINT = ("Published statistic (Turner et al. 2022, Fig. 5; the numbers of `python -m builder analyze`): segments, the "
        "connected pieces of each 10-µm bin of distance to the soma, more than 5 µm from a leaf; the mean per bin with "
        "more than 10, its band the 95 % interval over a cluster bootstrap of the cells (the published SD is in the "
        "hover text); right: segments beyond 60 µm with the published regressions. Median over cells: each cell's bins, "
        "the median per bin with its 95 % bootstrap interval; right: one point per bin. Click a bin of the median view to "
        "see its mitochondria in 3D and in the dendrogram.")  # fmt: skip


def published_view(data: ExplorerData, cells: scope.ScopeCells, quantity: str, comps: tuple[str, ...]) -> tuple:
    """The mean over segments per bin with its cell-level interval, and the segment regressions."""
    measure = SEGMENT_MEASURE[quantity]
    segs = data.ds.segments
    segs = segs[segs["cell_id"].isin(cells.ids)]
    filtered = {c: filter_segments(segs, SegmentFilter(compartment=c)) for c in comps}
    boot = DEFAULT_BOOTSTRAP
    tables = {c: with_gradient_intervals(gradient_table(f, [measure]), f, boot) for c, f in filtered.items()}
    n = sum(len(f) for f in filtered.values())
    few = len(cells.ids) < boot.min_cells
    grad = segment_gradient_figure(tables, measure, f"{cells.label}: mean over {n:,} segments (bins with > 10)", few)
    first = filtered[comps[0]]
    reg = with_regression_intervals(segment_regressions(first), first.loc[first["for_regression"]], boot)
    return grad, segment_regression_figure(first, reg, comps[0], few)


def gradients_view(
    data: ExplorerData, cell: str | None, quantity: str, which: str, rows: list[dict] | None, comps: list[str],
    stat: str = "segments",
) -> tuple:  # fmt: skip
    """The gradient and the regression figures for the controls."""
    if quantity not in GRADIENT_QUANTITIES or stat not in ("segments", "cells"):
        return no_update, no_update
    cells = scope.resolve(data, which, cell, rows)
    if not len(cells.ids):
        return message_figure(cells.why_empty), message_figure(cells.why_empty)
    keep = tuple(c for c in comps if c in ("Basal", "Apical")) or ("Basal",)
    if stat == "segments":  # the bootstrap of a scope is computed once, whatever is clicked elsewhere
        return data.memo(
            "gradients", cells.ids, (cells.label, quantity, keep), lambda: published_view(data, cells, quantity, keep)
        )
    bins = data.ds.distance_bins
    bins = bins[bins["cell_id"].isin(cells.ids)]
    return gradient_figure(bins, quantity, f"{cells.label}: median over cells", keep), density_figure(bins, keep, cells.label)


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
    if comp not in schema.COMPARTMENT_NAMES.values() or not np.isfinite(start):  # a point of the segments view: no bin
        return None
    m = data.mitos
    sel = m[
        (m["cellid"] == cid) & (m["compartment"] == comp) & m["path_dist_to_soma_um"].between(start, start + 10, inclusive="left")
    ]
    return {"ids": sel["mito_id"].astype(str).tolist()[:MAX_SELECTION], "source": f"bin {comp} {start:g}-{start + 10:g} um"}


def layout(data: ExplorerData) -> html.Div:
    radio = {"inline": True}
    controls = html.Div(
        [
            html.Label(["measure ", dcc.Dropdown(id=QUANTITY, options=[{"label": v, "value": k} for k, v in GRADIENT_QUANTITIES.items()],
                                                 value="mito_volume_per_um", clearable=False, style={"minWidth": "380px"})]),
            dcc.RadioItems(id=SCOPE, options=[{"label": v, "value": k} for k, v in scope.SCOPES.items()], value=scope.DEFAULT, **radio),
            dcc.Checklist(id=COMPS, options=["Basal", "Apical"], value=["Basal"], **radio),
            dcc.RadioItems(id=STAT, options=[{"label": "published: mean over segments", "value": "segments"},
                                             {"label": "median over cells", "value": "cells"}], value="segments", **radio),
        ],
        className="controls",
    )  # fmt: skip
    graphs = html.Div(
        [dcc.Graph(id=g, style={"height": "460px"}, config={"displaylogo": False}) for g in GRAPHS], className="pair"
    )
    return html.Div([controls, graphs, html.P(HINT, className="hint")])


def register(app: Dash, data: ExplorerData) -> None:
    @app.callback(
        Output(GRAPH, "figure"), Output(DENSITY, "figure"),
        Input(ids.CELL, "data"), Input(QUANTITY, "value"), Input(SCOPE, "value"),
        Input(ids.TABLE, "virtualRowData"), Input(COMPS, "value"), Input(STAT, "value"), Input(ids.TABS, "value"),
    )  # fmt: skip
    def _gradients(cell, q, which, rows, comps, stat, tab):
        if tab != TAB:  # drawn when its tab is shown
            return no_update, no_update
        return gradients_view(data, as_opt_str(cell, 40), as_str(q), as_str(which), as_records(rows), as_str_list(comps),
                              as_str(stat))  # fmt: skip

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Input(GRAPH, "clickData"), State(ids.CELL, "data"), prevent_initial_call=True,
    )  # fmt: skip
    def _bin(click, cell):
        return bin_selection(data, as_opt_str(cell, 40), as_event(click)) or no_update
