"""The morphometrics scatter: any two measures of mitochondria (or of synapses), linked to the
3D view through the selection.

A box or lasso selection becomes :data:`explorer.ids.SELECTION` (its ids reduced in the browser
by ``assets/selection_ids.js``); a selection made elsewhere is highlighted here.
"""

from __future__ import annotations

import json

from dash import Dash, Input, Output, Patch, State, ctx, dcc, html, no_update

from explorer import ids
from explorer.data import MAX_SELECTION, ExplorerData, parse_id, parse_ids
from explorer.figures.message import message_figure
from explorer.figures.scatter import HIGHLIGHT_TRACE, scatter_figure, synapse_scatter_figure
from explorer.inputs import as_dict, as_opt_str, as_str, as_str_list
from explorer.labels import options

GRAPH, POINTS, X, Y, LOG, COLOR, SCOPE = "graph-scatter", "sc-points", "sc-x", "sc-y", "sc-log", "sc-color", "sc-scope"
IDS, KEY, NOTE = "scatter-ids", "scatter-key", "sc-note"
GRAPHS: tuple[str, ...] = (GRAPH,)

#: In the browser, a box or lasso selection is reduced to the selected mitochondria's ids (at
#: most MAX_SELECTION) and their total before anything is sent: a box over 100,000 points of the
#: all-cells scatter would otherwise send 10 MB of point records. assets/selection_ids.js does it
#: straight from plotly's event (without dcc.Graph's selectedData, a record per point) and
#: exports the reduction; this callback uses it for deselection (selectedData = null) and should
#: the script's handler not be bound.
SCATTER_IDS_JS = f"""function(sel) {{
    const gd = document.querySelector("#{GRAPH} .js-plotly-plot");
    return window.dash_clientside.explorer.selectedIds(sel, {MAX_SELECTION}, gd);
}}"""


def selection_from_ids(payload: dict | None) -> dict:
    """The selection store for the ids the browser extracted from a scatter selection."""
    found = parse_ids((payload or {}).get("ids"))
    total = (payload or {}).get("total")
    sel = {"ids": [str(i) for i in found], "source": "scatter"}
    if isinstance(total, int) and total > len(found):
        sel["total"] = total
    return sel


def waits_for_3d(trigger: str | None, cell: str | None, drawn: str | None) -> bool:
    """Whether the scatter waits for the 3D view: when a cell was just named (``trigger`` is the
    current cell, or None on the page's first call) and the 3D view has not drawn it yet. The
    3D view draws first (one thread draws the page); :data:`explorer.ids.DRAWN` then asks again.
    Without a cell (the landing page) there is nothing to wait for."""
    return trigger in (None, ids.CELL) and parse_id(cell) is not None and drawn != cell


def scatter_key(
    cell: str | None, x: str, y: str, color_by: str, logs: list | None, scope: str, points: str = "mitochondria"
) -> str:
    """What the scatter shows, as a short string: equal keys, equal figures.

    The cell counts only when the scatter shows one cell (scope ``cell`` with a cell picked), so
    that picking cells while the scatter shows all of them does not redraw its 200,000 points.
    """
    cid = parse_id(cell)
    who = "all" if scope == "all" or cid is None else str(cid)
    return json.dumps([points, x, y, color_by, sorted(str(v) for v in logs or []), who])


def scatter_axes(data: ExplorerData, points: str) -> tuple[list[dict], str, list[dict], str]:
    """The axis choices (labels with units) and defaults of the scatter for mitochondria or synapses."""
    if points == "synapses" and data.synapse_columns:
        cols = data.synapse_columns
        x = "nearest_mito_path_um" if "nearest_mito_path_um" in cols else cols[0]
        return options(cols), x, options(cols), "size" if "size" in cols else cols[-1]
    x, y, _ = data.scatter_defaults()
    return options(data.numeric_columns), x, options(data.numeric_columns), y


def _who(data: ExplorerData, cid: int | None, scope: str, n: int, kind: str) -> str:
    """What the scatter shows, in words."""
    if scope == "all" or cid is None:
        why = " (no cell picked)" if scope != "all" else ""
        return f"all {n:,} {kind} of the {len(data.ds.cells)} cells{why}"
    return f"cell {cid}: {n:,} {kind}"


def scatter_view(
    data: ExplorerData, cell: str | None, x: str, y: str, color_by: str, logs: list | None, scope: str,
    points: str = "mitochondria",
) -> dict | object:  # fmt: skip
    """The morphometric scatter for the controls: mitochondria, or synapse rows (size, nearest
    mitochondrion along the skeleton, distance to the soma); its title says which."""
    if color_by not in ("compartment", "cell_type"):
        return message_figure("Colour by compartment or cell type.")
    cid = parse_id(cell)
    cid = cid if cid is not None and data.ds.has_cell(cid) else None
    logs = logs or []
    if points == "synapses":
        if x not in data.synapse_columns or y not in data.synapse_columns:
            return message_figure("Pick two synapse measures.")
        syn = data.synapses if scope == "all" or cid is None else data.synapses[data.synapses["cell_id"] == cid]
        return synapse_scatter_figure(syn, x, y, color_by, "log x" in logs, "log y" in logs,
                                      _who(data, cid, scope, len(syn), "synapse rows"))  # fmt: skip
    if x not in data.numeric_columns or y not in data.numeric_columns:
        return message_figure("Pick two measures of mitochondria.")
    mitos = data.mitos if scope == "all" or cid is None else data.mitos[data.mitos["cellid"] == cid]
    return scatter_figure(mitos, x, y, color_by, "log x" in logs, "log y" in logs,
                          title=_who(data, cid, scope, len(mitos), "mitochondria"))  # fmt: skip


