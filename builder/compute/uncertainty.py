"""Cell-level uncertainty of the published statistics: a cluster bootstrap over cells.

The published analysis (MicronsBinder ``distance_to_soma.ipynb``, ``compartment_comparison.ipynb``)
treats segments and mitochondria as independent, yet those of one cell share its mitochondria,
its inputs and its segmentation. Resampling whole cells with replacement and recomputing the
statistic (the cluster, or case, bootstrap) gives intervals that hold when cells differ; the
regressions also get cell-clustered standard errors (statsmodels ``cov_type="cluster"``) and
their r is split into a between-cell r (of the cells' means) and a within-cell r (of the
deviations from them), which no published tool reports.

Everything is vectorised over the resamples: each resample is a row of cell counts ``W``
(B, C), and a statistic made of per-cell sums is ``W @ sums``. Seeded, so a rerun gives the
same numbers.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Bootstrap:
    """How the intervals are made.

    Attributes
    ----------
    n_boot : int
        Resamples of the cells.
    seed : int
        Seed of the resampling (numpy ``default_rng``).
    level : float
        Coverage of the percentile intervals.
    min_cells : int
        Fewer cells than this give no interval (NaN) and no segment-level p value is shown.
    """

    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    min_cells: int = 5

    def as_dict(self) -> dict:
        return asdict(self)

    def weights(self, n_cells: int) -> np.ndarray:
        """Cell counts of every resample, shape (n_boot, n_cells): row b says how many times
        each cell was drawn (C draws with replacement)."""
        rng = np.random.default_rng(self.seed)
        return rng.multinomial(n_cells, np.full(n_cells, 1.0 / n_cells), size=self.n_boot).astype(np.float64)

    def interval(self, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval of replicates along axis 0 (NaN replicates left out)."""
        a = (1 - self.level) / 2 * 100
        with warnings.catch_warnings():  # an all-NaN column gives a NaN interval, quietly
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanpercentile(reps, [a, 100 - a], axis=0)
        return lo, hi


#: The intervals of ``python -m builder analyze`` and of the explorer's panels.
DEFAULT_BOOTSTRAP = Bootstrap()


