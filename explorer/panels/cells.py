"""The cells panel: the filters, the cells table, and the current cell in the URL.

Owns the table (:data:`explorer.ids.TABLE`), writes the current cell (:data:`explorer.ids.CELL`)
from ``?cell=<id>``, and puts a clicked row's cell in the URL. Both run in the browser (checked
against the dataset's cell ids, which the page holds), so that opening or switching a cell costs
one round trip to the server, the 3D view's own.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import dash_ag_grid as dag
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from explorer import ids
from explorer.data import ExplorerData, parse_id
from explorer.inputs import as_str, as_str_list

FILTER_TYPE, FILTER_SUBTYPE, SEARCH, NOTE = "f-type", "f-subtype", "f-search", "table-note"
GRAPHS: tuple[str, ...] = ()
#: column, header, header tooltip (words and unit), width weight
TABLE_COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("cell_id", "cell id", "root id of the cell (segmentation v185)", 19),
    ("cell_type", "type", "cell type", 11),
    ("cell_subtype", "subtype", "cell subtype", 12),
    ("n_mito", "mitos", "mitochondria", 7),
    ("n_syn_in", "inputs", "input synapses", 7),
    ("n_syn_out", "outputs", "output synapses", 7),
    ("cable_length_um", "cable µm", "skeleton cable length, µm", 8),
    ("synapse_density_per_um", "in /µm", "input synapses per µm of cable", 7),
    ("mito_volume_per_um", "mito µm³/µm", "mitochondrial volume per µm of cable, µm³/µm", 9),
)
TABLE_HINT = "Click a row to view the cell; tick several to view them together."
NO_ROWS = "No cell matches these filters: clear the type, subtype or id search."
PICK_A_CELL = "Pick a cell in the table (or put ?cell=<id> in the address)."
#: The dataset's cell ids (strings), in the page: the browser checks ``?cell=`` against them.
CELL_IDS = "cell-ids"
#: The filters whose rows the table holds (JSON), so that a cell drawn or switched does not resend them.
SHOWN = "cell-table-shown"

#: :func:`cell_from_search` in the browser, so that a cell's link or a click on a row reaches the
#: 3D view without a round trip to the server first (a test checks the two agree).
CELL_FROM_SEARCH_JS = f"""function(search, valid) {{
    const q = new URLSearchParams(String(search || "").replace(/^\\?+/, "").slice(0, 200));
    const value = q.getAll("cell").filter(v => v !== "")[0];
    if (value === undefined) {{ return [null, {json.dumps(PICK_A_CELL)}]; }}
    const s = value.trim();
    if (!/^[0-9]{{1,20}}$/.test(s)) {{ return [null, "'" + value.slice(0, 40) + "' is not a cell id (digits only)."]; }}
    const id = BigInt(s).toString();
    if (!(valid || []).includes(id)) {{ return [null, "Cell " + id + " is not in this dataset."]; }}
    return [id, ""];
}}"""
#: :func:`search_for_click` in the browser.
SEARCH_FOR_CLICK_JS = """function(clicked) {
    const s = String((clicked || {}).rowId ?? "").trim();
    return /^[0-9]{1,20}$/.test(s) ? "?cell=" + BigInt(s).toString() : window.dash_clientside.no_update;
}"""


def cell_from_search(data: ExplorerData, search: str | None) -> tuple[str | None, str]:
    """The cell named by ``?cell=`` in the URL, and a message for the page."""
    values = parse_qs((search or "").lstrip("?")[:200]).get("cell", [])
    if not values:
        return None, PICK_A_CELL
    cid = parse_id(values[0])
    if cid is None:
        return None, f"'{values[0][:40]}' is not a cell id (digits only)."
    if not data.ds.has_cell(cid):
        return None, f"Cell {cid} is not in this dataset."
    return str(cid), ""


def waits_for_first_draw(trigger: str | None, cell: object, drawn: object) -> bool:
    """Whether the table waits to be filled: on a page opened with a cell (first call, or the
    current cell just set) until the 3D view has drawn anything (:data:`explorer.ids.DRAWN`), so
    that the grid's rows are not laid out while the cell is drawn (one thread draws the page)."""
    return trigger in (None, ids.CELL) and cell is not None and drawn is None