def highlight_scatter_ids(
    data: ExplorerData, selection: dict | None, x: str, y: str, points: str = "mitochondria"
) -> Patch | object:
    """Partial update of the scatter's highlight trace to a selection made elsewhere (3D,
    dendrogram, a gradient bin); a selection drawn in the scatter is shown by plotly itself (the
    highlight is emptied), and a scatter of synapses shows no mitochondria."""
    sel = selection or {}
    if points == "synapses" or x not in data.numeric_columns or y not in data.numeric_columns:
        return no_update
    # a selection drawn here is shown by plotly itself: clear the highlight of an earlier one
    rows = data.mito_rows([] if sel.get("source") == "scatter" else parse_ids(sel.get("ids")))
    p = Patch()
    p["data"][HIGHLIGHT_TRACE]["x"] = rows[x].tolist()
    p["data"][HIGHLIGHT_TRACE]["y"] = rows[y].tolist()
    return p


def layout(data: ExplorerData) -> html.Div:
    x, y, logs = data.scatter_defaults()
    note = data.mesh_note()
    drop = {"clearable": False, "style": {"minWidth": "320px"}}
    controls = html.Div(
        [
            dcc.RadioItems(id=POINTS, options=["mitochondria", "synapses"], value="mitochondria", inline=True),
            html.Label(["x ", dcc.Dropdown(id=X, options=options(data.numeric_columns), value=x, **drop)]),
            html.Label(["y ", dcc.Dropdown(id=Y, options=options(data.numeric_columns), value=y, **drop)]),
            dcc.Checklist(id=LOG, options=["log x", "log y"], value=logs, inline=True),
            dcc.RadioItems(id=COLOR, options=[{"label": "colour by compartment", "value": "compartment"},
                                              {"label": "by cell type", "value": "cell_type"}], value="compartment", inline=True),
            dcc.RadioItems(id=SCOPE, options=[{"label": "this cell", "value": "cell"}, {"label": "all cells", "value": "all"}],
                           value="cell", inline=True),
        ],
        className="controls",
    )  # fmt: skip
    return html.Div(
        [
            controls,
            *([html.P(note, id=NOTE, className="note")] if note else []),
            dcc.Store(id=IDS),
            dcc.Store(id=KEY),  # what the scatter shows (scatter_key)
            # assets/selection_ids.js sends a box or lasso selection's ids to the store named here
            html.Div(
                dcc.Graph(id=GRAPH, style={"height": "500px"}, config={"displaylogo": False}),
                **{"data-ids-store": IDS, "data-max-ids": str(MAX_SELECTION)},
            ),  # fmt: skip
        ]
    )


def register(app: Dash, data: ExplorerData) -> None:
    @app.callback(
        Output(GRAPH, "figure"), Output(KEY, "data"),
        Input(ids.DRAWN, "data"), Input(ids.CELL, "data"), Input(X, "value"), Input(Y, "value"), Input(COLOR, "value"),
        Input(LOG, "value"), Input(SCOPE, "value"), State(POINTS, "value"), State(KEY, "data"),
    )  # fmt: skip
    def _scatter(drawn, cell, x, y, color, logs, scope, points, shown):
        cell = as_opt_str(cell, 40)
        if waits_for_3d(ctx.triggered_id, cell, as_opt_str(drawn, 4000)):
            return no_update, no_update
        args = (cell, as_str(x), as_str(y), as_str(color), as_str_list(logs), as_str(scope), as_str(points))
        key = scatter_key(*args)
        if key == shown:
            return no_update, no_update
        return scatter_view(data, *args), key

    @app.callback(
        Output(X, "options"), Output(X, "value"), Output(Y, "options"), Output(Y, "value"),
        Input(POINTS, "value"), prevent_initial_call=True,
    )  # fmt: skip
    def _axes(points):  # the new axes redraw the scatter (X, Y are its inputs)
        return scatter_axes(data, as_str(points))

    app.clientside_callback(SCATTER_IDS_JS, Output(IDS, "data"), Input(GRAPH, "selectedData"), prevent_initial_call=True)

    @app.callback(Output(ids.SELECTION, "data"), Input(IDS, "data"), prevent_initial_call=True)
    def _select(payload):
        return selection_from_ids(as_dict(payload))

    @app.callback(
        Output(GRAPH, "figure", allow_duplicate=True), Input(ids.SELECTION, "data"),
        State(X, "value"), State(Y, "value"), State(POINTS, "value"), prevent_initial_call=True,
    )  # fmt: skip
    def _highlight(selection, x, y, points):
        return highlight_scatter_ids(data, as_dict(selection), as_str(x), as_str(y), as_str(points))