def _cell_index(cell_ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Index 0..C-1 of each row's cell, and C."""
    _, idx = np.unique(np.asarray(cell_ids, np.int64), return_inverse=True)
    return idx, int(idx.max()) + 1 if len(idx) else 0


def bin_mean_intervals(values: np.ndarray, cell_ids: np.ndarray, bins: np.ndarray, boot: Bootstrap) -> pd.DataFrame:
    """Cluster-bootstrap interval of the mean over segments in each bin.

    Parameters
    ----------
    values : ndarray, shape (n,)
        One measure of n segments (finite).
    cell_ids : ndarray, shape (n,), int64
    bins : ndarray, shape (n,)
        Each segment's bin (e.g. its bin centre, um).
    boot : Bootstrap

    Returns
    -------
    DataFrame indexed by bin
        ``mean_lo, mean_hi``: the interval of the bin's mean when the scope's cells are
        resampled (a resample without a segment in the bin is left out); NaN with fewer than
        ``boot.min_cells`` cells in the scope or in the bin.
    """
    keys, b_idx = np.unique(np.asarray(bins), return_inverse=True)
    c_idx, n_cells = _cell_index(cell_ids)
    out = pd.DataFrame({"mean_lo": np.nan, "mean_hi": np.nan}, index=pd.Index(keys, name="bin"))
    if n_cells < boot.min_cells or not len(keys):
        return out
    sums = np.zeros((n_cells, len(keys)))
    counts = np.zeros((n_cells, len(keys)))
    np.add.at(sums, (c_idx, b_idx), np.asarray(values, np.float64))
    np.add.at(counts, (c_idx, b_idx), 1.0)
    w = boot.weights(n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ sums) / (w @ counts)
    out["mean_lo"], out["mean_hi"] = boot.interval(reps)
    few = (counts > 0).sum(axis=0) < boot.min_cells  # a bin of one or two cells: no interval, not a zero-width one
    out.loc[few, ["mean_lo", "mean_hi"]] = np.nan
    return out


def _moments(w: np.ndarray, per_cell: np.ndarray) -> np.ndarray:
    """Resampled sums of per-cell sums: (B, k) from weights (B, C) and sums (C, k)."""
    return w @ per_cell


def _fit_from_sums(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """r and OLS slope of y on x from sums ``n, sx, sy, sxx, syy, sxy`` (columns of ``s``)."""
    n, sx, sy, sxx, syy, sxy = s.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cxx, cyy, cxy = sxx - sx * sx / n, syy - sy * sy / n, sxy - sx * sy / n
        return cxy / np.sqrt(cxx * cyy), cxy / cxx


def _per_cell_sums(cols: list[np.ndarray], c_idx: np.ndarray, n_cells: int) -> np.ndarray:
    """Per cell: count, sums of each column and of every product of two columns, shape (C, k)."""
    feats = [np.ones_like(cols[0])] + cols + [a * b for i, a in enumerate(cols) for b in cols[i:]]
    out = np.zeros((n_cells, len(feats)))
    for j, f in enumerate(feats):
        out[:, j] = np.bincount(c_idx, weights=f, minlength=n_cells)
    return out


def regression_intervals(x: np.ndarray, y: np.ndarray, cell_ids: np.ndarray, boot: Bootstrap) -> dict:
    """Cell-level uncertainty of the Pearson r and OLS slope of y on x.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        Finite values of n segments.
    cell_ids : ndarray, shape (n,), int64
    boot : Bootstrap

    Returns
    -------
    dict
        ``n_cells``; ``r_lo, r_hi, slope_lo, slope_hi`` (cluster bootstrap); ``slope_se_cluster,
        p_cluster`` (OLS with cell-clustered standard errors); ``r_between`` (r of the cells'
        means, cells with a segment) and ``r_within`` (r of the deviations from each cell's
        means). Intervals and clustered values are NaN below ``boot.min_cells`` cells.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    c_idx, n_cells = _cell_index(cell_ids)
    out = {"n_cells": n_cells, "r_lo": np.nan, "r_hi": np.nan, "slope_lo": np.nan, "slope_hi": np.nan,
           "slope_se_cluster": np.nan, "p_cluster": np.nan, **_between_within(x, y, c_idx, n_cells)}  # fmt: skip
    if n_cells < boot.min_cells or len(x) < 3:
        return out
    sums = _per_cell_sums([x, y], c_idx, n_cells)[:, [0, 1, 2, 3, 5, 4]]  # n, sx, sy, sxx, syy, sxy
    r, slope = _fit_from_sums(_moments(boot.weights(n_cells), sums))
    out["r_lo"], out["r_hi"] = boot.interval(r)
    out["slope_lo"], out["slope_hi"] = boot.interval(slope)
    out["slope_se_cluster"], out["p_cluster"] = _clustered_slope(x, y, c_idx)
    return out


def residual_intervals(d: np.ndarray, m: np.ndarray, s: np.ndarray, cell_ids: np.ndarray, boot: Bootstrap) -> dict:
    """:func:`regression_intervals` of the residual regression: ``s`` regressed on ``d`` (OLS),
    its residual against ``m`` (r and slope of the residual on ``m``). Each resample refits the
    first step, from per-cell sums of the three columns and their products."""
    d, m, s = (np.asarray(a, np.float64) for a in (d, m, s))
    c_idx, n_cells = _cell_index(cell_ids)
    resid = _residual(d, s)
    out = regression_intervals(m, resid, cell_ids, Bootstrap(**{**boot.as_dict(), "n_boot": 1}))
    out.update({"r_lo": np.nan, "r_hi": np.nan, "slope_lo": np.nan, "slope_hi": np.nan})
    if n_cells < boot.min_cells or len(d) < 3:
        return out
    # per-cell sums: 1, d, m, s, dd, dm, ds, mm, ms, ss
    t = _moments(boot.weights(n_cells), _per_cell_sums([d, m, s], c_idx, n_cells))
    n, sd_, sm, ss, sdd, sdm, sds, smm, sms, sss = t.T
    with np.errstate(invalid="ignore", divide="ignore"):
        vd, vm, vs = sdd - sd_**2 / n, smm - sm**2 / n, sss - ss**2 / n
        cdm, cds, cms = sdm - sd_ * sm / n, sds - sd_ * ss / n, sms - sm * ss / n
        b = cds / vd
        cme, ve = cms - b * cdm, vs - b * cds
        r, slope = cme / np.sqrt(vm * ve), cme / vm
    out["r_lo"], out["r_hi"] = boot.interval(r)
    out["slope_lo"], out["slope_hi"] = boot.interval(slope)
    return out


def _residual(d: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Residual of the OLS of s on d (with an intercept)."""
    if len(d) < 3 or np.ptp(d) == 0:
        return np.full(len(d), np.nan)
    b, a = np.polyfit(d, s, 1)
    return s - (a + b * d)


def _clustered_slope(x: np.ndarray, y: np.ndarray, c_idx: np.ndarray) -> tuple[float, float]:
    """Slope standard error and p value of the OLS of y on x with cell-clustered errors."""
    import statsmodels.api as sm

    if np.ptp(x) == 0:
        return np.nan, np.nan
    # use_t: a t distribution with G - 1 degrees of freedom (G cells), not the normal one, which
    # gives too small a p value with few clusters
    fit = sm.OLS(y, sm.add_constant(x, has_constant="add")).fit(cov_type="cluster", cov_kwds={"groups": c_idx}, use_t=True)
    return float(fit.bse[1]), float(fit.pvalues[1])


def _between_within(x: np.ndarray, y: np.ndarray, c_idx: np.ndarray, n_cells: int) -> dict:
    """r of the cells' means (between cells) and of the deviations from them (within cells)."""
    if n_cells == 0:
        return {"r_between": np.nan, "r_within": np.nan}
    n = np.bincount(c_idx, minlength=n_cells).astype(np.float64)
    mx = np.bincount(c_idx, weights=x, minlength=n_cells) / np.maximum(n, 1)
    my = np.bincount(c_idx, weights=y, minlength=n_cells) / np.maximum(n, 1)
    has = n > 0
    return {"r_between": _r(mx[has], my[has]) if has.sum() >= 3 else np.nan, "r_within": _r(x - mx[c_idx], y - my[c_idx])}


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])


