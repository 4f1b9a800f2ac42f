"""The default demo, analysed as published, gives the published values (positive control).

The demo plants the segment-level relationships of Turner et al. 2022, Fig. 5 along the basal
dendrites of its pyramidal cells (builder/sources/demo/profiles.py, tiling.py), and its
mitochondria keep the shapes fitted to the real rows (builder/sources/demo/mitos.py). On the
default demo (seed 1, 40 cells) ``analyze`` must find the published values (real data,
MicronsBinder's notebooks: ``builder.analysis.PUBLISHED_RESULTS``) within:

- 0.03 for r(mito volume per um -> synapse density) and 15 % for its slope;
- 0.05 for the other two Pearson r and for the r after regressing out the diameter;
- linear mitochondrial coverage of every drawn bin inside the published range, 0.69-0.9;
- 10 % for the median volume and complexity index of every compartment.

Seeds 2-12 of the same generator scatter around these values by about 0.03 in r (SD over
seeds); docs/demo.md gives the numbers.
"""

from __future__ import annotations

import pytest

from builder.analysis import PUBLISHED_RESULTS, run_analysis

pytestmark = pytest.mark.slow

REGRESSIONS = PUBLISHED_RESULTS["regressions_beyond_60um"]
#: (x, y, kind) of analyze's regression rows -> (published row, tolerance on r)
R_TOLERANCE = {
    ("mito_volume_per_um", "synapse_density_per_um", "pearson+ols"): ("mito_volume_per_um -> synapse_density_per_um", 0.03),
    ("median_diameter_um", "mito_volume_per_um", "pearson+ols"): ("median_diameter_um -> mito_volume_per_um", 0.05),
    ("median_diameter_um", "synapse_density_per_um", "pearson+ols"): ("median_diameter_um -> synapse_density_per_um", 0.05),
    ("mito_volume_per_um", "synapse_density_per_um", "residual after median_diameter_um"): (
        "residual after median_diameter_um",
        0.05,
    ),
}
SLOPE_TOLERANCE = 0.15
COVERAGE_RANGE = (0.69, 0.90)
MEDIAN_TOLERANCE = 0.10


@pytest.fixture(scope="module")
def result(default_dataset, tmp_path_factory):
    """The published analysis of the default demo (pyramidal cells, published filters)."""
    res, _, _ = run_analysis(default_dataset, out_dir=tmp_path_factory.mktemp("published") / "analysis", figures=False)
    return res


@pytest.mark.parametrize("key", list(R_TOLERANCE), ids=lambda k: f"{k[0]}->{k[1]} {k[2]}")
def test_segment_correlations_beyond_60um(result, key):
    reg = result.regressions.set_index(["x", "y", "kind"])
    published, tolerance = R_TOLERANCE[key]
    got, want = float(reg.loc[key, "r"]), REGRESSIONS[published]["r"]
    assert abs(got - want) <= tolerance, (key, got, want)


def test_volume_per_um_to_synapse_density_slope(result):
    reg = result.regressions.set_index(["x", "y", "kind"])
    got = float(reg.loc[("mito_volume_per_um", "synapse_density_per_um", "pearson+ols"), "slope"])
    want = REGRESSIONS["mito_volume_per_um -> synapse_density_per_um"]["slope"]  # 17.79 per um per um^2
    assert abs(got / want - 1) <= SLOPE_TOLERANCE, (got, want)


def test_linear_mito_coverage_of_basal_segments(result):
    g = result.gradients
    shown = g[(g["measure"] == "linear_mito_coverage") & g["shown"]]
    assert len(shown) >= 10
    lo, hi = COVERAGE_RANGE
    outside = shown[(shown["mean"] < lo) | (shown["mean"] > hi)]
    assert outside.empty, outside[["bin_center_um", "n_segments", "mean"]]


@pytest.mark.parametrize("compartment", ["Axonal", "Somatic", "Apical", "Basal"])
def test_compartment_medians(result, compartment):
    comp = result.compartments.set_index("compartment")
    for column, published in (("volume_median", "median_volume_um3"), ("mci_median", "median_mci")):
        got, want = float(comp.loc[compartment, column]), PUBLISHED_RESULTS[published][compartment]
        assert abs(got / want - 1) <= MEDIAN_TOLERANCE, (compartment, column, got, want)
