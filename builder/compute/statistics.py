"""The published statistics of the mitochondria analysis, on a dataset's tables.

Each function follows a notebook of MicronsBinder's ``notebooks/vignette_analysis/mitochondria``
(Turner et al., Cell 2022, Fig. 5), with scipy.stats and statsmodels as the notebooks use them:

- :func:`compartment_summary`, :func:`compartment_tests`: ``compartment_comparison.ipynb``
  (25/50/75th and 95th percentiles of volume and MCI per compartment; one-sided Mann-Whitney U
  tests ``axon < soma < apical < basal``, ``scipy.stats.mannwhitneyu(..., alternative="less")``);
- :func:`filter_segments`: the segment frames of ``distance_to_soma.ipynb`` (``dbifulldenddf``:
  basal segments with a finite distance to the soma, more than 5 um from a leaf, with a volume
  above 0.5 um^3 and a finite linear synapse density; ``dbidenddf``: those beyond 60 um);
- :func:`gradient_table`: its gradient panels (``lib/plot.py`` ``plot_distance_gradient_df``
  with ``statstype="meanstddev"``: per 10-um bin of the segments' minimum distance to the soma,
  the mean and the standard deviation ``np.std`` (ddof 0); bins with more than 10 segments are
  drawn, ``reqdn=10``, ``mask = stats.ns > reqdn``);
- :func:`segment_regressions`: its scatter panels (``scatterplotdf``: ``scipy.stats.pearsonr``
  and an OLS line, ``lib/modelling.py`` ``fit_linear_model``) and the residual regression
  (``modelling.residualregression(dbidenddf, ["mediandiam"], ["samcs"],
  "linearsynapsedensity")``: synapse density regressed on diameter, its residual on
  mitochondrial volume per um).

Where the published measure needs the neuron mesh the dataset has a skeleton stand-in: the
volume filter uses ``frustum_volume_um3`` (docs/analysis.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from builder.compute.uncertainty import (
    DEFAULT_BOOTSTRAP,
    Bootstrap,
    compartment_intervals,
    with_gradient_intervals,
    with_regression_intervals,
)
from builder.schema import COMPARTMENT_METHODS

#: The compartments the published comparison shows, in its order (``compartments`` of the notebook).
COMPARTMENT_ORDER: tuple[str, ...] = ("Axonal", "Somatic", "Apical", "Basal")
#: Gradient measures of the published panels: dataset column -> published name.
GRADIENT_MEASURES: dict[str, str] = {
    "median_diameter_um": "mediandiam",
    "mito_volume_per_um": "samcs",
    "synapse_density_per_um": "linearsynapsedensity",
    "linear_mito_coverage": "linearmitocoverage",
    "frustum_synapse_density_per_um2": "surfsynapsedensity (frustum area instead of the mesh's)",
    "cylinder_synapse_density_per_um2": "cylindersynapsedensity",
    "frustum_mito_volume_fraction": "mitovoldensity (frustum volume instead of the mesh's)",
    "coverage_factor": "(the dataset's: cable covered by at least one mitochondrion)",
}
#: The published scatter panels: (x, y) pairs of dataset columns.
REGRESSION_PAIRS: tuple[tuple[str, str], ...] = (
    ("mito_volume_per_um", "synapse_density_per_um"),
    ("median_diameter_um", "mito_volume_per_um"),
    ("median_diameter_um", "synapse_density_per_um"),
)


@dataclass(frozen=True)
class SegmentFilter:
    """Which segments the published figures use; defaults are the published values.

    Attributes
    ----------
    compartment : str
        ``Basal`` (``dbidf.complbl == 2``).
    min_leaf_um : float
        Keep segments whose nearest leaf is farther than this (``mindisttoleaf > 5``).
    min_volume_um3 : float
        Keep segments above this volume (``volume > 0.5``; here the frustum volume).
    min_soma_um : float
        The regressions use segments beyond this distance to the soma (``mindisttosoma > 60``).
    bin_um : float
        Width of the gradient bins (``increment=10``).
    min_segments : int
        A bin is shown when it has more segments than this (``reqdn=10``).
    """

    compartment: str = "Basal"
    min_leaf_um: float = 5.0
    min_volume_um3: float = 0.5
    min_soma_um: float = 60.0
    bin_um: float = 10.0
    min_segments: int = 10

    def as_dict(self) -> dict:
        return asdict(self)


def filter_segments(segments: pd.DataFrame, f: SegmentFilter = SegmentFilter()) -> pd.DataFrame:
    """The segments of the gradient panels (``dbifulldenddf``), with ``bin_center_um`` and a
    ``for_regression`` flag (beyond ``f.min_soma_um``: ``dbidenddf``).

    Parameters
    ----------
    segments : DataFrame
        Rows of ``tables/segments.parquet`` (:data:`builder.compute.segments.SEGMENT_COLUMNS`).
    f : SegmentFilter
    """
    s = segments
    keep = (
        (s["compartment"] == f.compartment)
        & np.isfinite(s["min_dist_to_soma_um"])
        & (s["dist_to_leaf_um"] > f.min_leaf_um)
        & (s["frustum_volume_um3"] > f.min_volume_um3)
        & np.isfinite(s["synapse_density_per_um"])
    )
    out = s.loc[keep].copy()
    out["bin_center_um"] = out["min_dist_to_soma_um"] // f.bin_um * f.bin_um + f.bin_um / 2
    out["for_regression"] = out["min_dist_to_soma_um"] > f.min_soma_um
    return out.reset_index(drop=True)


def gradient_table(
    filtered: pd.DataFrame, measures: tuple[str, ...] | list[str], f: SegmentFilter = SegmentFilter()
) -> pd.DataFrame:
    """Mean and SD over segments per bin of distance to the soma, for each measure.

    Parameters
    ----------
    filtered : DataFrame
        Output of :func:`filter_segments`.
    measures : sequence of str
        Segment columns.

    Returns
    -------
    DataFrame
        ``measure, bin_center_um, n_segments, n_cells, mean, sd, q25, q75, shown``: ``sd`` is
        ``np.std`` (ddof 0) as ``lib/modelling.py`` ``meanstddev``; ``q25, q75`` the quartiles of
        the segments (the dataset's, not published); ``shown`` is ``n_segments >
        f.min_segments`` (the bins the published figure draws). NaN values of a measure are
        left out of its bins.
    """
    rows = []
    for m in measures:
        d = filtered[["bin_center_um", "cell_id", m]].dropna()
        g = d.groupby("bin_center_um")
        t = pd.DataFrame(
            {
                "n_segments": g[m].size(),
                "n_cells": g["cell_id"].nunique(),
                "mean": g[m].mean(),
                "sd": g[m].std(ddof=0),
                "q25": g[m].quantile(0.25),
                "q75": g[m].quantile(0.75),
            }
        ).reset_index()
        t.insert(0, "measure", m)
        rows.append(t)
    cols = ["measure", "bin_center_um", "n_segments", "n_cells", "mean", "sd", "q25", "q75"]
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
    out["shown"] = out["n_segments"] > f.min_segments
    return out


def _ols(x: np.ndarray, y: np.ndarray) -> Any:  # a statsmodels RegressionResults
    import statsmodels.api as sm

    return sm.OLS(y, sm.add_constant(x, has_constant="add")).fit()


def linear_fit(x: np.ndarray, y: np.ndarray) -> dict:
    """Pearson r and p (scipy.stats.pearsonr) and the OLS line (statsmodels) of y on x.

    Returns
    -------
    dict
        ``n, r, p, r2, slope, slope_se, intercept``; r and p are NaN below 3 points.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(len(x))
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, "r": np.nan, "p": np.nan, "r2": np.nan, "slope": np.nan, "slope_se": np.nan, "intercept": np.nan}
    from scipy import stats  # imported when used: scipy.stats costs seconds at start-up

    r, p = stats.pearsonr(x, y)
    fit = _ols(x, y)
    return {"n": n, "r": float(r), "p": float(p), "r2": float(r) ** 2, "slope": float(fit.params[1]),
            "slope_se": float(fit.bse[1]), "intercept": float(fit.params[0])}  # fmt: skip


