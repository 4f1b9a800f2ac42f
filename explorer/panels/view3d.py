"""The 3D view: the current cell (or the ticked cells, or the cell with its partners) with its
mitochondria coloured by compartment, the selection drawn strongly and the rest dimmed.

Reads the current cell (:data:`explorer.ids.CELL`), the ticked rows of the table and the
selection (:data:`explorer.ids.SELECTION`); a click on a mitochondrion selects it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dash import Dash, Input, Output, Patch, State, dcc, html, no_update
from flask import request

from builder.errors import DatasetError
from explorer import ids
from explorer.data import MAX_SELECTION, ExplorerData, parse_id, parse_ids
from explorer.figures.cell3d import (
    DIMMED,
    HIGHLIGHT_TRACE,
    SELECTED_MESH_TRACE,
    SOMA_NAME,
    SYNAPSES_SHOWN_BELOW,
    cell_figure,
    merged_mesh,
    mesh_patch_data,
    soma_mesh,
    synapse_points,
    typed,
)
from explorer.figures.cells3d import cells_figure
from explorer.figures.message import message_figure
from explorer.figures.scene3d import um
from explorer.inputs import as_dict, as_event, as_opt_str, as_records, as_str_list
from explorer.palette import COMPARTMENT_COLORS

GRAPH, INFO, PARTNERS, SYNAPSES, MITO_ROW, TRACES = (
    "graph-3d",
    "cell-info",
    "with-partners",
    "show-synapses",
    "mito-row",
    "view3d-traces",
)
GRAPHS: tuple[str, ...] = (GRAPH,)
HINT = "synapse-hint"
#: In the browser: once the 3D graph shows the figure of ``roles.cell`` (its uirevision) and
#: plotly has drawn its scene, plus one animation frame, that uirevision is written to
#: :data:`explorer.ids.DRAWN`; after 5 s whatever happened (a figure that failed to draw must
#: not hold up the other views). Written with ``set_props``, not as the callback's output: a
#: callback's output would put the 3D view's server round trip before every callback on
#: ids.DRAWN, the landing page's scatter included, which has no cell to wait for. With no cell
#: drawn, "" is written at once, and only when a cell was drawn before: writing it on the landing
#: page would ask the scatter again while its first answer is on the way, and Dash drops the
#: answer of a callback asked again (at 450 cells the 2.8 MB figure was then made, sent and
#: parsed twice).
DRAWN_JS = f"""function(roles, drawn) {{
    const want = String((roles || {{}}).cell || "");
    let done = false;
    const finish = function() {{
        if (!done) {{ done = true; window.dash_clientside.set_props("{ids.DRAWN}", {{data: want}}); }}
    }};
    if (!want) {{ if (drawn) {{ finish(); }} return; }}
    setTimeout(finish, 5000);
    function check() {{
        const g = document.querySelector("#{GRAPH} .js-plotly-plot");
        const ready = g && g.layout && String(g.layout.uirevision) === want
            && g._fullLayout && g._fullLayout.scene && g._fullLayout.scene._scene;
        if (ready) {{ requestAnimationFrame(finish); }} else if (!done) {{ requestAnimationFrame(check); }}
    }}
    check();
}}"""
MAX_CELLS_3D = 12
NO_CELL = "Pick a cell in the table (click its row), or tick several to see them together."


def trace_roles(fig: dict) -> dict:
    """Indices of the figure's mitochondrion meshes and centres, of its synapse traces (what
    the selection dims and the synapse switch shows) and of its soma when sent empty (filled
    with the meshes), for the patches."""
    data = fig.get("data", [])
    mito = [i for i, t in enumerate(data) if str(t.get("legendgroup", "")).startswith("mito-")]
    syn = [i for i, t in enumerate(data) if str(t.get("legendgroup", "")).startswith("syn-")]
    return {
        "meshes": [i for i in mito if data[i].get("type") == "mesh3d"],
        "mesh_compartments": [data[i]["legendgroup"][5:] for i in mito if data[i].get("type") == "mesh3d"],
        "centres": [i for i in mito if data[i].get("type") == "scatter3d"],
        "synapses": syn,
        "synapse_roles": [data[i]["legendgroup"][4:] for i in syn],
        "soma": [i for i, t in enumerate(data) if t.get("name") == SOMA_NAME and t.get("visible") is False],
        "cell": str(fig.get("layout", {}).get("uirevision", "")),
    }


def cell_view(data: ExplorerData, cell: str | None, show_synapses: bool | None = None) -> tuple:
    """3D figure, info line, message and synapse switch for the current cell (kept: a link's
    cell is made while its page loads, :func:`register`'s read-ahead; never modify the result)."""
    cid = parse_id(cell)
    if cid is None or not data.ds.has_cell(cid):
        return message_figure(NO_CELL).to_dict(), "", "", []
    return data.memo("view3d", np.array([cid], np.int64), (show_synapses,), lambda: _cell_view(data, cid, show_synapses))


def _cell_view(data: ExplorerData, cid: int, show_synapses: bool | None) -> tuple:
    row = data.ds.cell(cid)
    mitos = data.ds.cell_mitochondria(cid)
    syn = data.ds.cell_synapses(cid)
    show = len(syn) < SYNAPSES_SHOWN_BELOW if show_synapses is None else show_synapses
    # the first draw: skeleton and the mitochondria's centres (what shows at this scale); their
    # meshes follow in a patch (mesh_patch), so the cell is on screen before they are made
    fig = cell_figure(cid, data.display_skeleton(cid), mitos, None, syn, show, mesh_ids=data.ds.mesh_ids(cid))
    counts = mitos["compartment"].value_counts()
    info = (f"cell {cid} · {row.cell_type} ({row.cell_subtype}) · {int(row.n_mito)} mitochondria ("
            + ", ".join(f"{counts[c]} {c.lower()}" for c in counts.index) + f") · {int(row.n_syn_in)} synapses in, "
            f"{int(row.n_syn_out)} out · {row.cable_length_um:.0f} µm of cable")  # fmt: skip
    msg = "" if len(mitos) else f"Cell {cid} has no mitochondria in this dataset; showing its skeleton and synapses."
    if len(mitos) and not data.ds.has_meshes:
        msg = "This dataset has no mitochondrion meshes: mitochondria are drawn as markers sized by volume."
    return fig, info, msg, ["synapses"] if show else []


def synapse_hint(data: ExplorerData, roles: dict, shown: bool) -> str:
    """Beside the synapse switch: how many synapses the drawn cell has when they are hidden."""
    cid = parse_id(roles.get("cell"))
    if shown or cid is None or not data.ds.has_cell(cid):
        return ""
    n = len(data.ds.cell_synapses(cid))
    return f"{n:,} synapses hidden so that the mitochondria show" if n else ""


def selected_cells(data: ExplorerData, rows: list[dict] | None) -> list[int]:
    """Cell ids of the ticked rows that are in the dataset (at most :data:`MAX_CELLS_3D`)."""
    found = [c for c in parse_ids([r.get("cell_id") for r in rows or []], limit=1000) if data.ds.has_cell(c)]
    return found[:MAX_CELLS_3D]


def partner_cells(data: ExplorerData, cell_id: int) -> list[int]:
    """The cell and its synaptic partners that are cells of the dataset, most synapses first
    (at most :data:`MAX_CELLS_3D` in all)."""
    syn = data.ds.cell_synapses(cell_id)
    partner = np.where(syn["synapse_type"] == "pre", syn["post_root_id"], syn["pre_root_id"])
    counts = pd.Series(partner[partner != cell_id]).value_counts()
    known = [int(c) for c in counts.index if data.ds.has_cell(int(c))]
    return [int(cell_id), *known][:MAX_CELLS_3D]


def cells_view(data: ExplorerData, cells: list[int]) -> tuple[dict, str]:
    """3D figure and info line for several cells."""
    skel = {c: data.display_skeleton(c, spacing_um=2.0) for c in cells}
    mitos = data.mitos[data.mitos["cellid"].isin(cells)]
    types = data.ds.cells.set_index("cell_id").loc[cells, "cell_type"].value_counts()
    info = f"{len(cells)} cells ({', '.join(f'{v} {k}' for k, v in types.items())}) · {len(mitos)} mitochondria"
    return cells_figure(skel, mitos), info


def several_or_one(data: ExplorerData, cell: str | None, ticked: list[dict], partners: bool, synapses: bool | None) -> tuple:
    """The ticked cells when there are several, the cell with its synaptic partners when asked,
    else the cell alone: figure, info, message, synapse switch."""
    many = selected_cells(data, ticked)
    cid = parse_id(cell)
    if len(many) < 2 and partners and cid is not None and data.ds.has_cell(cid):
        many = partner_cells(data, cid)
        if len(many) < 2:
            fig, info, _, sw = cell_view(data, cell, synapses)
            return fig, info, f"Cell {cid} has no synaptic partner among the cells of this dataset.", sw
    if len(many) >= 2:
        return (*cells_view(data, many), "", [])
    return cell_view(data, cell, synapses)


def mesh_patch(data: ExplorerData, roles: dict) -> Patch | object:
    """Patch filling and showing the Mesh3d traces the drawn cell's figure sent empty and hidden:
    its mitochondria's (display meshes) and its soma's (typed arrays)."""
    cid = parse_id(roles.get("cell"))
    if cid is None or not data.ds.has_cell(cid) or not (roles.get("meshes") or roles.get("soma")):
        return no_update
    meshes = data.display_meshes(cid) if roles.get("meshes") else None
    by_comp = mesh_patch_data(data.ds.cell_mitochondria(cid), meshes) if meshes is not None else {}
    soma = soma_mesh(data.display_skeleton(cid)) if roles.get("soma") else None
    soma_arrays = {k: typed(a) for k, a in soma.items()} if soma is not None else None
    p = Patch()
    fills = [*zip(roles.get("meshes", []), [by_comp.get(c) for c in roles.get("mesh_compartments", [])])]
    fills += [(i, soma_arrays) for i in roles.get("soma", [])]
    for i, arrays in fills:
        for axis, arr in (arrays or {}).items():
            p["data"][i][axis] = arr
        p["data"][i]["visible"] = arrays is not None
    return p


def synapse_patch(data: ExplorerData, roles: dict, show: bool) -> Patch:
    """Patch showing the drawn cell's synapses (their points sent now) or hiding them (emptied)."""
    cid = parse_id(roles.get("cell"))
    syn = data.ds.cell_synapses(cid) if cid is not None and data.ds.has_cell(cid) else None
    p = Patch()
    for i, role in zip(roles.get("synapses", []), roles.get("synapse_roles", [])):
        p["data"][i]["visible"] = True if show else "legendonly"
        pts = synapse_points(syn, role) if show and syn is not None else {"x": [], "y": [], "z": [], "customdata": []}
        for key, value in pts.items():
            p["data"][i][key] = typed(value) if show and key != "customdata" else np.asarray(value).tolist()
    return p


def drawn_cells(roles: dict | None, cell: int | None) -> list[int]:
    """The cells the figure draws: those of a several-cell view (its ``uirevision`` is
    ``cells:<id>,<id>...``), else the current cell."""
    rev = str((roles or {}).get("cell", ""))
    if rev.startswith("cells:"):
        return parse_ids(rev[6:].split(","))
    return [cell] if cell is not None else []


def highlight_3d(data: ExplorerData, cell: str | None, selected: list[int], roles: dict) -> Patch:
    """Patch of the 3D figure for a selection: its centres drawn as dots in their compartment's
    colour ringed in black, its meshes opaque, every other mitochondrion (mesh and centre)
    dimmed; all back when nothing is selected."""
    cid = parse_id(cell)
    rows = data.mito_rows(selected)
    rows = rows[rows["cellid"].isin(drawn_cells(roles, cid))]
    p = Patch()
    xyz = um(rows[["x", "y", "z"]].to_numpy())
    for k, axis in enumerate("xyz"):
        p["data"][HIGHLIGHT_TRACE][axis] = xyz[:, k].tolist()
    p["data"][HIGHLIGHT_TRACE]["marker"]["color"] = [COMPARTMENT_COLORS.get(c, "#000000") for c in rows["compartment"]]
    v, f, colors = np.zeros((3, 0)), np.zeros((3, 0), np.int64), []
    one = str((roles or {}).get("cell", "")) == str(cid)  # meshes are drawn in the one-cell view only
    meshes = data.display_meshes(cid) if cid is not None and one and len(rows) else None
    if meshes is not None:
        keep = np.isin(meshes.ids, rows["mito_id"].to_numpy())
        v, f = merged_mesh(meshes, keep)
        comp = rows.set_index("mito_id")["compartment"].reindex(meshes.ids[keep]).to_numpy()
        colors = np.repeat(
            [COMPARTMENT_COLORS.get(c, "#000000") for c in comp], np.diff(meshes.subset(keep).vertex_offsets)
        ).tolist()
    for k, axis in enumerate("xyz"):
        p["data"][SELECTED_MESH_TRACE][axis] = np.asarray(v[k], np.float64).round(3).tolist()
    for k, axis in enumerate("ijk"):
        p["data"][SELECTED_MESH_TRACE][axis] = np.asarray(f[k]).tolist()
    p["data"][SELECTED_MESH_TRACE]["vertexcolor"] = colors
    p["data"][SELECTED_MESH_TRACE]["visible"] = bool(len(colors))
    for i in (roles or {}).get("meshes", []):
        p["data"][i]["opacity"] = DIMMED if len(rows) else 1.0
    for i in (roles or {}).get("centres", []):
        p["data"][i]["marker"]["opacity"] = DIMMED if len(rows) else 1.0
    return p


def clicked_mito(data: ExplorerData, click: dict | None) -> int | None:
    """The mitochondrion clicked in the 3D view (its centre marker), if any."""
    if not click or not click.get("points"):
        return None
    cd = click["points"][0].get("customdata")
    cd = cd[0] if isinstance(cd, list) and cd else cd
    mid = parse_id(cd)
    return mid if mid is not None and (data.mitos["mito_id"] == mid).any() else None


def mito_row_table(data: ExplorerData, mito_id: int | None) -> list:
    """All morphometrics of one mitochondrion as a small two-column table, labels with units."""
    from explorer.labels import label

    if mito_id is None:
        return []
    row = data.mito_rows([mito_id]).iloc[0]
    cells = [html.Tr([html.Th(label(k)), html.Td(f"{v:.4g}" if isinstance(v, float) else str(v))]) for k, v in row.items()]
    return [html.H3(f"mitochondrion {mito_id}"), html.Table(cells, className="kv")]


def layout(data: ExplorerData) -> html.Section:
    return html.Section(
        [
            html.Div(id=INFO, className="cell-info"),
            html.Div(
                [
                    dcc.Checklist(
                        id=PARTNERS,
                        options=[{"label": "with its synaptic partners in the dataset", "value": "partners"}],
                        value=[],
                        inline=True,
                    ),
                    dcc.Checklist(id=SYNAPSES, options=[{"label": "synapses", "value": "synapses"}], value=[], inline=True),
                    html.Span(id=HINT, className="hint"),
                ],
                className="controls",
            ),  # fmt: skip
            dcc.Store(id=TRACES),
            dcc.Store(id=ids.DRAWN),
            dcc.Loading(dcc.Graph(id=GRAPH, style={"height": "600px"}, config={"displaylogo": False})),
            html.Div(id=MITO_ROW, className="mito-row"),
        ],
        className="panel view3d",
    )


def register(app: Dash, data: ExplorerData) -> None:
    page = app.config.requests_pathname_prefix

    @app.server.before_request
    def _read_ahead():  # a link to a cell: its data read while the page loads, before it asks
        if request.path == page and request.method == "GET" and "cell" in request.args:
            data.read_ahead(request.args.get("cell", "")[:40], lambda cid: cell_view(data, str(cid)))

    @app.callback(
        Output(GRAPH, "figure"), Output(INFO, "children"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Output(SYNAPSES, "value"), Output(TRACES, "data"),
        Input(ids.CELL, "data"), Input(ids.TABLE, "selectedRows"), Input(PARTNERS, "value"),
        prevent_initial_call="initial_duplicate",
    )  # fmt: skip
    def _cell(cell, ticked, partners):
        try:
            fig, info, msg, sw = several_or_one(
                data, as_opt_str(cell, 40), as_records(ticked), "partners" in as_str_list(partners), None
            )
        except DatasetError as exc:
            return message_figure(str(exc)).to_dict(), "", str(exc), [], {}
        return fig, info, msg or no_update, sw, trace_roles(fig)  # no_update: keeps the address bar's message

    app.clientside_callback(
        DRAWN_JS, Input(TRACES, "data"), State(ids.DRAWN, "data"), prevent_initial_call=True
    )  # writes ids.DRAWN

    @app.callback(
        Output(GRAPH, "figure", allow_duplicate=True), Input(ids.DRAWN, "data"), State(TRACES, "data"), prevent_initial_call=True
    )
    def _meshes(_drawn, roles):  # once the skeleton and centres are on screen
        return mesh_patch(data, as_dict(roles))

    @app.callback(Output(HINT, "children"), Input(SYNAPSES, "value"), Input(TRACES, "data"), prevent_initial_call=True)
    def _hint(value, roles):
        return synapse_hint(data, as_dict(roles), "synapses" in as_str_list(value))

    @app.callback(
        Output(GRAPH, "figure", allow_duplicate=True), Input(SYNAPSES, "value"), State(TRACES, "data"), prevent_initial_call=True
    )
    def _synapses(value, roles):
        return synapse_patch(data, as_dict(roles), "synapses" in as_str_list(value))

    @app.callback(
        Output(MITO_ROW, "children"), Output(ids.SELECTION, "data", allow_duplicate=True),
        Input(GRAPH, "clickData"), prevent_initial_call=True,
    )  # fmt: skip
    def _click(click):
        mid = clicked_mito(data, as_event(click))
        if mid is None:
            return no_update, no_update
        return mito_row_table(data, mid), {"ids": [str(mid)], "source": "click"}

    @app.callback(
        Output(GRAPH, "figure", allow_duplicate=True), Input(ids.SELECTION, "data"), State(ids.CELL, "data"),
        State(TRACES, "data"), prevent_initial_call=True,
    )  # fmt: skip
    def _highlight(selection, cell, roles):
        return highlight_3d(data, as_opt_str(cell, 40), parse_ids(as_dict(selection).get("ids"))[:MAX_SELECTION], as_dict(roles))
