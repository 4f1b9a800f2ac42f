"""The published statistics (builder/compute/statistics.py) against answers computed here
directly: filters, per-bin mean and SD over segments, Pearson r and OLS, the residual
regression, Mann-Whitney U and percentiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from builder.compute.statistics import (
    SegmentFilter,
    compartment_summary,
    compartment_tests,
    filter_segments,
    gradient_table,
    published_analysis,
    segment_regressions,
)


def _segments(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 150, n)
    diam = 0.8 - 0.002 * d + rng.normal(0, 0.08, n)
    vpu = 0.01 + 0.03 * diam + rng.normal(0, 0.008, n)
    syn = 0.5 + 2.0 * diam + 10 * vpu + rng.normal(0, 0.3, n)
    return pd.DataFrame(
        {
            "cell_id": rng.integers(1, 8, n), "segment_id": np.arange(n), "compartment": rng.choice(["Basal", "Apical"], n, p=[0.8, 0.2]),
            "min_dist_to_soma_um": d, "dist_to_leaf_um": rng.uniform(0, 40, n), "frustum_volume_um3": rng.uniform(0, 3, n),
            "median_diameter_um": diam, "mito_volume_per_um": vpu, "synapse_density_per_um": syn,
            "linear_mito_coverage": rng.uniform(0.3, 1.2, n),
        }
    )  # fmt: skip


def test_filters_are_the_published_ones():
    s = _segments()
    s.loc[0, "synapse_density_per_um"] = np.nan  # no path length: dropped (np.isfinite)
    f = filter_segments(s)
    keep = (
        (s.compartment == "Basal")
        & (s.dist_to_leaf_um > 5)
        & (s.frustum_volume_um3 > 0.5)
        & np.isfinite(s.synapse_density_per_um)
    )
    assert len(f) == keep.sum() and set(f.segment_id) == set(s.segment_id[keep])
    assert (f.bin_center_um == f.min_dist_to_soma_um // 10 * 10 + 5).all()
    assert (f.for_regression == (f.min_dist_to_soma_um > 60)).all()
    # options move the thresholds
    g = filter_segments(s, SegmentFilter(compartment="Apical", min_leaf_um=0, min_volume_um3=0))
    assert (g.compartment == "Apical").all() and len(g) == (
        (s.compartment == "Apical") & np.isfinite(s.synapse_density_per_um) & (s.frustum_volume_um3 > 0) & (s.dist_to_leaf_um > 0)
    ).sum()


def test_gradient_table_is_mean_and_population_sd_per_bin():
    f = filter_segments(_segments())
    g = gradient_table(f, ["median_diameter_um"]).set_index("bin_center_um")
    for c, sub in f.groupby("bin_center_um"):
        x = sub.median_diameter_um.to_numpy()
        assert g.loc[c, "mean"] == pytest.approx(np.mean(x)) and g.loc[c, "sd"] == pytest.approx(np.std(x))  # ddof 0
        assert g.loc[c, "n_segments"] == len(x) and g.loc[c, "shown"] == (len(x) > 10)
        assert g.loc[c, "n_cells"] == sub.cell_id.nunique()


def test_regressions_match_scipy_and_least_squares():
    f = filter_segments(_segments(2000))
    r = segment_regressions(f).set_index(["x", "y", "kind"])
    d = f[f.for_regression]
    for x, y in [("mito_volume_per_um", "synapse_density_per_um"), ("median_diameter_um", "mito_volume_per_um")]:
        row = r.loc[(x, y, "pearson+ols")]
        rr, p = stats.pearsonr(d[x], d[y])
        slope, intercept = np.polyfit(d[x], d[y], 1)
        assert row.r == pytest.approx(rr) and row.p == pytest.approx(p) and row.n == len(d)
        assert row.slope == pytest.approx(slope) and row.intercept == pytest.approx(intercept)
    # residual: synapse density regressed on diameter, the residual against volume per um
    b, a = np.polyfit(d.median_diameter_um, d.synapse_density_per_um, 1)
    resid = d.synapse_density_per_um - (a + b * d.median_diameter_um)
    row = r.loc[("mito_volume_per_um", "synapse_density_per_um", "residual after median_diameter_um")]
    assert row.r == pytest.approx(stats.pearsonr(d.mito_volume_per_um, resid)[0])
    assert 0 < row.r < r.loc[("mito_volume_per_um", "synapse_density_per_um", "pearson+ols")].r  # diameter explains part


def test_compartments_percentiles_and_one_sided_mann_whitney():
    rng = np.random.default_rng(1)
    comps = {"Axonal": 0.013, "Somatic": 0.033, "Apical": 0.062, "Basal": 0.095}
    m = pd.concat(
        [pd.DataFrame({"compartment": c, "volume_um3": med * np.exp(rng.normal(0, 1, 300)), "complexityindex": rng.lognormal(1, 0.5, 300)})
         for c, med in comps.items()]
    )  # fmt: skip
    m.loc[m.index[:5], "complexityindex"] = np.nan  # a mitochondrion without a mesh area
    summary = compartment_summary(m).set_index("compartment")
    for c in comps:
        v = m.loc[m.compartment == c, "volume_um3"]
        assert summary.loc[c, "volume_median"] == pytest.approx(np.percentile(v, 50))
        assert summary.loc[c, "volume_p95"] == pytest.approx(np.percentile(v, 95)) and summary.loc[c, "n"] == len(v)
    t = compartment_tests(m).set_index(["measure", "a", "b"])
    assert list(t.loc["volume"].index) == [("Axonal", "Somatic"), ("Somatic", "Apical"), ("Apical", "Basal")]
    xa, xb = m.loc[m.compartment == "Axonal", "volume_um3"], m.loc[m.compartment == "Somatic", "volume_um3"]
    u, p = stats.mannwhitneyu(xa, xb, alternative="less")
    assert t.loc[("volume", "Axonal", "Somatic"), "U"] == u and t.loc[("volume", "Axonal", "Somatic"), "p"] == pytest.approx(p)
    assert t.loc[("volume", "Axonal", "Somatic"), "p"] < 1e-10  # planted: axon < soma
    assert t.loc[("complexity index", "Axonal", "Somatic"), "n_a"] == 295  # NaN MCI left out


def test_published_analysis_keeps_its_cells_and_leaves_meshless_mitochondria_out():
    seg = _segments()
    mito = pd.DataFrame({"cellid": [1, 1, 2, 9], "compartment": ["Basal"] * 4, "volume_um3": [0.1, 0.2, 0.3, 0.4],
                         "complexityindex": [1.0, 2.0, 3.0, 4.0],
                         "compartment_method": ["vertex vote", "nearest node (no mesh)", "vertex vote", "vertex vote"]})  # fmt: skip
    r = published_analysis(mito, seg, np.array([1, 2]))
    assert r.compartments.set_index("compartment").loc["Basal", "n"] == 2  # cell 9 out, the meshless one out
    assert set(r.segments.cell_id) <= {1, 2}
    r2 = published_analysis(mito, seg, np.array([1, 2]), include_meshless=True)
    assert r2.compartments.set_index("compartment").loc["Basal", "n"] == 3