def table_rows(data: ExplorerData, types: list | None, subtypes: list | None, query: str | None) -> list[dict]:
    """Rows of the cells table for the filters (the grid's columns only; densities rounded)."""
    rows = data.cell_table(types, subtypes, query)
    for col, digits in (("synapse_density_per_um", 2), ("mito_volume_per_um", 4)):
        if col in rows:
            rows[col] = rows[col].round(digits)
    return rows[[c for c, *_ in TABLE_COLUMNS if c in rows.columns]].to_dict("records")


def search_for_click(clicked: dict | None) -> str | None:
    """``?cell=<id>`` for a click on a row of the cells grid (its row id is the cell id)."""
    cid = parse_id((clicked or {}).get("rowId"))
    return None if cid is None else f"?cell={cid}"


def _column_defs() -> list[dict]:
    """Columns sized to fit the panel: ids as text (MICrONS ids exceed JavaScript's integer precision)."""
    defs = []
    for c, name, tip, flex in TABLE_COLUMNS:
        d = {"field": c, "headerName": name, "headerTooltip": tip, "flex": flex, "minWidth": 46 if flex < 10 else 70}
        if c in ("cell_id", "cell_type", "cell_subtype"):
            d["tooltipField"] = c
        else:
            d.update(filter="agNumberColumnFilter", type="numericColumn")
        defs.append(d)
    return defs


def _dropdown(id_: str, options: list[str], placeholder: str) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=options, value=None, multi=True, placeholder=placeholder)


def layout(data: ExplorerData) -> html.Section:
    cells = data.ds.cells
    grid = dag.AgGrid(
        id=ids.TABLE, columnDefs=_column_defs(), rowData=[], getRowId="params.data.cell_id",
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "wrapHeaderText": True, "autoHeaderHeight": True,
                       "suppressHeaderMenuButton": True, "suppressHeaderFilterButton": True},
        dashGridOptions={"rowSelection": {"mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
                                          "enableClickSelection": False},
                         "pagination": True, "paginationPageSize": 14, "paginationPageSizeSelector": False,
                         "tooltipShowDelay": 300},
        className="ag-theme-alpine", style={"height": "540px"},
    )  # fmt: skip
    return html.Section(
        [
            html.H2("Cells"),
            html.Div(
                [
                    _dropdown(FILTER_TYPE, sorted(cells["cell_type"].unique()), "cell type"),
                    _dropdown(FILTER_SUBTYPE, sorted(cells["cell_subtype"].unique()), "subtype"),
                    dcc.Input(id=SEARCH, type="text", placeholder="search cell id", debounce=True, maxLength=20),
                ],
                className="filters",
            ),  # fmt: skip
            grid,
            html.P(TABLE_HINT, id=NOTE, className="hint"),
            dcc.Store(id=CELL_IDS, data=[str(c) for c in data.ds.cells["cell_id"].to_numpy()]),
            dcc.Store(id=SHOWN),
        ],
        className="panel cells",
    )


def register(app: Dash, data: ExplorerData) -> None:
    app.clientside_callback(
        CELL_FROM_SEARCH_JS, Output(ids.CELL, "data"), Output(ids.MESSAGE, "children"), Input(ids.URL, "search"), State(CELL_IDS, "data")
    )  # fmt: skip

    @app.callback(
        Output(ids.TABLE, "rowData"), Output(NOTE, "children"), Output(SHOWN, "data"),
        Input(FILTER_TYPE, "value"), Input(FILTER_SUBTYPE, "value"), Input(SEARCH, "value"),
        Input(ids.CELL, "data"), Input(ids.DRAWN, "data"), State(SHOWN, "data"),
    )  # fmt: skip
    def _table(types, subtypes, query, cell, drawn, shown):
        args = (as_str_list(types), as_str_list(subtypes), as_str(query, 200))
        key = json.dumps(args)
        if key == shown or waits_for_first_draw(ctx.triggered_id, cell, drawn):
            return no_update, no_update, no_update
        rows = table_rows(data, *args)
        return rows, TABLE_HINT if rows else NO_ROWS, key

    app.clientside_callback(
        SEARCH_FOR_CLICK_JS, Output(ids.URL, "search"), Input(ids.TABLE, "cellClicked"), prevent_initial_call=True
    )
