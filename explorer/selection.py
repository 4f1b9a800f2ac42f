"""The selection: the ids a scatter or a click selects, the selection panel (summary and
neuroglancer links) and its CSV export; pure functions the callbacks call."""

from __future__ import annotations

import pandas as pd
from dash import html

from explorer.data import ExplorerData, parse_id, parse_ids
from explorer.links import MAX_POINTS, LinkOptions


def selection_from_ids(payload: dict | None) -> dict:
    """The selection store for the ids the browser extracted from a scatter selection."""
    ids = parse_ids((payload or {}).get("ids"))
    total = (payload or {}).get("total")
    sel = {"ids": [str(i) for i in ids], "source": "scatter"}
    if isinstance(total, int) and total > len(ids):
        sel["total"] = total
    return sel


def clicked_mito(data: ExplorerData, click: dict | None) -> int | None:
    """The mitochondrion clicked in the 3D view (its centre marker), if any."""
    if not click or not click.get("points"):
        return None
    cd = click["points"][0].get("customdata")
    cd = cd[0] if isinstance(cd, list) and cd else cd
    mid = parse_id(cd)
    return mid if mid is not None and (data.mitos["mito_id"] == mid).any() else None


def mito_row_table(data: ExplorerData, mito_id: int | None) -> list:
    """All morphometrics of one mitochondrion as a small two-column table."""

    if mito_id is None:
        return []
    row = data.mito_rows([mito_id]).iloc[0]
    cells = [html.Tr([html.Th(k), html.Td(f"{v:.4g}" if isinstance(v, float) else str(v))]) for k, v in row.items()]
    return [html.H3(f"mitochondrion {mito_id}"), html.Table(cells, className="kv")]


def selection_panel(data: ExplorerData, selection: dict | None, cell: str | None, opts: LinkOptions, host_url: str) -> tuple:
    """Summary text, neuroglancer link (href and clipboard text), the offline viewer's link
    (None when the dataset has no layers) and a message for a selection; ``host_url`` is the
    explorer's own address."""
    ids = parse_ids((selection or {}).get("ids"))
    if not ids:
        return "Nothing selected: draw a box or lasso in the scatter, or click a mitochondrion in 3D.", None, "", None, ""
    rows = data.mito_rows(ids)
    if rows.empty:
        return "The selected mitochondria are not in this dataset.", None, "", None, ""
    pts = pd.DataFrame(
        {
            "id": rows["mito_id"].to_numpy(),
            "x": rows["x"].to_numpy(),
            "y": rows["y"].to_numpy(),
            "z": rows["z"].to_numpy(),
            "description": ("mito " + rows["mito_id"].astype(str) + " " + rows["compartment"].astype(str)).to_numpy(),
            "compartment": rows["compartment"].astype(str).to_numpy(),
            "has_mesh": (rows["mesh_missing"] == "").to_numpy() if "mesh_missing" in rows else True,
        }
    )
    cells = sorted(rows["cellid"].unique().tolist())
    real_mitos = [] if data.ds.synthetic else rows["mito_id"].iloc[:MAX_POINTS].tolist()
    cid = parse_id(cell)
    syn = data.ds.cell_synapses(cid) if cid is not None and data.ds.has_cell(cid) else None
    link, offline = opts.links(host_url, pts, cells, mito_ids=real_mitos, synapses=syn)
    counts = rows["compartment"].value_counts()
    summary = f"{len(rows)} mitochondria selected in {len(cells)} cell(s): " + ", ".join(f"{k} {v}" for k, v in counts.items())
    msg = ""
    total = (selection or {}).get("total")
    if isinstance(total, int) and total > len(ids):
        msg = f"The selection holds {total:,} mitochondria; the first {len(ids):,} are used (draw a smaller box to see all). "
    if link.capped:
        msg += f"The neuroglancer link carries the first {MAX_POINTS} of {len(rows)} selected mitochondria."
    if data.ds.synthetic:
        summary += " (synthetic demo: points are placed over the real Phase 1 EM, without segments)"
    return summary, link.url, link.url, offline.url if offline else None, msg


def export_csv(data: ExplorerData, selection: dict | None) -> dict | None:
    """``dcc.Download`` payload with the selected mitochondria, or None."""
    ids = parse_ids((selection or {}).get("ids"))
    if not ids:
        return None
    return {"content": data.mito_rows(ids).to_csv(index=False), "filename": "selected_mitochondria.csv", "type": "text/csv"}
