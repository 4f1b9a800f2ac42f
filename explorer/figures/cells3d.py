"""Several cells in one 3D view, at a level of detail that stays fast: skeletons thinned to
about 2 um, somata as spheres, mitochondria as centre markers (no meshes), by compartment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.figures.cell3d import highlight_trace, skeleton_traces, soma_radius_nm, soma_trace
from explorer.palette import COMPARTMENT_COLORS, COMPARTMENT_ORDER

#: Node ids of different cells are kept apart by this offset when skeletons are merged.
_ID_STRIDE = 10_000_000


def cells_figure(skeletons: dict[int, pd.DataFrame], mitos: pd.DataFrame, highlight: np.ndarray | None = None) -> dict:
    """The 3D figure of several cells (nm); trace 0 is the highlight, as in the one-cell view.

    Parameters
    ----------
    skeletons : dict
        ``{cell_id: nodes}`` (``node_id, label, x, y, z, radius, parent``; thinned for display).
    mitos : DataFrame
        Their mitochondria (``mito_id, cellid, compartment, x, y, z``).
    highlight : ndarray, shape (k, 3), optional
    """
    merged = []
    soma = []
    for k, (cid, nodes) in enumerate(skeletons.items()):
        n = nodes[["node_id", "label", "x", "y", "z", "radius", "parent"]].copy()
        n["node_id"] = n["node_id"] + k * _ID_STRIDE
        n["parent"] = np.where(n["parent"] >= 0, n["parent"] + k * _ID_STRIDE, -1)
        merged.append(n)
        root = nodes.loc[nodes["parent"] < 0, ["x", "y", "z"]].to_numpy(np.float64)
        if len(root):
            soma.append(soma_trace(root[0], soma_radius_nm(nodes), name=f"soma {cid}"))
    traces = [highlight_trace(highlight), *skeleton_traces(pd.concat(merged, ignore_index=True)), *soma]
    for name in COMPARTMENT_ORDER:
        sel = mitos[mitos["compartment"] == name]
        if sel.empty:
            continue
        traces.append(
            dict(
                type="scatter3d", x=sel["x"].to_numpy(np.float32), y=sel["y"].to_numpy(np.float32),
                z=sel["z"].to_numpy(np.float32), mode="markers", name=f"mitochondria: {name} ({len(sel)})",
                marker={"size": 2, "color": COMPARTMENT_COLORS[name]},
                customdata=sel["mito_id"].astype(str).to_numpy(),
                hovertemplate="mito %{customdata}<br>" + name + "<extra></extra>",
            )
        )  # fmt: skip
    axis = {"showbackground": False, "showspikes": False}
    layout = dict(
        uirevision="cells:" + ",".join(map(str, skeletons)),
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        scene={"aspectmode": "data", "xaxis": {**axis, "title": {"text": "x (nm)"}},
               "yaxis": {**axis, "title": {"text": "y (nm, pia up)"}, "autorange": "reversed"},
               "zaxis": {**axis, "title": {"text": "z (nm)"}}},
        legend={"itemsizing": "constant", "bgcolor": "rgba(255,255,255,0.7)"},
        paper_bgcolor="#ffffff",
    )  # fmt: skip
    return {"data": traces, "layout": layout}
