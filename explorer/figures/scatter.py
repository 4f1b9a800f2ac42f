"""Morphometric scatter (WebGL): any two numeric columns, coloured by compartment or cell type."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.figures.message import message_figure
from explorer.labels import label
from explorer.palette import CELL_TYPE_COLORS, COMPARTMENT_COLORS, HIGHLIGHT_COLOR

HIGHLIGHT_TRACE = 0


def scatter_figure(
    mitos: pd.DataFrame,
    x: str,
    y: str,
    color_by: str = "compartment",
    log_x: bool = False,
    log_y: bool = False,
    highlight_ids: list[int] | None = None,
    title: str = "",
) -> go.Figure:
    """Scatter of mitochondria, one ``Scattergl`` trace per colour category.

    Parameters
    ----------
    mitos : DataFrame
        Mitochondria with ``mito_id`` and the columns ``x``, ``y`` and ``color_by``
        (``compartment`` or ``cell_type``).
    x, y : str
        Column names.
    log_x, log_y : bool
        Logarithmic axes (non-positive values are left out by plotly).
    highlight_ids : list of int, optional
        Mitochondria marked by the highlight trace (index 0).
    title : str
        What the scatter shows ("cell 123: 450 mitochondria").

    Returns
    -------
    Figure
        Trace 0 is the highlight; each data trace has ``customdata`` = mito id (:func:`browser_ids`:
        a uint32 typed array when the ids fit, as real ids do (the 183,663 rows of the release's
        table in the project's samples reach 4,335,846) and the demo's (below 31.6 million)).
        dcc.Graph's ``selectedData`` cannot read a typed array's items, so assets/selection_ids.js
        reads them from the plotted traces. x and y travel as float32 typed arrays: a
        200,000-point scatter is about 2.8 MB instead of 7.5 MB.
    """
    colors = COMPARTMENT_COLORS if color_by == "compartment" else CELL_TYPE_COLORS
    empty = [c for c in dict.fromkeys((x, y)) if not np.isfinite(mitos[c].to_numpy(np.float64)).any()]
    if len(mitos) and empty:
        return _no_values_figure(empty, len(mitos))
    hl = mitos[mitos["mito_id"].isin(highlight_ids or [])]
    traces = [
        go.Scattergl(
            x=hl[x].to_numpy(np.float64), y=hl[y].to_numpy(np.float64), mode="markers", name="selected",
            marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"color": HIGHLIGHT_COLOR, "width": 2}},
            hoverinfo="skip", showlegend=False,
        )
    ]  # fmt: skip
    traces += category_traces(mitos, x, y, color_by, colors)
    fig = go.Figure(traces)
    fig.update_layout(dragmode="lasso", uirevision=f"{x}|{y}|{color_by}", **axes_layout(x, y, log_x, log_y, title))
    return fig


def browser_ids(ids: np.ndarray) -> np.ndarray:
    """Mito ids (n,) int64 for a trace's ``customdata``: uint32, sent as a typed array (4 bytes
    an id instead of about 9 characters of JSON) when every id fits exactly, as every real and
    demo id does; otherwise ints in an object array, a JSON list of numbers (exact below 2**53).
    plotly.js has no int64 typed array."""
    ids = np.asarray(ids, np.int64)
    if len(ids) and ids.min() >= 0 and ids.max() < 2**32:
        return ids.astype(np.uint32)
    return ids.astype(object)


def category_traces(mitos: pd.DataFrame, x: str, y: str, color_by: str, colors: Mapping[str, str]) -> list[go.Scattergl]:
    """One ``Scattergl`` trace per category of ``color_by`` present (x, y float32; customdata the
    mito ids as a list of numbers, see :func:`scatter_figure`), in the order of ``colors``."""
    out: list[go.Scattergl] = []
    for name, color in colors.items():
        sel = mitos[mitos[color_by] == name]
        if sel.empty:
            continue
        out.append(
            go.Scattergl(
                x=sel[x].to_numpy(np.float32), y=sel[y].to_numpy(np.float32), mode="markers",
                name=f"{name} ({len(sel)})", marker={"size": 4, "color": color, "opacity": 0.6},
                # ints in an object array: written as a JSON list of numbers (see the docstring), and
                # checked by plotly as one array (a Python list is checked item by item: 0.3 s
                # more for the 200,000-point scatter)
                customdata=browser_ids(sel["mito_id"].to_numpy(np.int64)),
                hovertemplate=f"mitochondrion %{{customdata}}<br>{label(x)}: %{{x:.4g}}<br>{label(y)}: %{{y:.4g}}"
                              f"<extra>{name}</extra>",
            )
        )  # fmt: skip
    return out


def axes_layout(x: str, y: str, log_x: bool, log_y: bool, title: str) -> dict:
    """Axis titles in words with units, the title saying what is shown, the legend below the
    plot (clear of plotly's toolbar at the top right). At most about 12 ticks across and 8 up:
    a log axis then labels 1, 2 and 5 of each decade, not every digit (plotly's own choice for the
    500-pixel-high scatter labelled 2 to 9 and crowded the axis)."""
    return dict(
        title={"text": title, "font": {"size": 13}, "x": 0.01, "xanchor": "left"},
        xaxis={"title": label(x), "type": "log" if log_x else "linear", "nticks": 12},
        yaxis={"title": label(y), "type": "log" if log_y else "linear", "nticks": 8},
        margin={"l": 70, "r": 10, "t": 36, "b": 50},
        legend={"itemsizing": "constant", "orientation": "h", "y": -0.18, "x": 0},
        plot_bgcolor="#ffffff",
    )


def _no_values_figure(columns: list[str], n: int) -> go.Figure:
    """A figure that says which axes have no values instead of an empty plot."""
    return message_figure(
        f"No values of {' and '.join(label(c) for c in columns)} for these {n} mitochondria<br>"
        "(mesh measures are empty when the dataset was built without meshes): pick another axis"
    )


def selected_ids(selected_data: dict | None) -> list[int]:
    """Mito ids of a plotly ``selectedData`` event (box or lasso), ignoring the highlight trace
    (index 0 of the scatter and of the dendrogram)."""
    if not selected_data:
        return []
    out = []
    for p in selected_data.get("points", []):
        cd = p.get("customdata")
        if p.get("curveNumber") == HIGHLIGHT_TRACE or cd is None:
            continue
        cd = cd[0] if isinstance(cd, list) else cd
        if str(cd).isdigit():
            out.append(int(cd))
    return sorted(set(out))


def synapse_scatter_figure(syn: pd.DataFrame, x: str, y: str, color_by: str = "compartment", log_x: bool = False,
                           log_y: bool = False, title: str = "") -> go.Figure:  # fmt: skip
    """Scatter of synapse rows (WebGL), one trace per colour category: e.g. cleft size against
    the path length to the nearest mitochondrion. Points carry no mitochondrion ids, so a box
    drawn here selects no mitochondria (the highlight trace at index 0 stays empty)."""
    colors = COMPARTMENT_COLORS if color_by == "compartment" else CELL_TYPE_COLORS
    traces = [go.Scattergl(x=[], y=[], mode="markers", name="selected", hoverinfo="skip", showlegend=False)]
    for name, color in colors.items():
        sel = syn[syn[color_by] == name]
        if sel.empty:
            continue
        traces.append(
            go.Scattergl(
                x=sel[x].to_numpy(np.float32), y=sel[y].to_numpy(np.float32), mode="markers",
                name=f"{name} ({len(sel)})", marker={"size": 4, "color": color, "opacity": 0.6},
                text=sel["synapse_id"].astype(str).to_numpy(),
                hovertemplate=f"synapse %{{text}}<br>{label(x)}: %{{x:.4g}}<br>{label(y)}: %{{y:.4g}}<extra>{name}</extra>",
            )
        )  # fmt: skip
    if len(traces) == 1:
        return message_figure("No synapses here: pick a cell with synapses, or all cells.")
    fig = go.Figure(traces)
    fig.update_layout(dragmode="zoom", uirevision=f"syn|{x}|{y}|{color_by}", **axes_layout(x, y, log_x, log_y, title))
    return fig
