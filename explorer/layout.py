"""Page layout: cells table, 3D cell view, and tabs for morphometrics, compartments, gradients,
dendrogram and selection."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html

from explorer.data import MAX_SELECTION, ExplorerData
from explorer.figures.gradients import GRADIENT_QUANTITIES

TABLE_COLUMNS = (
    ("cell_id", "cell id"), ("cell_type", "type"), ("cell_subtype", "subtype"), ("n_mito", "mitos"),
    ("n_mito_somatic", "somatic"), ("n_mito_axonal", "axonal"), ("n_mito_basal", "basal"), ("n_mito_apical", "apical"),
    ("n_mito_branch", "branch"), ("n_syn_in", "syn in"), ("n_syn_out", "syn out"), ("cable_length_um", "cable (µm)"),
)  # fmt: skip


#: every dcc.Graph of the page
GRAPHS = ("graph-3d", "graph-scatter", "graph-comp", "graph-gradients", "graph-density", "graph-dendrogram")

TABLE_HINT = "Click a row to view the cell; tick several to view them together."
NO_ROWS = "No cell matches these filters: clear the type, subtype or id search."


def _column_defs() -> list[dict]:
    """Cells table columns: ids as text (MICrONS ids exceed JavaScript's integer precision)."""
    defs = []
    for c, name in TABLE_COLUMNS:
        d = {"field": c, "headerName": name}
        if c not in ("cell_id", "cell_type", "cell_subtype"):
            d.update(filter="agNumberColumnFilter", type="numericColumn", width=90)
        else:
            d.update(width=190 if c == "cell_id" else 110, tooltipField=c)
        defs.append(d)
    return defs


def _dropdown(id_: str, options: list[str], value, multi=False, **kw) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=[{"label": o, "value": o} for o in options], value=value, multi=multi, **kw)


