"""Selection & neuroglancer: what is selected (:data:`explorer.ids.SELECTION`), neuroglancer
links to it (shared, and offline in the bundled viewer), and its CSV export."""

from __future__ import annotations

import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update
from flask import request

from explorer import ids
from explorer.data import ExplorerData, parse_id, parse_ids
from explorer.inputs import as_dict, as_opt_str
from explorer.links import MAX_POINTS, LinkOptions

SUMMARY, LINK, COPY, OFFLINE, CSV, DOWNLOAD = "sel-summary", "ng-link", "ng-copy", "ng-offline", "btn-csv", "download"
GRAPHS: tuple[str, ...] = ()
NOTHING = ("Nothing selected yet: draw a box or lasso around mitochondria in the Morphometrics scatter (or in the "
           "Dendrogram), click a mitochondrion in the 3D view, or click a bin of the gradients' median view.")  # fmt: skip
NOTHING_TO_EXPORT = "Nothing to export: select mitochondria first (a box or lasso in the scatter, or a click in 3D)."


def selection_panel(data: ExplorerData, selection: dict | None, cell: str | None, opts: LinkOptions, host_url: str) -> tuple:
    """Summary text, neuroglancer link (href and clipboard text), the offline viewer's link
    (None when the dataset has no layers) and a message for a selection; ``host_url`` is the
    explorer's own address."""
    sel = parse_ids((selection or {}).get("ids"))
    if not sel:
        return NOTHING, None, "", None, ""
    rows = data.mito_rows(sel)
    if rows.empty:
        return "The selected mitochondria are not in this dataset.", None, "", None, ""
    pts = pd.DataFrame(
        {
            "id": rows["mito_id"].to_numpy(), "x": rows["x"].to_numpy(), "y": rows["y"].to_numpy(), "z": rows["z"].to_numpy(),
            "description": ("mito " + rows["mito_id"].astype(str) + " " + rows["compartment"].astype(str)).to_numpy(),
            "compartment": rows["compartment"].astype(str).to_numpy(),
            "has_mesh": (rows["mesh_missing"] == "").to_numpy() if "mesh_missing" in rows else True,
        }
    )  # fmt: skip
    cells = sorted(rows["cellid"].unique().tolist())
    real_mitos = [] if data.ds.synthetic else rows["mito_id"].iloc[:MAX_POINTS].tolist()
    cid = parse_id(cell)
    known = cid is not None and data.ds.has_cell(cid)
    syn = data.ds.cell_synapses(cid) if known else None
    link, offline = opts.links(
        host_url, pts, cells, mito_ids=real_mitos, synapses=syn, frame_nm=_frame(data, cid if known else None, rows)
    )
    counts = rows["compartment"].value_counts()
    summary = f"{len(rows)} mitochondria selected in {len(cells)} cell(s): " + ", ".join(f"{k} {v}" for k, v in counts.items())
    msg = ""
    total = (selection or {}).get("total")
    if isinstance(total, int) and total > len(sel):
        msg = f"The selection holds {total:,} mitochondria; the first {len(sel):,} are used (draw a smaller box to see all). "
    if link.capped:
        msg += f"The neuroglancer link carries the first {MAX_POINTS} of {len(rows)} selected mitochondria. "
    if opts.unpublished(link):
        msg += (f"The shared link names a state not uploaded yet: run `python -m builder publish {opts.dataset} "
                f"{opts.published}` before you share it (it uploads the states beside the layers).")  # fmt: skip
    if data.ds.synthetic:
        summary += " (synthetic demo: points are placed over the real Phase 1 EM, without segments)"
    return summary, link.url, link.url, offline.url if offline else None, msg


def _frame(data: ExplorerData, cell_id: int | None, rows: pd.DataFrame) -> tuple:
    """What the links' view must hold whole: the current cell's skeleton (nm), else the selection."""
    xyz = data.display_skeleton(cell_id)[["x", "y", "z"]] if cell_id is not None else rows[["x", "y", "z"]]
    a = xyz.to_numpy(float)
    return a.min(axis=0), a.max(axis=0)


def export_csv(data: ExplorerData, selection: dict | None) -> dict | None:
    """``dcc.Download`` payload with the selected mitochondria, or None."""
    sel = parse_ids((selection or {}).get("ids"))
    if not sel:
        return None
    return {"content": data.mito_rows(sel).to_csv(index=False), "filename": "selected_mitochondria.csv", "type": "text/csv"}


def layout(data: ExplorerData) -> html.Div:
    new_tab = {"target": "_blank", "rel": "noopener noreferrer", "className": "button"}
    return html.Div(
        [
            html.Div(NOTHING, id=SUMMARY, className="sel-summary"),
            html.Div(
                [
                    html.A("open in neuroglancer", id=LINK, href=None, **new_tab),
                    dcc.Clipboard(id=COPY, content="", title="copy the neuroglancer link", className="clip"),
                    html.A(
                        "open offline (the dataset's layers)",
                        id=OFFLINE,
                        href=None,
                        **new_tab,
                        title="neuroglancer bundled with the explorer: this dataset's layers, no internet needed",
                    ),
                    html.Button("export selection (CSV)", id=CSV, className="button"),
                    dcc.Download(id=DOWNLOAD),
                ],
                className="controls",
            ),  # fmt: skip
        ]
    )


def register(app: Dash, data: ExplorerData, opts: LinkOptions) -> None:
    @app.callback(
        Output(SUMMARY, "children"), Output(LINK, "href"), Output(COPY, "content"), Output(OFFLINE, "href"),
        Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.SELECTION, "data"), State(ids.CELL, "data"), prevent_initial_call=True,
    )  # fmt: skip
    def _selection(selection, cell):
        summary, href, text, offline, msg = selection_panel(
            data, as_dict(selection), as_opt_str(cell, 40), opts, request.host_url
        )
        return summary, href, text, offline, msg if msg else no_update

    @app.callback(
        Output(DOWNLOAD, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(CSV, "n_clicks"), State(ids.SELECTION, "data"), prevent_initial_call=True,
    )  # fmt: skip
    def _csv(_n, selection):
        payload = export_csv(data, as_dict(selection))
        return (payload, no_update) if payload else (no_update, NOTHING_TO_EXPORT)
