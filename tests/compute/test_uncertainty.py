"""The cluster bootstrap over cells: each vectorised statistic equals the statistic recomputed on
the resampled rows, the resampling is seeded, and a scope with too few cells gets no interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.compute.uncertainty import (
    Bootstrap,
    bin_mean_intervals,
    compartment_intervals,
    median_replicates,
    regression_intervals,
    residual_intervals,
)

BOOT = Bootstrap(n_boot=200, seed=3)


def _data(n_cells=12, per=30, seed=0):
    rng = np.random.default_rng(seed)
    cell = np.repeat(np.arange(n_cells) * 7 + 100, per)  # cell ids need not be 0..C-1
    effect = rng.normal(size=n_cells)[np.repeat(np.arange(n_cells), per)]
    x = rng.normal(size=len(cell)) + effect
    y = 0.5 * x + rng.normal(size=len(cell)) + 0.8 * effect
    return cell, x, y


def _resampled(w_row: np.ndarray, cell: np.ndarray, *cols: np.ndarray) -> list[np.ndarray]:
    """The rows of a resample: each cell's rows repeated as often as the cell was drawn."""
    ids = np.unique(cell)
    reps = np.repeat(np.arange(len(cell)), w_row[np.searchsorted(ids, cell)].astype(int))
    return [c[reps] for c in cols]


def test_weights_draw_every_resample_from_the_cells_and_are_seeded():
    w = BOOT.weights(9)
    assert w.shape == (200, 9) and (w.sum(axis=1) == 9).all()
    assert np.array_equal(w, Bootstrap(n_boot=200, seed=3).weights(9))
    assert not np.array_equal(w, Bootstrap(n_boot=200, seed=4).weights(9))


def test_regression_replicates_equal_the_fit_on_resampled_rows():
    cell, x, y = _data()
    got = regression_intervals(x, y, cell, BOOT)
    w = BOOT.weights(12)
    r = [np.corrcoef(*_resampled(row, cell, x, y))[0, 1] for row in w]
    slope = [np.polyfit(*_resampled(row, cell, x, y), 1)[0] for row in w]
    assert (got["r_lo"], got["r_hi"]) == pytest.approx(tuple(np.percentile(r, [2.5, 97.5])))
    assert (got["slope_lo"], got["slope_hi"]) == pytest.approx(tuple(np.percentile(slope, [2.5, 97.5])))
    assert got["n_cells"] == 12 and got["r_lo"] < np.corrcoef(x, y)[0, 1] < got["r_hi"]
    # the cells differ (a shared effect): the between-cell r is not the within-cell r
    assert got["r_between"] > 0.8 and 0.2 < got["r_within"] < 0.6
    assert got["slope_se_cluster"] > 0 and 0 <= got["p_cluster"] < 0.05


def test_residual_replicates_equal_the_two_step_fit_on_resampled_rows():
    cell, d, s = _data(seed=1)
    m = 0.3 * d + np.random.default_rng(2).normal(size=len(d))
    got = residual_intervals(d, m, s, cell, BOOT)
    r = []
    for row in BOOT.weights(12):
        dd, mm, ss = _resampled(row, cell, d, m, s)
        b, a = np.polyfit(dd, ss, 1)
        r.append(np.corrcoef(mm, ss - (a + b * dd))[0, 1])
    assert (got["r_lo"], got["r_hi"]) == pytest.approx(tuple(np.percentile(r, [2.5, 97.5])))


def test_bin_means_and_medians_equal_the_statistic_on_resampled_rows():
    cell, x, _ = _data()
    v = np.abs(x)
    bins = np.where(np.arange(len(v)) % 3 == 0, 5.0, 15.0)
    got = bin_mean_intervals(v, cell, bins, BOOT)
    w = BOOT.weights(12)
    means = [[vv[bb == k].mean() for k in (5.0, 15.0)] for vv, bb in (_resampled(row, cell, v, bins) for row in w)]
    lo, hi = np.percentile(means, [2.5, 97.5], axis=0)
    assert got["mean_lo"].tolist() == pytest.approx(lo.tolist()) and got["mean_hi"].tolist() == pytest.approx(hi.tolist())
    assert (got["mean_lo"] >= 0).all()  # a mean of values that cannot be negative cannot be either
    _, c_idx = np.unique(cell, return_inverse=True)
    med = median_replicates(v, c_idx, w)
    lower_median = [np.sort(vv)[(len(vv) - 1) // 2] for (vv,) in (_resampled(row, cell, v) for row in w)]
    assert med.tolist() == pytest.approx(lower_median)


def test_compartment_ratios_resample_the_same_cells_for_both_compartments():
    cell, x, _ = _data(n_cells=10, per=40)
    comp = np.where(np.arange(len(x)) % 2 == 0, "Axonal", "Somatic")
    vol = np.exp(x) * np.where(comp == "Somatic", 3.0, 1.0)  # somatic three times larger
    mito = pd.DataFrame({"cellid": cell, "compartment": comp, "volume_um3": vol, "complexityindex": vol})
    med, ratios = compartment_intervals(mito, ("Axonal", "Somatic", "Apical"), BOOT)
    assert med["compartment"].tolist() == ["Axonal", "Somatic"] and (med["n_cells"] == 10).all()
    row = ratios[ratios.measure == "volume"].iloc[0]
    assert row.ratio_lo < 3.0 < row.ratio_hi * 1.5 and row.ratio_lo > 1.5 and row.p_bootstrap == pytest.approx(1 / 201)


def test_too_few_cells_give_no_interval():
    cell, x, y = _data(n_cells=4)
    got = regression_intervals(x, y, cell, BOOT)
    assert np.isnan([got["r_lo"], got["r_hi"], got["p_cluster"]]).all() and np.isfinite(got["r_within"])
    assert bin_mean_intervals(x, cell, np.zeros(len(x)), BOOT).isna().all().all()


def test_a_bin_or_compartment_of_few_cells_gets_no_interval_not_a_narrow_one():
    cell, x, _ = _data(n_cells=12)
    bins = np.where(cell == cell[0], 99.0, 5.0)  # one bin holds a single cell
    got = bin_mean_intervals(np.abs(x), cell, bins, BOOT)
    assert got.loc[99.0].isna().all() and got.loc[5.0].notna().all()
    comp = np.where(cell == cell[0], "Apical", "Basal")
    mito = pd.DataFrame({"cellid": cell, "compartment": comp, "volume_um3": np.exp(x), "complexityindex": np.exp(x)})
    med, ratios = compartment_intervals(mito, ("Apical", "Basal"), BOOT)
    assert med.set_index("compartment").loc["Apical", ["volume_median_lo", "volume_median_hi"]].isna().all()
    assert ratios[["ratio_lo", "ratio_hi", "p_bootstrap"]].isna().all().all()
