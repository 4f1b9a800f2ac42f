"""Per-compartment distributions of mitochondrial volume and complexity index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.palette import COMPARTMENT_COLORS

METRICS: tuple[tuple[str, str], ...] = (("volume_um3", "volume (µm³)"), ("complexityindex", "complexity index (MCI)"))


def box_stats(values: np.ndarray) -> dict:
    """Quartiles and Tukey whiskers (clipped to the data) of one group."""
    v = np.sort(np.asarray(values, float)[np.isfinite(values)])
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    iqr = q3 - q1
    lo = v[np.searchsorted(v, q1 - 1.5 * iqr)]
    hi = v[np.searchsorted(v, q3 + 1.5 * iqr, side="right") - 1]
    return {"q1": q1, "median": med, "q3": q3, "lowerfence": lo, "upperfence": hi, "n": len(v)}


def compartment_figure(mitos: pd.DataFrame, title: str = "") -> go.Figure:
    """Box plots per compartment, volume and MCI side by side (log scale).

    Statistics are computed here and sent as numbers, so the figure stays small whatever the
    number of mitochondria.
    """
    fig = make_subplots(rows=1, cols=len(METRICS), subplot_titles=[m[1] for m in METRICS])
    present = [c for c in COMPARTMENT_COLORS if (mitos["compartment"] == c).any()]
    for col, (metric, _) in enumerate(METRICS, start=1):
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
        fig.update_yaxes(type="log", row=1, col=col)
    fig.update_layout(title=title, margin={"l": 50, "r": 10, "t": 60, "b": 40}, plot_bgcolor="#ffffff", boxmode="group")
    return fig
