"""Gradients along the dendrite: per-bin measures against path distance to the soma, and
mitochondrial volume density against synapse density (Turner et al. 2022, Fig. 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.figures.message import message_figure
from explorer.labels import label
from explorer.palette import COMPARTMENT_COLORS, FrozenDict

#: Per-bin quantities of ``distance_bins`` that the gradients view plots, with axis titles.
GRADIENT_QUANTITIES = FrozenDict(
    {
        "mito_volume_per_um": "mitochondrial volume per µm of cable (µm³/µm)",
        "linear_mito_coverage": "linear mito coverage (mito path length / path length, published)",
        "coverage_factor": "coverage factor (cable with ≥ 1 mitochondrion / path length)",
        "synapse_density_per_um": "input synapses per µm",
        "mean_radius_nm": "mean radius (nm); published statistic: median diameter (µm)",
        "mito_volume_um3": "mitochondrial volume (µm³)",
        "path_length_um": "cable (µm)",
    }
)
#: Bins with less cable than this are too short to give a density (um).
MIN_CABLE_UM = 2.0
BOOTSTRAP = 500


def bootstrap_medians(groups: list[np.ndarray], n_boot: int = BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """Median and 95 % percentile-bootstrap interval of each group of values.

    Parameters
    ----------
    groups : list of G arrays
        Values of each group (NaNs dropped).
    n_boot : int
        Resamples per group.

    Returns
    -------
    ndarray, shape (G, 3)
        Median, lower and upper bound; the bounds equal the median for a group of one value,
        and everything is NaN for an empty group.
    """
    rng = np.random.default_rng(seed)
    out = np.full((len(groups), 3), np.nan)
    for g, vals in enumerate(groups):  # one vectorised resampling per bin
        v = np.asarray(vals, np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            continue
        med = np.median(v)
        if len(v) == 1:
            out[g] = med
            continue
        boots = np.median(v[rng.integers(0, len(v), size=(n_boot, len(v)))], axis=1)
        out[g] = (med, *np.percentile(boots, [2.5, 97.5]))
    return out


def gradient_table(bins: pd.DataFrame, quantity: str, max_um: float | None = None) -> pd.DataFrame:
    """Median over cells (with its bootstrap interval) of ``quantity`` per compartment and bin.

    Parameters
    ----------
    bins : DataFrame
        Rows of ``tables/distance_bins.parquet`` (one or more cells).
    quantity : str
        A column of it (:data:`GRADIENT_QUANTITIES`).

    Returns
    -------
    DataFrame
        ``compartment, bin_start_um, bin_mid_um, n_cells, median, lo, hi``.
    """
    b = bins
    if quantity in ("mito_volume_per_um", "coverage_factor", "linear_mito_coverage", "synapse_density_per_um", "mean_radius_nm"):
        b = b[b["path_length_um"] >= MIN_CABLE_UM]
    if max_um is not None:
        b = b[b["bin_start_um"] < max_um]
    keys, groups = [], []
    for key, g in b.groupby(["compartment", "bin_start_um"], sort=True):
        keys.append(key)
        groups.append(g[quantity].to_numpy(np.float64))
    stats_ = bootstrap_medians(groups) if groups else np.zeros((0, 3))
    out = pd.DataFrame(keys, columns=["compartment", "bin_start_um"])
    width = float((bins["bin_end_um"] - bins["bin_start_um"]).iloc[0]) if len(bins) else 10.0
    out["bin_mid_um"] = out["bin_start_um"] + width / 2
    out["n_cells"] = [len(g) for g in groups]
    out[["median", "lo", "hi"]] = stats_
    return out


def gradient_figure(bins: pd.DataFrame, quantity: str, title: str = "", compartments: tuple[str, ...] | None = None) -> go.Figure:
    """Median over cells of a per-bin quantity against path distance to the soma, one line per
    compartment (those in ``compartments``, all when None), error bars the 95 % bootstrap
    interval of the median over cells.

    Each point carries ``customdata = [compartment, bin_start_um]`` so that a click names the bin.
    """
    if compartments is not None:
        bins = bins[bins["compartment"].isin(compartments)]
    if bins.empty:
        return message_figure("No binned measures here: pick a cell in the table, or a cell type.")
    t = gradient_table(bins, quantity)
    fig = go.Figure()
    for comp, g in t.groupby("compartment", sort=False):
        color = COMPARTMENT_COLORS.get(comp, "#999999")
        fig.add_trace(
            go.Scatter(
                x=g["bin_mid_um"], y=g["median"], mode="lines+markers", name=f"{comp}: median over cells, 95 % interval",
                line={"color": color},
                error_y={"type": "data", "symmetric": False, "array": g["hi"] - g["median"],
                         "arrayminus": g["median"] - g["lo"], "thickness": 1, "width": 0},
                customdata=np.stack([g["compartment"], g["bin_start_um"], g["n_cells"]], axis=1),
                hovertemplate="%{customdata[0]}, bin from %{customdata[1]} µm<br>median %{y:.4g}"
                              " (n=%{customdata[2]} cells)<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "path distance to soma (µm, 10-µm bins)"},
        yaxis={"title": GRADIENT_QUANTITIES.get(quantity, quantity), "rangemode": "tozero"},
        margin={"l": 60, "r": 10, "t": 30 if title else 10, "b": 50},
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def density_regression(bins: pd.DataFrame, compartments: tuple[str, ...] = ("Basal",)) -> dict:
    """Least-squares fit of linear synapse density on mitochondrial volume per um, one point per
    bin (the published regression's axes, on bins instead of segments).

    Bins of the given compartments with at least :data:`MIN_CABLE_UM` of cable; returns
    ``n, slope, intercept, r, p, stderr`` (NaN when fewer than 3 bins).
    """
    b = bins[bins["compartment"].isin(compartments) & (bins["path_length_um"] >= MIN_CABLE_UM)]
    x = b["mito_volume_per_um"].to_numpy(np.float64)
    y = b["synapse_density_per_um"].to_numpy(np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return {"n": int(len(x)), "slope": np.nan, "intercept": np.nan, "r": np.nan, "p": np.nan, "stderr": np.nan}
    from scipy import stats  # 0.3 s to import: only when a fit is drawn

    res = stats.linregress(x, y)
    return {"n": int(len(x)), "slope": res.slope, "intercept": res.intercept, "r": res.rvalue, "p": res.pvalue,
            "stderr": res.stderr}  # fmt: skip


def density_figure(bins: pd.DataFrame, compartments: tuple[str, ...] = ("Basal",), title: str = "") -> go.Figure:
    """Input synapses per um against mitochondrial volume per um, one point per bin, with the
    fit: the axes of the published regression (:func:`explorer.figures.segments.segment_regression_figure`),
    so the panel keeps its axes whichever statistic is shown."""
    b = bins[bins["compartment"].isin(compartments) & (bins["path_length_um"] >= MIN_CABLE_UM)]
    if b.empty:
        return message_figure("No dendritic bins here: pick a cell with dendrites, a cell type or all cells.")
    fit = density_regression(bins, compartments)
    fig = go.Figure()
    for comp, g in b.groupby("compartment"):
        fig.add_trace(
            go.Scattergl(
                x=g["mito_volume_per_um"], y=g["synapse_density_per_um"], mode="markers", name=f"{comp} bins",
                marker={"size": 5, "color": COMPARTMENT_COLORS.get(comp, "#999999"), "opacity": 0.6},
                customdata=np.stack([g["cell_id"].astype(str), g["compartment"], g["bin_start_um"]], axis=1),
                hovertemplate="cell %{customdata[0]}<br>%{customdata[1]}, bin from %{customdata[2]} µm"
                              "<br>%{x:.3g} µm³/µm, %{y:.3g} synapses/µm<extra></extra>",
            )
        )  # fmt: skip
    if np.isfinite(fit["slope"]):
        xs = np.array([b["mito_volume_per_um"].min(), b["mito_volume_per_um"].max()])
        fig.add_trace(go.Scatter(x=xs, y=fit["intercept"] + fit["slope"] * xs, mode="lines",
                                 name=f"least squares, slope {fit['slope']:.3g}", line={"color": "#000000", "dash": "dash"},
                                 hoverinfo="skip"))  # fmt: skip
    text = (f"{title}: {fit['n']} bins, r = {fit['r']:.2f} (bins of one cell are not independent: no p value)"
            if np.isfinite(fit["slope"]) else f"{title}: {fit['n']} bins, too few to fit")  # fmt: skip
    fig.update_layout(
        title={"text": text, "font": {"size": 12}, "x": 0.01, "xanchor": "left"},
        xaxis={"title": label("mito_volume_per_um"), "rangemode": "tozero"},
        yaxis={"title": label("synapse_density_per_um"), "rangemode": "tozero"},
        margin={"l": 70, "r": 10, "t": 40, "b": 50},
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