def median_replicates(values: np.ndarray, c_idx: np.ndarray, w: np.ndarray, chunk: int = 100) -> np.ndarray:
    """Cluster-bootstrap replicates of the median of ``values``, shape (B,).

    Parameters
    ----------
    values : ndarray, shape (n,)
    c_idx : ndarray, shape (n,), int
        Each value's cell, as a column of ``w``.
    w : ndarray, shape (B, C)
        Cell counts of each resample (:meth:`Bootstrap.weights`), shared by every statistic
        compared within one resample.

    The median of a resample is the (lower) weighted median of the values, each weighted by how
    many times its cell was drawn (the point estimate is ``np.median``, which averages the two
    middle values of an even count: the same within one value's spacing): one sort, then a
    cumulative sum per resample (``chunk`` resamples
    at a time, so memory stays ``chunk x n``). NaN for a resample without any of the values.
    """
    v = np.asarray(values, np.float64)
    order = np.argsort(v, kind="stable")
    v, ci = v[order], np.asarray(c_idx)[order]
    reps = np.full(len(w), np.nan)
    if not len(v):
        return reps
    for k in range(0, len(w), chunk):
        cw = np.cumsum(w[k : k + chunk][:, ci], axis=1)  # (chunk, n)
        total = cw[:, -1]
        i = np.argmax(cw >= total[:, None] / 2, axis=1)
        reps[k : k + chunk] = np.where(total > 0, v[i], np.nan)
    return reps


