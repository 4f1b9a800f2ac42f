"""Per-compartment distributions of mitochondrial volume and complexity index, drawn as
``analyze`` draws them: compartments in the published tests' order (Axonal, Somatic, Apical,
Basal, then the others), boxes of the quartiles, whiskers at the 5th and 95th percentiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.labels import COMPARTMENT_ORDER, label
from explorer.palette import COMPARTMENT_COLORS

METRICS: tuple[str, ...] = ("volume_um3", "complexityindex")
#: Whiskers of the published box plots (MicronsBinder lib/plot.py ``boxplot``: ``whis=(5, 95)``).
WHISKERS = (5, 95)


def box_stats(values: np.ndarray) -> dict:
    """Quartiles and the 5th/95th-percentile whiskers of one group (``np.percentile``, as analyze)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    lo, q1, med, q3, hi = np.percentile(v, [WHISKERS[0], 25, 50, 75, WHISKERS[1]])
    return {"q1": q1, "median": med, "q3": q3, "lowerfence": lo, "upperfence": hi, "n": len(v)}


def compartment_figure(mitos: pd.DataFrame, title: str = "") -> go.Figure:
    """Box plots per compartment, volume (log scale) and MCI side by side.

    Statistics are computed here and sent as numbers, so the figure stays small whatever the
    number of mitochondria.
    """
    fig = make_subplots(rows=1, cols=len(METRICS), subplot_titles=[label(m) for m in METRICS])
    present = [c for c in COMPARTMENT_ORDER if (mitos["compartment"] == c).any()]
    for col, metric in enumerate(METRICS, start=1):
        for name in present:
            vals = mitos.loc[mitos["compartment"] == name, metric].to_numpy(float)
            vals = vals[np.isfinite(vals) & (vals > 0)]
            if not len(vals):
                continue
            st = box_stats(vals)
            fig.add_trace(
                go.Box(
                    name=f"{name} (n={st['n']})", x=[name], q1=[st["q1"]], median=[st["median"]], q3=[st["q3"]],
                    lowerfence=[st["lowerfence"]], upperfence=[st["upperfence"]], marker_color=COMPARTMENT_COLORS[name],
                    showlegend=col == 1, legendgroup=name,
                ),
                row=1, col=col,
            )  # fmt: skip
        fig.update_xaxes(categoryorder="array", categoryarray=present, row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(
        title={"text": title, "font": {"size": 13}, "x": 0.01, "xanchor": "left"},
        margin={"l": 60, "r": 10, "t": 60, "b": 40}, plot_bgcolor="#ffffff", boxmode="overlay",
        legend={"orientation": "h", "y": -0.12, "x": 0},
        annotations=[*fig.layout.annotations, {"text": "boxes: quartiles; whiskers: 5th and 95th percentiles (as published)",
                                               "x": 1, "y": 1.1, "xref": "paper", "yref": "paper", "xanchor": "right",
                                               "showarrow": False, "font": {"size": 11, "color": "#555"}}],
    )  # fmt: skip
    return fig