def make_layout(data: ExplorerData) -> html.Div:
    """The whole page. Per-user state lives only in the URL and the stores."""
    cells = data.ds.cells
    synthetic = data.ds.synthetic
    num = data.numeric_columns
    sc_x, sc_y, sc_log = data.scatter_defaults()
    note = data.mesh_note()
    banner = (
        html.Span("synthetic demo data", className="badge synthetic", title="built from the generated demo volume")
        if synthetic
        else html.Span("MICrONS Phase 1", className="badge")
    )
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="cell-store"),
            dcc.Store(id="selection-store", data={"ids": [], "source": ""}),
            dcc.Store(id="scatter-ids"),
            dcc.Store(id="scatter-key"),  # what the scatter shows (callbacks.scatter_key)
            html.Header(
                [
                    html.H1("L2/3 mitochondria explorer"),
                    banner,
                    html.Span(
                        f"{len(cells)} cells · {len(data.mitos):,} mitochondria · {len(data.ds.synapses):,} synapse rows",
                        className="counts",
                    ),
                ]
            ),
            html.Div(id="message", className="message", role="status"),
            html.Div(
                [
                    html.Section(
                        [
                            html.H2("Cells"),
                            _dropdown("f-type", sorted(cells["cell_type"].unique()), None, multi=True, placeholder="cell type"),
                            _dropdown(
                                "f-subtype", sorted(cells["cell_subtype"].unique()), None, multi=True, placeholder="subtype"
                            ),
                            dcc.Input(id="f-search", type="text", placeholder="search cell id", debounce=True, maxLength=20),
                            dag.AgGrid(
                                id="cell-table",
                                columnDefs=_column_defs(),
                                rowData=[],
                                getRowId="params.data.cell_id",
                                defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 70},
                                dashGridOptions={
                                    "rowSelection": {
                                        "mode": "multiRow",
                                        "checkboxes": True,
                                        "headerCheckbox": True,
                                        "enableClickSelection": False,
                                    },
                                    "pagination": True,
                                    "paginationPageSize": 14,
                                    "paginationPageSizeSelector": False,
                                },
                                className="ag-theme-alpine",
                                style={"height": "520px"},
                            ),
                            html.P(TABLE_HINT, id="table-note", className="hint"),
                        ],
                        className="panel cells",
                    ),
                    html.Section(
                        [
                            html.Div(id="cell-info", className="cell-info"),
                            dcc.Checklist(
                                id="with-partners",
                                options=[{"label": "with its synaptic partners in the dataset", "value": "partners"}],
                                value=[],
                                inline=True,
                            ),
                            dcc.Loading(dcc.Graph(id="graph-3d", style={"height": "560px"}, config={"displaylogo": False})),
                            html.Div(id="mito-row", className="mito-row"),
                        ],
                        className="panel view3d",
                    ),
                ],
                className="top",
            ),
            dcc.Tabs(
                id="tabs",
                value="morphometrics",
                children=[
                    dcc.Tab(
                        label="Morphometrics",
                        value="morphometrics",
                        children=[
                            html.Div(
                                [
                                    dcc.RadioItems(
                                        id="sc-points", options=["mitochondria", "synapses"], value="mitochondria", inline=True
                                    ),
                                    html.Label(["x ", _dropdown("sc-x", num, sc_x, clearable=False)]),
                                    html.Label(["y ", _dropdown("sc-y", num, sc_y, clearable=False)]),
                                    dcc.Checklist(id="sc-log", options=["log x", "log y"], value=sc_log, inline=True),
                                    dcc.RadioItems(
                                        id="sc-color", options=["compartment", "cell_type"], value="compartment", inline=True
                                    ),
                                    dcc.RadioItems(
                                        id="sc-scope",
                                        options=[{"label": "this cell", "value": "cell"}, {"label": "all cells", "value": "all"}],
                                        value="cell",
                                        inline=True,
                                    ),
                                ],
                                className="controls",
                            ),
                            *([html.P(note, id="sc-note", className="note")] if note else []),
                            # assets/selection_ids.js sends a box or lasso selection's ids to this store
                            html.Div(
                                dcc.Graph(id="graph-scatter", style={"height": "480px"}, config={"displaylogo": False}),
                                **{"data-ids-store": "scatter-ids", "data-max-ids": str(MAX_SELECTION)},
                            ),
                        ],
                    ),
                    dcc.Tab(
                        label="Compartments",
                        value="compartments",
                        children=[
                            dcc.RadioItems(
                                id="comp-scope",
                                options=[
                                    {"label": "this cell", "value": "cell"},
                                    {"label": "cells in the table", "value": "table"},
                                    {"label": "all cells", "value": "all"},
                                ],
                                value="table",
                                inline=True,
                            ),
                            dcc.Graph(id="graph-comp", style={"height": "460px"}, config={"displaylogo": False}),
                            html.Div(id="comp-tests", className="comp-tests"),
                        ],
                    ),  # fmt: skip
                    dcc.Tab(
                        label="Gradients",
                        value="gradients",
                        children=[
                            html.Div(
                                [
                                    html.Label(
                                        [
                                            "measure ",
                                            _dropdown("grad-q", list(GRADIENT_QUANTITIES), "mito_volume_per_um", clearable=False),
                                        ]
                                    ),
                                    dcc.RadioItems(
                                        id="grad-scope",
                                        options=[
                                            {"label": "this cell", "value": "cell"},
                                            {"label": "its cell type", "value": "type"},
                                            {"label": "cells in the table", "value": "table"},
                                            {"label": "all cells", "value": "all"},
                                        ],
                                        value="type",
                                        inline=True,
                                    ),
                                    dcc.Checklist(id="grad-comp", options=["Basal", "Apical"], value=["Basal"], inline=True),
                                    dcc.RadioItems(
                                        id="grad-stat",
                                        options=[
                                            {"label": "published: mean ± SD over segments", "value": "segments"},
                                            {"label": "median over cells", "value": "cells"},
                                        ],
                                        value="segments",
                                        inline=True,
                                    ),
                                ],
                                className="controls",
                            ),
                            html.Div(
                                [
                                    dcc.Graph(id="graph-gradients", style={"height": "440px"}, config={"displaylogo": False}),
                                    dcc.Graph(id="graph-density", style={"height": "440px"}, config={"displaylogo": False}),
                                ],
                                className="pair",
                            ),
                            html.P(
                                "Published statistic (Turner et al. 2022, Fig. 5; the numbers of `python -m builder analyze`): "
                                "segments, the connected pieces of each 10-µm bin of distance to the soma, more than 5 µm from "
                                "a leaf; mean ± SD per bin with more than 10; right: segments beyond 60 µm with the published "
                                "regressions. Median over cells: each cell's bins, median per bin with its 95 % bootstrap "
                                "interval; right: one point per bin with the least-squares line. Click a bin of the median view "
                                "to see its mitochondria in 3D and in the dendrogram.",
                                className="hint",
                            ),
                        ],
                    ),
                    dcc.Tab(
                        label="Dendrogram",
                        value="dendrogram",
                        children=[
                            dcc.Graph(id="graph-dendrogram", style={"height": "560px"}, config={"displaylogo": False}),
                            html.P(
                                "Cable by path distance to the soma; bars are mitochondria over the cable they cover, "
                                "triangles synapses (down: inputs, up: outputs). Box-select mitochondria to select them "
                                "everywhere.",
                                className="hint",
                            ),
                        ],
                    ),  # fmt: skip
                    dcc.Tab(
                        label="Selection & neuroglancer",
                        value="selection",
                        children=[
                            html.Div(id="sel-summary", className="sel-summary"),
                            html.Div(
                                [
                                    html.A(
                                        "open in neuroglancer",
                                        id="ng-link",
                                        href=None,
                                        target="_blank",
                                        rel="noopener noreferrer",
                                        className="button",
                                    ),
                                    dcc.Clipboard(id="ng-copy", content="", title="copy the neuroglancer link", className="clip"),
                                    html.A(
                                        "open offline (the dataset's layers)",
                                        id="ng-offline",
                                        href=None,
                                        target="_blank",
                                        rel="noopener noreferrer",
                                        className="button",
                                        title="neuroglancer bundled with the explorer: this dataset's layers, no internet needed",
                                    ),
                                    html.Button("export selection (CSV)", id="btn-csv", className="button"),
                                    dcc.Download(id="download"),
                                ],
                                className="controls",
                            ),
                        ],
                    ),  # fmt: skip
                ],
            ),
        ],
        className="app",
    )
