"""The published statistic of the gradients view: mean and SD over segments per 10-um bin, and
the segment-level regressions of Turner et al. 2022, Fig. 5 (numbers from
:mod:`builder.compute.statistics`, the same functions as ``python -m builder analyze``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from builder.display import label
from explorer.figures.message import message_figure
from explorer.palette import COMPARTMENT_COLORS


def segment_gradient_figure(tables: dict[str, pd.DataFrame], measure: str, title: str = "", few_cells: bool = False) -> go.Figure:
    """Mean over segments of ``measure`` per bin, one line and band per compartment.

    The band is the 95 % interval of the mean over a cluster bootstrap of the cells (``mean_lo,
    mean_hi``; a mean of values that cannot be negative cannot be either), or the segments'
    interquartile range when the scope has too few cells for the bootstrap (``few_cells``); its
    legend entry says which. The published SD is in the hover text.

    Parameters
    ----------
    tables : dict compartment -> DataFrame
        :func:`builder.compute.uncertainty.with_gradient_intervals` rows of ``measure`` per
        compartment; bins not ``shown`` (10 segments or fewer, as the published figure) are left out.
    """
    band = "interquartile range of segments" if few_cells else "95 % interval of the mean (bootstrap over cells)"
    fig = go.Figure()
    for comp, t in tables.items():
        t = t[(t["measure"] == measure) & t["shown"]]
        if t.empty:
            continue
        color = COMPARTMENT_COLORS.get(comp, "#999999")
        x, m, sd = t["bin_center_um"].to_numpy(), t["mean"].to_numpy(), t["sd"].to_numpy()
        lo, hi = (t["q25"], t["q75"]) if few_cells else (t["mean_lo"], t["mean_hi"])
        fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]], y=np.r_[hi.to_numpy(), lo.to_numpy()[::-1]], fill="toself",
                                 fillcolor=color, opacity=0.2, line={"width": 0}, hoverinfo="skip",
                                 name=f"{comp}: {band}"))  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x, y=m, mode="lines+markers", name=f"{comp}: mean over segments", line={"color": color},
                customdata=np.stack([t["n_segments"], t["n_cells"], sd, lo, hi], axis=1),
                hovertemplate=f"{comp}, bin at %{{x}} µm<br>mean %{{y:.4g}} [%{{customdata[3]:.3g}}, %{{customdata[4]:.3g}}]"
                              f" ({band})<br>SD over segments (published statistic) %{{customdata[2]:.3g}}"
                              "<br>%{customdata[0]} segments of %{customdata[1]} cells<extra></extra>",
            )
        )  # fmt: skip
    if not fig.data:
        return message_figure("No bin here has more than 10 segments: pick a cell type or all cells.")
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "distance to the soma surface (µm; segments by their nearest point)"},
        yaxis={"title": label(measure), "rangemode": "tozero"},
        margin={"l": 60, "r": 10, "t": 30 if title else 10, "b": 50},
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _fmt(row: pd.Series, few: bool) -> str:
    if not np.isfinite(row["r"]):
        return f"n = {int(row['n'])}: too few"
    iv = "" if few or not np.isfinite(row["r_lo"]) else f" [{row['r_lo']:.2f}, {row['r_hi']:.2f}]"
    return f"r = {row['r']:.2f}{iv}"


def segment_regression_figure(
    segments: pd.DataFrame, regressions: pd.DataFrame, compartment: str, few_cells: bool = False
) -> go.Figure:
    """Linear synapse density against mitochondrial volume per um over the segments beyond the
    regression distance, with the OLS line; a two-line title gives every published regression's
    r with its 95 % interval over cells (none with too few cells).

    Parameters
    ----------
    segments : DataFrame
        :func:`builder.compute.statistics.filter_segments` output (``for_regression`` marks the
        segments used).
    regressions : DataFrame
        :func:`builder.compute.uncertainty.with_regression_intervals` of the same segments.
    """
    d = segments[segments["for_regression"]] if len(segments) else segments
    if d.empty:
        return message_figure("No segment beyond 60 µm here: pick a cell type or all cells.")
    r = regressions.set_index(["x", "y", "kind"])
    main = r.loc[("mito_volume_per_um", "synapse_density_per_um", "pearson+ols")]
    fig = go.Figure(
        go.Scattergl(
            x=d["mito_volume_per_um"], y=d["synapse_density_per_um"], mode="markers", name=f"{compartment} segments",
            marker={"size": 5, "color": COMPARTMENT_COLORS.get(compartment, "#999999"), "opacity": 0.5},
            customdata=np.stack([d["cell_id"].astype(str), d["segment_id"], d["min_dist_to_soma_um"]], axis=1),
            hovertemplate="cell %{customdata[0]}, segment %{customdata[1]} at %{customdata[2]:.0f} µm"
                          "<br>%{x:.3g} µm³/µm, %{y:.3g} synapses/µm<extra></extra>",
        )
    )  # fmt: skip
    if np.isfinite(main["slope"]):
        xs = np.array([d["mito_volume_per_um"].min(), d["mito_volume_per_um"].max()])
        fig.add_trace(go.Scatter(x=xs, y=main["intercept"] + main["slope"] * xs, mode="lines",
                                 name=f"OLS, slope {main['slope']:.3g}", line={"color": "#000000", "dash": "dash"},
                                 hoverinfo="skip"))  # fmt: skip
    resid = r.loc[("mito_volume_per_um", "synapse_density_per_um", "residual after median_diameter_um")]
    diam_m = r.loc[("median_diameter_um", "mito_volume_per_um", "pearson+ols")]
    diam_s = r.loc[("median_diameter_um", "synapse_density_per_um", "pearson+ols")]
    n_cells = int(main.get("n_cells", 0))
    lines = [
        f"{int(main['n'])} segments of {n_cells} cells: {_fmt(main, few_cells)}; after diameter {_fmt(resid, few_cells)}",
        f"diameter with mito volume/µm {_fmt(diam_m, few_cells)}, with synapses/µm {_fmt(diam_s, few_cells)}"
        + ("" if few_cells else " [95 % over cells]"),
    ]
    fig.update_layout(
        title={"text": "<br>".join(lines), "font": {"size": 11}, "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top"},
        xaxis={"title": label("mito_volume_per_um"), "rangemode": "tozero"},
        yaxis={"title": label("synapse_density_per_um"), "rangemode": "tozero"},
        margin={"l": 70, "r": 10, "t": 60, "b": 50},
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