def segment_regressions(filtered: pd.DataFrame) -> pd.DataFrame:
    """The published scatter regressions and the residual regression, on ``for_regression``
    segments.

    Returns
    -------
    DataFrame
        One row per fit: ``x, y, kind, n, r, p, r2, slope, slope_se, intercept``; ``kind`` is
        ``pearson+ols`` for the three pairs of :data:`REGRESSION_PAIRS`, and
        ``residual after median_diameter_um`` for synapse density regressed on diameter and its
        residual on mitochondrial volume per um (r of volume per um against that residual).
    """
    d = filtered.loc[filtered["for_regression"]]
    rows = [{"x": x, "y": y, "kind": "pearson+ols", **linear_fit(d[x], d[y])} for x, y in REGRESSION_PAIRS]
    resid = diameter_residual(d)
    res = (
        linear_fit(d.loc[resid.index, "mito_volume_per_um"].to_numpy(), resid.to_numpy())
        if len(resid)
        else linear_fit(np.zeros(0), np.zeros(0))
    )
    rows.append({"x": "mito_volume_per_um", "y": "synapse_density_per_um", "kind": "residual after median_diameter_um", **res})
    return pd.DataFrame(rows)


def diameter_residual(segments: pd.DataFrame) -> pd.Series:
    """Residual of the OLS of synapse density on median diameter (``residualregression``'s
    first step), indexed like the rows of ``segments`` with all three measures finite."""
    cols = ["median_diameter_um", "mito_volume_per_um", "synapse_density_per_um"]
    e = segments[cols].replace([np.inf, -np.inf], np.nan).dropna()
    if len(e) < 3 or np.ptp(e["median_diameter_um"]) == 0:
        return pd.Series(dtype=np.float64)
    fit = _ols(e["median_diameter_um"].to_numpy(), e["synapse_density_per_um"].to_numpy())
    return pd.Series(np.asarray(fit.resid), index=e.index)


