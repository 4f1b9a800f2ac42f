"""The dendrogram of the current cell: cable by path distance to the soma, mitochondria over
the cable they cover, synapses; a box selection of mitochondria becomes the selection
(:data:`explorer.ids.SELECTION`), and a selection made elsewhere is highlighted here."""

from __future__ import annotations

from dash import Dash, Input, Output, Patch, State, dcc, html, no_update

from explorer import ids
from explorer.data import MAX_SELECTION, ExplorerData, parse_id, parse_ids
from explorer.figures.dendrogram import HIGHLIGHT_TRACE, dendrogram_figure, highlight_xy
from explorer.figures.message import message_figure
from explorer.figures.scatter import selected_ids
from explorer.inputs import as_dict, as_event, as_opt_str

GRAPH = "graph-dendrogram"
GRAPHS: tuple[str, ...] = (GRAPH,)
TAB = "dendrogram"
PICK_A_CELL = "Pick a cell in the table to see its dendrogram."


def dendrogram_view(data: ExplorerData, cell: str | None, selection: dict | None) -> dict | object:
    """The dendrogram of the current cell, with the current selection highlighted."""
    cid = parse_id(cell)
    if cid is None or not data.ds.has_cell(cid):
        return message_figure(PICK_A_CELL)
    sel = parse_ids((selection or {}).get("ids"))
    return dendrogram_figure(data.ds.skeleton_nodes(cid), data.ds.cell_mitochondria(cid), data.ds.associations(cid),
                             data.ds.cell_synapses(cid), highlight_ids=sel)  # fmt: skip


def selection_from_dendrogram(selected: dict | None) -> dict:
    """Mito ids of a box/lasso selection in the dendrogram (points of mitochondrion traces)."""
    return {"ids": [str(i) for i in selected_ids(selected)[:MAX_SELECTION]], "source": "dendrogram"}


def highlight_dendrogram(data: ExplorerData, cell: str | None, selection: dict | None) -> Patch | object:
    """Partial update of the dendrogram's highlight trace to the selection."""
    cid = parse_id(cell)
    if cid is None or not data.ds.has_cell(cid):
        return no_update
    xs, ys = highlight_xy(data.ds.skeleton_nodes(cid), data.ds.associations(cid), parse_ids((selection or {}).get("ids")))
    p = Patch()
    p["data"][HIGHLIGHT_TRACE]["x"] = xs
    p["data"][HIGHLIGHT_TRACE]["y"] = ys
    return p


def layout(data: ExplorerData) -> html.Div:
    return html.Div(
        [
            dcc.Graph(id=GRAPH, style={"height": "560px"}, config={"displaylogo": False}),
            html.P(
                "Cable by path distance to the soma (µm); bars are mitochondria over the cable they cover, triangles "
                "synapses (down: inputs, up: outputs). Box-select mitochondria to select them everywhere.",
                className="hint",
            ),  # fmt: skip
        ]
    )


def register(app: Dash, data: ExplorerData) -> None:
    @app.callback(Output(GRAPH, "figure"), Input(ids.CELL, "data"), Input(ids.TABS, "value"), State(ids.SELECTION, "data"))
    def _dendrogram(cell, tab, selection):
        if tab != TAB:  # drawn (with the current selection) when its tab is shown
            return no_update
        return dendrogram_view(data, as_opt_str(cell, 40), as_dict(selection))

    @app.callback(
        Output(GRAPH, "figure", allow_duplicate=True),
        Input(ids.SELECTION, "data"), State(ids.CELL, "data"), State(ids.TABS, "value"), prevent_initial_call=True,
    )  # fmt: skip
    def _highlight(selection, cell, tab):
        if tab != TAB:  # not drawn yet: it takes the selection when it is
            return no_update
        return highlight_dendrogram(data, as_opt_str(cell, 40), as_dict(selection))

    @app.callback(Output(ids.SELECTION, "data", allow_duplicate=True), Input(GRAPH, "selectedData"), prevent_initial_call=True)
    def _select(selected):
        return selection_from_dendrogram(as_event(selected))
