"""Callbacks: each is a few lines in :func:`register` calling a pure function of this module.

The pure functions take the app's :class:`ExplorerData` and plain values from the browser and
return plain values or figures, so tests call them directly. Browser values are untrusted:
ids are parsed with :func:`explorer.data.parse_id`, lengths are capped, nothing is a path.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import numpy as np
from dash import Dash, Input, Output, Patch, State, no_update
from flask import request

from builder.errors import DatasetError
from explorer.analysis import cells_view, partner_cells, search_for_click, selected_cells
from explorer.data import MAX_SELECTION, ExplorerData, parse_id, parse_ids
from explorer.figures.cell3d import HIGHLIGHT_TRACE, cell_figure
from explorer.figures.compartments import compartment_figure
from explorer.figures.scatter import HIGHLIGHT_TRACE as SCATTER_HIGHLIGHT
from explorer.figures.scatter import scatter_figure, synapse_scatter_figure
from explorer.inputs import as_dict, as_event, as_opt_str, as_records, as_str, as_str_list
from explorer.layout import GRAPHS, NO_ROWS, TABLE_COLUMNS, TABLE_HINT
from explorer.links import LinkOptions
from explorer.published import compartment_tests_rows
from explorer.selection import clicked_mito, export_csv, mito_row_table, selection_from_ids, selection_panel


def empty_figure(text: str = "") -> dict:
    """A blank figure without axes that says what to do next (a new dict each time: nothing
    shared between requests)."""
    layout = {"xaxis": {"visible": False}, "yaxis": {"visible": False}, "plot_bgcolor": "#ffffff"}
    if text:
        layout["annotations"] = [{"text": text, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                                  "showarrow": False, "font": {"size": 14}}]  # fmt: skip
    return {"data": [], "layout": layout}


NO_CELL = "Pick a cell in the table (click its row), or tick several to see them together."


def cell_from_search(data: ExplorerData, search: str | None) -> tuple[str | None, str]:
    """The cell named by ``?cell=`` in the URL, and a message for the page."""
    values = parse_qs((search or "").lstrip("?")[:200]).get("cell", [])
    if not values:
        return None, "Pick a cell in the table (or put ?cell=<id> in the address)."
    cid = parse_id(values[0])
    if cid is None:
        return None, f"'{values[0][:40]}' is not a cell id (digits only)."
    if not data.ds.has_cell(cid):
        return None, f"Cell {cid} is not in this dataset."
    return str(cid), ""


def table_rows(data: ExplorerData, types: list | None, subtypes: list | None, query: str | None) -> list[dict]:
    """Rows of the cells table for the filters (the grid's columns only)."""
    rows = data.cell_table(types, subtypes, query)
    return rows[[c for c, _ in TABLE_COLUMNS if c in rows.columns]].to_dict("records")


def cell_view(data: ExplorerData, cell: str | None) -> tuple[dict | object, str, str]:
    """3D figure, info line and message for the current cell."""
    cid = parse_id(cell)
    if cid is None or not data.ds.has_cell(cid):
        return empty_figure(NO_CELL), "", ""
    row = data.ds.cell(cid)
    mitos = data.ds.cell_mitochondria(cid)
    fig = cell_figure(cid, data.display_skeleton(cid), mitos, data.display_meshes(cid), data.ds.cell_synapses(cid))
    info = (
        f"cell {cid} · {row.cell_type} ({row.cell_subtype}) · {int(row.n_mito)} mitochondria · "
        f"{int(row.n_syn_in)} synapses in, {int(row.n_syn_out)} out · {row.cable_length_um:.0f} µm of cable"
    )
    msg = "" if len(mitos) else f"Cell {cid} has no mitochondria in this dataset; showing its skeleton and synapses."
    if len(mitos) and not data.ds.has_meshes:
        msg = "This dataset has no mitochondrion meshes: mitochondria are drawn as markers sized by volume."
    return fig, info, msg


def several_or_one(data: ExplorerData, cell: str | None, ticked: list[dict], partners: bool) -> tuple:
    """3D view: the ticked cells when there are several, the cell with its synaptic partners
    when asked, else the cell alone."""
    many = selected_cells(data, ticked)
    cid = parse_id(cell)
    if len(many) < 2 and partners and cid is not None and data.ds.has_cell(cid):
        many = partner_cells(data, cid)
        if len(many) < 2:
            fig, info, _ = cell_view(data, cell)
            return fig, info, f"Cell {cid} has no synaptic partner among the cells of this dataset."
    if len(many) >= 2:
        return (*cells_view(data, many), "")
    return cell_view(data, cell)


def highlight_scatter_ids(
    data: ExplorerData, selection: dict | None, x: str, y: str, points: str = "mitochondria"
) -> Patch | object:
    """Partial update of the scatter's highlight trace to a selection made elsewhere (3D,
    dendrogram, a gradient bin); a selection drawn in the scatter is shown by plotly itself,
    and a scatter of synapses shows no mitochondria."""
    sel = selection or {}
    if points == "synapses" or sel.get("source") == "scatter" or x not in data.numeric_columns or y not in data.numeric_columns:
        return no_update
    rows = data.mito_rows(parse_ids(sel.get("ids")))
    p = Patch()
    p["data"][SCATTER_HIGHLIGHT]["x"] = rows[x].tolist()
    p["data"][SCATTER_HIGHLIGHT]["y"] = rows[y].tolist()
    return p


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


def scatter_axes(data: ExplorerData, points: str) -> tuple[list[str], str, list[str], str]:
    """The axis choices and defaults of the scatter for mitochondria or synapses."""
    if points == "synapses" and data.synapse_columns:
        cols = data.synapse_columns
        x = "nearest_mito_path_um" if "nearest_mito_path_um" in cols else cols[0]
        return cols, x, cols, "size" if "size" in cols else cols[-1]
    x, y, _ = data.scatter_defaults()
    return data.numeric_columns, x, data.numeric_columns, y


def scatter_view(
    data: ExplorerData,
    cell: str | None,
    x: str,
    y: str,
    color_by: str,
    logs: list | None,
    scope: str,
    points: str = "mitochondria",
) -> dict | object:
    """The morphometric scatter for the controls: mitochondria, or synapse rows (size, nearest
    mitochondrion along the skeleton, distance to the soma)."""
    if color_by not in ("compartment", "cell_type"):
        return empty_figure()
    cid = parse_id(cell)
    if points == "synapses":
        if x not in data.synapse_columns or y not in data.synapse_columns:
            return empty_figure()
        syn = data.synapses if scope == "all" or cid is None else data.synapses[data.synapses["cell_id"] == cid]
        return synapse_scatter_figure(syn, x, y, color_by, "log x" in (logs or []), "log y" in (logs or []))
    if x not in data.numeric_columns or y not in data.numeric_columns:
        return empty_figure()
    mitos = data.mitos if scope == "all" or cid is None else data.mitos[data.mitos["cellid"] == cid]
    logs = logs or []
    return scatter_figure(mitos, x, y, color_by, "log x" in logs, "log y" in logs)


def highlight_3d(data: ExplorerData, cell: str | None, ids: list[int]) -> Patch:
    """Partial update of the 3D figure's highlight trace to the given mitochondria of the cell."""
    cid = parse_id(cell)
    rows = data.mito_rows(ids)
    rows = rows[rows["cellid"] == cid] if cid is not None else rows.iloc[:0]
    p = Patch()
    xyz = rows[["x", "y", "z"]].to_numpy(np.float64)
    p["data"][HIGHLIGHT_TRACE]["x"] = xyz[:, 0].tolist()
    p["data"][HIGHLIGHT_TRACE]["y"] = xyz[:, 1].tolist()
    p["data"][HIGHLIGHT_TRACE]["z"] = xyz[:, 2].tolist()
    return p


#: In the browser, a box or lasso selection is reduced to the selected mitochondria's ids (at
#: most MAX_SELECTION) and their total before anything is sent: a box over 100,000 points of the
#: all-cells scatter would otherwise send 10 MB of point records. assets/selection_ids.js does it
#: straight from plotly's event (without dcc.Graph's selectedData, a record per point) and
#: exports the reduction; this callback uses it for deselection (selectedData = null) and should
#: the script's handler not be bound.
SCATTER_IDS_JS = f"function(sel) {{ return window.dash_clientside.explorer.selectedIds(sel, {MAX_SELECTION}); }}"


#: dcc.Graph configs with plotly's WebGL pixel ratio set to 1 on standard screens, 2 on HiDPI ones
GL_PIXEL_RATIO_JS = """function(_, ...configs) {
    const ratio = (window.devicePixelRatio || 1) > 1 ? 2 : 1;
    return configs.map(c => Object.assign({}, c, {plotGlPixelRatio: ratio}));
}"""


def compartments_view(data: ExplorerData, cell: str | None, scope: str, rows: list[dict] | None) -> tuple:
    """Per-compartment distributions for this cell, the cells in the table, or all cells, and
    the published one-sided Mann-Whitney tests between compartments for the same mitochondria."""
    if scope == "cell":
        cid = parse_id(cell)
        if cid is None:
            return empty_figure(NO_CELL), []
        mitos, title = data.mitos[data.mitos["cellid"] == cid], f"cell {cid}"
    elif scope == "table":
        ids = parse_ids([r.get("cell_id") for r in rows or []], limit=100_000)
        mitos, title = data.mitos[data.mitos["cellid"].isin(ids)], f"{len(ids)} cells in the table"
    else:
        mitos, title = data.mitos, "all cells"
    if not len(mitos):
        return empty_figure(f"No mitochondria in {title}: pick another cell or scope."), []
    return compartment_figure(mitos, title), tests_table(compartment_tests_rows(mitos))


def tests_table(rows: list[dict]) -> list:
    """The Mann-Whitney rows as a small HTML table (nothing when no pair has both compartments)."""
    from dash import html

    if not rows:
        return []
    head = html.Tr([html.Th(k) for k in rows[0]])
    body = [html.Tr([html.Td(v) for v in r.values()]) for r in rows]
    note = html.P("One-sided Mann-Whitney U (scipy.stats.mannwhitneyu, alternative 'less'), as the published "
                  "compartment comparison; mitochondria whose compartment came from their mesh vertices.", className="hint")  # fmt: skip
    return [html.Table([head, *body], className="kv tests"), note]


def register(app: Dash, data: ExplorerData, opts: LinkOptions) -> None:
    """Wire the callbacks; each one is a call to a pure function above."""

    @app.callback(Output("cell-store", "data"), Output("message", "children"), Input("url", "search"))
    def _url(search):
        return cell_from_search(data, as_str(search))

    @app.callback(
        Output("cell-table", "rowData"), Output("table-note", "children"),
        Input("f-type", "value"), Input("f-subtype", "value"), Input("f-search", "value"),
    )  # fmt: skip
    def _table(types, subtypes, query):
        rows = table_rows(data, as_str_list(types), as_str_list(subtypes), as_str(query, 200))
        return rows, TABLE_HINT if rows else NO_ROWS

    @app.callback(Output("url", "search"), Input("cell-table", "cellClicked"), prevent_initial_call=True)
    def _pick(clicked):
        return search_for_click(as_dict(clicked)) or no_update

    @app.callback(
        Output("graph-3d", "figure"), Output("cell-info", "children"), Output("message", "children", allow_duplicate=True),
        Input("cell-store", "data"), Input("cell-table", "selectedRows"), Input("with-partners", "value"),
        prevent_initial_call="initial_duplicate",
    )  # fmt: skip
    def _cell(cell, ticked, partners):
        try:
            return several_or_one(data, as_opt_str(cell, 40), as_records(ticked), "partners" in as_str_list(partners))
        except DatasetError as exc:
            return empty_figure(), "", str(exc)

    @app.callback(
        Output("graph-scatter", "figure"), Output("scatter-key", "data"),
        Input("cell-store", "data"), Input("sc-x", "value"), Input("sc-y", "value"), Input("sc-color", "value"),
        Input("sc-log", "value"), Input("sc-scope", "value"), State("sc-points", "value"), State("scatter-key", "data"),
    )  # fmt: skip
    def _scatter(cell, x, y, color, logs, scope, points, shown):
        args = (as_opt_str(cell, 40), as_str(x), as_str(y), as_str(color), as_str_list(logs), as_str(scope), as_str(points))
        key = scatter_key(*args)
        if key == shown:
            return no_update, no_update
        return scatter_view(data, *args), key

    @app.callback(
        Output("sc-x", "options"), Output("sc-x", "value"), Output("sc-y", "options"), Output("sc-y", "value"),
        Input("sc-points", "value"), prevent_initial_call=True,
    )  # fmt: skip
    def _axes(points):  # the new axes redraw the scatter (sc-x, sc-y are its inputs)
        return scatter_axes(data, as_str(points))

    # plotly draws WebGL at plotGlPixelRatio (default 2) whatever the screen: on a standard
    # screen that is 4x the pixels for nothing, so it follows the screen's own pixel ratio
    app.clientside_callback(GL_PIXEL_RATIO_JS, [Output(g, "config") for g in GRAPHS], Input("url", "pathname"),
                            [State(g, "config") for g in GRAPHS])  # fmt: skip

    app.clientside_callback(SCATTER_IDS_JS, Output("scatter-ids", "data"), Input("graph-scatter", "selectedData"),
                            prevent_initial_call=True)  # fmt: skip

    @app.callback(Output("selection-store", "data"), Input("scatter-ids", "data"), prevent_initial_call=True)
    def _select(payload):
        return selection_from_ids(as_dict(payload))

    @app.callback(
        Output("mito-row", "children"), Output("selection-store", "data", allow_duplicate=True),
        Input("graph-3d", "clickData"), prevent_initial_call=True,
    )  # fmt: skip
    def _click(click):
        mid = clicked_mito(data, as_event(click))
        if mid is None:
            return no_update, no_update
        return mito_row_table(data, mid), {"ids": [str(mid)], "source": "click"}

    # every selection (scatter, 3D click, dendrogram, gradient bin) goes through the store; the
    # views that did not make it highlight it from there
    @app.callback(
        Output("graph-3d", "figure", allow_duplicate=True), Input("selection-store", "data"), State("cell-store", "data"),
        prevent_initial_call=True,
    )  # fmt: skip
    def _highlight_3d(selection, cell):
        return highlight_3d(data, as_opt_str(cell, 40), parse_ids(as_dict(selection).get("ids")))

    @app.callback(
        Output("sel-summary", "children"), Output("ng-link", "href"), Output("ng-copy", "content"),
        Output("ng-offline", "href"), Output("message", "children", allow_duplicate=True),
        Input("selection-store", "data"), State("cell-store", "data"), prevent_initial_call=True,
    )  # fmt: skip
    def _selection(selection, cell):
        summary, href, text, offline, msg = selection_panel(
            data, as_dict(selection), as_opt_str(cell, 40), opts, request.host_url
        )
        return summary, href, text, offline, msg if msg else no_update

    @app.callback(
        Output("graph-scatter", "figure", allow_duplicate=True), Input("selection-store", "data"),
        State("sc-x", "value"), State("sc-y", "value"), State("sc-points", "value"), prevent_initial_call=True,
    )  # fmt: skip
    def _scatter_highlight(selection, x, y, points):
        return highlight_scatter_ids(data, as_dict(selection), as_str(x), as_str(y), as_str(points))

    @app.callback(
        Output("download", "data"), Input("btn-csv", "n_clicks"), State("selection-store", "data"), prevent_initial_call=True
    )
    def _csv(_n, selection):
        return export_csv(data, as_dict(selection)) or no_update

    @app.callback(
        Output("graph-comp", "figure"), Output("comp-tests", "children"), Input("cell-store", "data"), Input("comp-scope", "value"),
        Input("cell-table", "virtualRowData"), Input("tabs", "value"),
    )  # fmt: skip
    def _comp(cell, scope, rows, tab):
        if tab != "compartments":  # drawn when its tab is shown: start-up serves the scatter first
            return no_update, no_update
        return compartments_view(data, as_opt_str(cell, 40), as_str(scope), as_records(rows))