def analysis_mitochondria(mitochondria: pd.DataFrame, include_meshless: bool = False) -> pd.DataFrame:
    """The mitochondria the compartment comparison uses: those whose compartment came from the
    published vote of their mesh vertices (``include_meshless`` adds those placed on their
    centre's nearest node). Astrocyte mitochondria (the distance rule) are never compared."""
    if "compartment_method" not in mitochondria.columns:
        return mitochondria
    vote, nearest, _ = COMPARTMENT_METHODS
    keep = (vote, nearest) if include_meshless else (vote,)
    return mitochondria.loc[mitochondria["compartment_method"].isin(keep)]


_PERCENTILES = (5, 25, 50, 75, 95)
_Q_NAMES = ("p05", "q25", "median", "q75", "p95")


def compartment_summary(mitochondria: pd.DataFrame, compartments: tuple[str, ...] = COMPARTMENT_ORDER) -> pd.DataFrame:
    """Per compartment: count, 25/50/75th and 95th percentiles (``np.percentile``) of volume
    (``volume_um3`` = ``mito_vx`` x 512.656e-9 um^3) and of the complexity index, and the 5th
    (the lower whisker of the published box plots).

    Returns
    -------
    DataFrame, one row per compartment present
        ``compartment, n, volume_p05, volume_q25, volume_median, volume_q75, volume_p95,
        mci_p05, ..., mci_p95, n_mci`` (MCI over mitochondria with a mesh area).
    """
    rows = []
    for c in compartments:
        g = mitochondria.loc[mitochondria["compartment"] == c]
        if not len(g):
            continue
        v = g["volume_um3"].to_numpy(np.float64)
        m = g["complexityindex"].to_numpy(np.float64)
        m = m[np.isfinite(m)]
        qv = np.percentile(v, _PERCENTILES)
        qm = np.percentile(m, _PERCENTILES) if len(m) else np.full(len(_PERCENTILES), np.nan)
        rows.append({"compartment": c, "n": int(len(g)), **{f"volume_{k}": float(x) for k, x in zip(_Q_NAMES, qv)},
                     **{f"mci_{k}": float(x) for k, x in zip(_Q_NAMES, qm)}, "n_mci": int(len(m))})  # fmt: skip
    return pd.DataFrame(rows)


