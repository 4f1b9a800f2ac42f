"""Several cells in one 3D view, at a level of detail that stays fast: skeletons thinned to
about 2 um, somata as spheres, mitochondria as centre markers (no meshes), by compartment; µm,
pia up, with a scale bar, as the one-cell view (:mod:`explorer.figures.cell3d`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.figures.cell3d import highlight_traces, skeleton_traces, soma_trace
from explorer.figures.scene3d import frame, scene_layout, um
from explorer.labels import COMPARTMENT_ORDER
from explorer.palette import COMPARTMENT_COLORS

#: Node ids of different cells are kept apart by this offset when skeletons are merged.
_ID_STRIDE = 10_000_000


def cells_figure(skeletons: dict[int, pd.DataFrame], mitos: pd.DataFrame) -> dict:
    """The 3D figure of several cells (µm); traces 0 and 1 are the highlight, as in the one-cell view.

    Parameters
    ----------
    skeletons : dict
        ``{cell_id: nodes}`` (``node_id, label, x, y, z, radius, parent``; thinned for display).
    mitos : DataFrame
        Their mitochondria (``mito_id, cellid, compartment, x, y, z``; nm).
    """
    merged = []
    soma = []
    for k, (cid, nodes) in enumerate(skeletons.items()):
        n = nodes[["node_id", "label", "x", "y", "z", "radius", "parent"]].copy()
        n["node_id"] = n["node_id"] + k * _ID_STRIDE
        n["parent"] = np.where(n["parent"] >= 0, n["parent"] + k * _ID_STRIDE, -1)
        merged.append(n)
        soma += soma_trace(nodes, name=f"soma {cid}")
    nodes = pd.concat(merged, ignore_index=True)
    traces = [*highlight_traces(), *skeleton_traces(nodes), *soma]
    for name in COMPARTMENT_ORDER:
        sel = mitos[mitos["compartment"] == name]
        if sel.empty:
            continue
        xyz = um(sel[["x", "y", "z"]].to_numpy())
        traces.append(
            dict(
                type="scatter3d", x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers", name=f"mitochondria: {name} ({len(sel)})",
                marker={"size": 2, "color": COMPARTMENT_COLORS[name]},
                customdata=sel["mito_id"].astype(str).to_numpy(),
                hovertemplate="mitochondrion %{customdata}<br>" + name + "<extra></extra>",
            )
        )  # fmt: skip
    frame_traces, notes = frame(um(nodes[["x", "y", "z"]].to_numpy()))
    return {"data": traces + frame_traces, "layout": scene_layout("cells:" + ",".join(map(str, skeletons)), notes)}