def compartment_intervals(
    mito: pd.DataFrame, compartments: tuple[str, ...], boot: Bootstrap
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cell-level intervals of the compartment comparison.

    Parameters
    ----------
    mito : DataFrame
        ``cellid, compartment, volume_um3, complexityindex`` of the compared mitochondria.
    compartments : tuple of str
        In the published order; consecutive pairs are compared.
    boot : Bootstrap

    Returns
    -------
    medians : DataFrame, one row per compartment present
        ``compartment, n_cells, volume_median_lo, volume_median_hi, mci_median_lo, mci_median_hi``.
    ratios : DataFrame, one row per (measure, consecutive pair)
        ``measure, a, b``, ``ratio_lo, ratio_hi`` (the interval of the median of b / the median
        of a) and
        ``p_bootstrap``: the share of resamples (cells drawn with replacement, the same cells
        for both compartments) in which b's median is not above a's, (k + 1) / (B + 1).
        Intervals and p are NaN below ``boot.min_cells`` cells (in the scope, or in a compartment).
    """
    c_idx, n_cells = _cell_index(mito["cellid"].to_numpy(np.int64))
    w = boot.weights(n_cells) if n_cells >= boot.min_cells else np.zeros((0, n_cells))
    comp = mito["compartment"].to_numpy()
    reps: dict[tuple[str, str], np.ndarray] = {}
    rows, ratio_rows = [], []
    for c in compartments:
        here = comp == c
        if not here.any():
            continue
        row: dict = {"compartment": c, "n_cells": int(len(np.unique(c_idx[here])))}
        for measure, col in (("volume", "volume_um3"), ("mci", "complexityindex")):
            v = mito[col].to_numpy(np.float64)
            ok = here & np.isfinite(v)
            reps[(measure, c)] = median_replicates(v[ok], c_idx[ok], w)
            if row["n_cells"] < boot.min_cells:  # a compartment of one or two cells: no interval
                reps[(measure, c)][:] = np.nan
            row[f"{measure}_median_lo"], row[f"{measure}_median_hi"] = (
                boot.interval(reps[(measure, c)]) if len(w) else (np.nan, np.nan)
            )
        rows.append(row)
    present = [r["compartment"] for r in rows]
    for measure, name in (("volume", "volume"), ("mci", "complexity index")):
        for a, b in zip(present[:-1], present[1:]):
            ra, rb = reps[(measure, a)], reps[(measure, b)]
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = rb / ra
            lo, hi = boot.interval(ratio) if len(w) else (np.nan, np.nan)
            valid = np.isfinite(ra) & np.isfinite(rb)
            p = (np.sum(~(rb[valid] > ra[valid])) + 1) / (valid.sum() + 1) if valid.any() else np.nan
            ratio_rows.append({"measure": name, "a": a, "b": b, "ratio_lo": lo, "ratio_hi": hi, "p_bootstrap": p})
    return pd.DataFrame(rows), pd.DataFrame(ratio_rows, columns=["measure", "a", "b", "ratio_lo", "ratio_hi", "p_bootstrap"])


def with_gradient_intervals(table: pd.DataFrame, filtered: pd.DataFrame, boot: Bootstrap) -> pd.DataFrame:
    """:func:`builder.compute.statistics.gradient_table` with ``mean_lo, mean_hi`` (the cluster
    bootstrap interval of each bin's mean) beside the published mean and SD."""
    parts = []
    for m, t in table.groupby("measure", sort=False):
        d = filtered[["bin_center_um", "cell_id", m]].dropna()
        iv = bin_mean_intervals(d[m].to_numpy(), d["cell_id"].to_numpy(), d["bin_center_um"].to_numpy(), boot)
        parts.append(t.join(iv, on="bin_center_um"))
    cols = [*table.columns, "mean_lo", "mean_hi"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else table.assign(mean_lo=np.nan, mean_hi=np.nan)


def with_regression_intervals(reg: pd.DataFrame, for_regression: pd.DataFrame, boot: Bootstrap) -> pd.DataFrame:
    """:func:`builder.compute.statistics.segment_regressions` with the columns of
    :func:`regression_intervals` (the residual row from :func:`residual_intervals`)."""
    rows = []
    cols3 = ["median_diameter_um", "mito_volume_per_um", "synapse_density_per_um"]
    for r in reg.to_dict("records"):
        if r["kind"] == "pearson+ols":
            e = for_regression[[r["x"], r["y"], "cell_id"]].replace([np.inf, -np.inf], np.nan).dropna()
            extra = regression_intervals(e[r["x"]].to_numpy(), e[r["y"]].to_numpy(), e["cell_id"].to_numpy(), boot)
        else:
            e = for_regression[[*cols3, "cell_id"]].replace([np.inf, -np.inf], np.nan).dropna()
            d, m, s = (e[c].to_numpy() for c in cols3)
            extra = residual_intervals(d, m, s, e["cell_id"].to_numpy(), boot)
        rows.append({**r, **extra})
    return pd.DataFrame(rows)