def compartment_tests(mitochondria: pd.DataFrame, compartments: tuple[str, ...] = COMPARTMENT_ORDER) -> pd.DataFrame:
    """One-sided Mann-Whitney U tests between consecutive compartments (``a < b``), for volume
    (``mito_vx``, as published) and MCI.

    Returns
    -------
    DataFrame
        ``measure, a, b, alternative, U, p, n_a, n_b``; a pair where a side is empty is left out.
    """
    from scipy import stats

    rows = []
    for measure, col in (("volume", "volume_um3"), ("complexity index", "complexityindex")):
        for a, b in zip(compartments[:-1], compartments[1:]):
            xa = mitochondria.loc[mitochondria["compartment"] == a, col].to_numpy(np.float64)
            xb = mitochondria.loc[mitochondria["compartment"] == b, col].to_numpy(np.float64)
            xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
            if not len(xa) or not len(xb):
                continue
            u, p = stats.mannwhitneyu(xa, xb, alternative="less")
            rows.append({"measure": measure, "a": a, "b": b, "alternative": f"{a} < {b}", "U": float(u), "p": float(p),
                         "n_a": int(len(xa)), "n_b": int(len(xb))})  # fmt: skip
    return pd.DataFrame(rows, columns=["measure", "a", "b", "alternative", "U", "p", "n_a", "n_b"])


@dataclass(frozen=True)
class AnalysisResult:
    """Every number of the published analysis for one set of cells (frames for CSV and JSON).

    Attributes
    ----------
    cell_ids : ndarray of int64, the cells analysed
    compartments : DataFrame, :func:`compartment_summary` with the cells and the cell-level
        intervals of the medians (:func:`builder.compute.uncertainty.compartment_intervals`)
    tests : DataFrame, :func:`compartment_tests` with the ratio of the medians, its interval and
        the bootstrap p over cells
    segments : DataFrame, :func:`filter_segments` (the points behind the gradients and scatters)
    gradients : DataFrame, :func:`gradient_table` of every :data:`GRADIENT_MEASURES` column, with
        the interval of each bin's mean (:func:`builder.compute.uncertainty.with_gradient_intervals`)
    regressions : DataFrame, :func:`segment_regressions` with cell-level intervals, clustered
        errors and the between/within-cell r (:func:`builder.compute.uncertainty.with_regression_intervals`)
    bootstrap : Bootstrap, how the intervals were made
    """

    cell_ids: np.ndarray
    compartments: pd.DataFrame
    tests: pd.DataFrame
    segments: pd.DataFrame
    gradients: pd.DataFrame
    regressions: pd.DataFrame
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP


def published_analysis(
    mitochondria: pd.DataFrame,
    segments: pd.DataFrame,
    cell_ids: np.ndarray,
    f: SegmentFilter = SegmentFilter(),
    include_meshless: bool = False,
    boot: Bootstrap = DEFAULT_BOOTSTRAP,
) -> AnalysisResult:
    """The compartment comparison and the distance-to-soma analysis of ``cell_ids``.

    Parameters
    ----------
    mitochondria : DataFrame
        ``tables/mitochondria.parquet`` rows (any cells; those of ``cell_ids`` are used).
    segments : DataFrame
        ``tables/segments.parquet`` rows.
    cell_ids : array of int
    f : SegmentFilter
    include_meshless : bool
        Also compare mitochondria without a mesh (compartment from their nearest node).
    boot : Bootstrap
        The cluster bootstrap over cells of the intervals.
    """
    ids = np.asarray(cell_ids, np.int64)
    mito = analysis_mitochondria(mitochondria.loc[mitochondria["cellid"].isin(ids)], include_meshless)
    seg = filter_segments(segments.loc[segments["cell_id"].isin(ids)], f)
    measures = [m for m in GRADIENT_MEASURES if m in seg.columns]
    summary, tests = compartment_summary(mito), compartment_tests(mito)
    medians, ratios = compartment_intervals(mito, COMPARTMENT_ORDER, boot)
    if len(summary):
        summary = summary.merge(medians, on="compartment", how="left")
    if len(tests):
        med = summary.set_index("compartment")
        key = tests["measure"].map({"volume": "volume_median", "complexity index": "mci_median"})
        tests = tests.assign(ratio=[med.at[b, k] / med.at[a, k] for a, b, k in zip(tests["a"], tests["b"], key)])
        tests = tests.merge(ratios, on=["measure", "a", "b"], how="left")
    return AnalysisResult(
        cell_ids=ids,
        compartments=summary,
        tests=tests,
        segments=seg,
        gradients=with_gradient_intervals(gradient_table(seg, measures, f), seg, boot),
        regressions=with_regression_intervals(segment_regressions(seg), seg.loc[seg["for_regression"]], boot),
        bootstrap=boot,
    )
