"""The published statistic of the gradients view: mean and SD over segments per 10-um bin, and
the segment-level regressions of Turner et al. 2022, Fig. 5 (numbers from
:mod:`builder.compute.statistics`, the same functions as ``python -m builder analyze``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.figures.message import message_figure
from explorer.palette import COMPARTMENT_COLORS, FrozenDict

LABELS = FrozenDict(
    {
        "median_diameter_um": "median diameter (µm)",
        "mito_volume_per_um": "mitochondrial volume per µm (µm³/µm)",
        "synapse_density_per_um": "input synapses per µm",
        "linear_mito_coverage": "mito path length / path length",
        "coverage_factor": "cable covered by ≥ 1 mitochondrion",
        "mito_volume_um3": "mitochondrial volume (µm³)",
        "path_length_um": "path length (µm)",
    }
)


def segment_gradient_figure(tables: dict[str, pd.DataFrame], measure: str, title: str = "") -> go.Figure:
    """Mean ± SD over segments of ``measure`` per bin, one line and band per compartment.

    Parameters
    ----------
    tables : dict compartment -> DataFrame
        :func:`builder.compute.statistics.gradient_table` rows of ``measure`` per compartment;
        bins not ``shown`` (10 segments or fewer, as the published figure) are left out.
    """
    fig = go.Figure()
    for comp, t in tables.items():
        t = t[(t["measure"] == measure) & t["shown"]]
        if t.empty:
            continue
        color = COMPARTMENT_COLORS.get(comp, "#999999")
        x, m, sd = t["bin_center_um"].to_numpy(), t["mean"].to_numpy(), t["sd"].to_numpy()
        fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]], y=np.r_[m + sd, (m - sd)[::-1]], fill="toself", fillcolor=color,
                                 opacity=0.2, line={"width": 0}, hoverinfo="skip", showlegend=False, name=f"{comp} ± SD"))  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x, y=m, mode="lines+markers", name=comp, line={"color": color},
                customdata=np.stack([t["n_segments"], t["n_cells"], sd], axis=1),
                hovertemplate=f"{comp}, bin at %{{x}} µm<br>mean %{{y:.4g}} ± %{{customdata[2]:.3g}} (SD)"
                              "<br>%{customdata[0]} segments of %{customdata[1]} cells<extra></extra>",
            )
        )  # fmt: skip
    if not fig.data:
        return message_figure("No bin here has more than 10 segments: pick a cell type or all cells.")
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "distance to the soma surface (µm; segments by their nearest point)"},
        yaxis={"title": LABELS.get(measure, measure)},
        margin={"l": 60, "r": 10, "t": 30 if title else 10, "b": 50},
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _fmt(row: pd.Series) -> str:
    return (
        f"r = {row['r']:.3f}, slope {row['slope']:.3g}, p = {row['p']:.2g}, n = {int(row['n'])}"
        if np.isfinite(row["r"])
        else f"n = {int(row['n'])}: too few"
    )


def segment_regression_figure(segments: pd.DataFrame, regressions: pd.DataFrame, compartment: str) -> go.Figure:
    """Linear synapse density against mitochondrial volume per um over the segments beyond the
    regression distance, with the OLS line; the title gives every published regression.

    Parameters
    ----------
    segments : DataFrame
        :func:`builder.compute.statistics.filter_segments` output (``for_regression`` marks the
        segments used).
    regressions : DataFrame
        :func:`builder.compute.statistics.segment_regressions` of the same segments.
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
        fig.add_trace(go.Scatter(x=xs, y=main["intercept"] + main["slope"] * xs, mode="lines", name="OLS",
                                 line={"color": "#000000", "dash": "dash"}, hoverinfo="skip"))  # fmt: skip
    lines = [
        f"synapse density ~ mito volume/µm: {_fmt(main)}",
        f"mito volume/µm ~ diameter: {_fmt(r.loc[('median_diameter_um', 'mito_volume_per_um', 'pearson+ols')])}",
        f"synapse density ~ diameter: {_fmt(r.loc[('median_diameter_um', 'synapse_density_per_um', 'pearson+ols')])}",
        f"after diameter: {_fmt(r.loc[('mito_volume_per_um', 'synapse_density_per_um', 'residual after median_diameter_um')])}",
    ]
    fig.update_layout(
        title={"text": "<br>".join(lines), "font": {"size": 11}},
        xaxis={"title": "mitochondrial volume per µm (µm³/µm)"},
        yaxis={"title": "input synapses per µm"},
        margin={"l": 60, "r": 10, "t": 95, "b": 50},
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
