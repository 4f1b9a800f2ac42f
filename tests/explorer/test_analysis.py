"""The gradients, dendrogram and multi-cell views' pure functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dash import no_update
from scipy import stats

from explorer.figures.dendrogram import dendrogram_figure, dendrogram_rows, mito_intervals
from explorer.figures.gradients import bootstrap_medians, density_regression, gradient_table
from explorer.panels import dendrogram, gradients, scatter, view3d


def test_dendrogram_rows_known_tree():
    #      0
    #     / \
    #    1   4
    #    |   |
    #    2   5
    #   / \
    #  3   6
    parent = np.array([-1, 0, 1, 2, 0, 4, 2])
    order, row = dendrogram_rows(parent)
    assert order[0] == 0 and sorted(order) == list(range(7))
    leaves = [3, 6, 5]
    assert sorted(row[leaves]) == [0, 1, 2]  # one row per leaf
    # a node sits on the row of the first leaf after it: the main chain 0-1-2-3 shares a row
    assert row[0] == row[1] == row[2] == row[3]
    assert row[4] == row[5] and row[6] not in (row[3], row[5])


def test_mito_intervals_span_the_covered_cable():
    x = np.array([0.0, 5, 10, 15, 6, 12])
    row = np.array([0.0, 0, 0, 0, 1, 1])
    lo, hi, mrow = mito_intervals(x, row, {1: [2, 3], 2: [5], 3: []}, np.array([1, 2, 3]))
    assert lo[:2].tolist() == [10, 12] and hi[:2].tolist() == [15, 12.15] and mrow[:2].tolist() == [0, 1]
    assert np.isnan(mrow[2])


def test_dendrogram_figure_of_a_cell(xdata, pyramidal_id):
    ds = xdata.ds
    m = ds.cell_mitochondria(pyramidal_id)
    fig = dendrogram_figure(ds.skeleton_nodes(pyramidal_id), m, ds.associations(pyramidal_id), ds.cell_synapses(pyramidal_id),
                            highlight_ids=m.mito_id.iloc[:3].tolist())  # fmt: skip
    mito_traces = [t for t in fig.data if t.name and t.name.endswith("mitochondria")]
    shown = {int(c) for t in mito_traces for c in t.customdata}
    assert shown == set(m.mito_id)  # every mitochondrion covers at least one node
    assert sum(1 for v in fig.data[0].x if v is None) == 3  # three highlighted intervals
    syn = [t for t in fig.data if t.name in ("inputs", "outputs", "autapse")]
    assert sum(len(t.x) for t in syn) == len(ds.cell_synapses(pyramidal_id))


def test_bootstrap_medians():
    out = bootstrap_medians([np.array([1.0, 2, 3, 4, 100]), np.array([7.0]), np.array([np.nan])])
    assert out[0, 0] == 3 and out[0, 1] <= 3 <= out[0, 2]
    assert out[1].tolist() == [7, 7, 7] and np.isnan(out[2]).all()
    again = bootstrap_medians([np.array([1.0, 2, 3, 4, 100]), np.array([7.0]), np.array([np.nan])])
    assert np.array_equal(out, again, equal_nan=True)  # seeded: the same interval every time


def test_gradient_table_medians_per_bin(xdata):
    bins = xdata.ds.distance_bins
    t = gradient_table(bins, "mito_volume_per_um")
    row = t.iloc[0]
    expect = bins[(bins.compartment == row.compartment) & (bins.bin_start_um == row.bin_start_um) & (bins.path_length_um >= 2)]
    assert row["median"] == pytest.approx(expect.mito_volume_per_um.median()) and row.n_cells == len(expect)


def test_density_regression_matches_scipy_and_a_known_line():
    """Synapse density on mitochondrial volume per um, the published regression's axes."""
    x = np.linspace(0.01, 0.1, 12)
    bins = pd.DataFrame(
        {"compartment": "Basal", "path_length_um": 10.0, "mito_volume_per_um": x, "synapse_density_per_um": 2 * x + 1}
    )
    fit = density_regression(bins)
    assert fit["slope"] == pytest.approx(2) and fit["intercept"] == pytest.approx(1) and fit["r"] == pytest.approx(1)
    noisy = bins.assign(synapse_density_per_um=2 * x + np.sin(70 * x))
    ref = stats.linregress(x, noisy.synapse_density_per_um)
    assert density_regression(noisy)["slope"] == pytest.approx(ref.slope)
    assert np.isnan(density_regression(bins.iloc[:2])["slope"])  # too few bins


def test_gradients_view_scopes_and_empty_states(xdata, pyramidal_id):
    for stat in ("cells", "segments"):
        g, d = gradients.gradients_view(xdata, None, "coverage_factor", "cell", [], ["Basal"], stat)
        assert "Pick a cell" in g.layout.annotations[0].text and "Pick a cell" in d.layout.annotations[0].text
        g, _ = gradients.gradients_view(xdata, None, "coverage_factor", "table", [], ["Basal"], stat)
        assert "table" in g.layout.annotations[0].text
    g, d = gradients.gradients_view(xdata, str(pyramidal_id), "coverage_factor", "type", [], ["Basal", "Apical"], "cells")
    assert "pyramidal cells" in g.layout.title.text and {t.name.split(":")[0] for t in g.data} >= {"Basal", "Apical"}
    assert any("slope" in (t.name or "") for t in d.data)
    # both statistics draw the right panel on the published axes
    _, d2 = gradients.gradients_view(xdata, str(pyramidal_id), "coverage_factor", "type", [], ["Basal"], "segments")
    assert d.layout.xaxis.title.text == d2.layout.xaxis.title.text == "mitochondrial volume per µm of cable (µm³/µm)"
    assert d.layout.yaxis.title.text == d2.layout.yaxis.title.text
    # the median over cells honours the compartment choice
    g, _ = gradients.gradients_view(xdata, str(pyramidal_id), "coverage_factor", "type", [], ["Apical"], "cells")
    assert {t.name.split(":")[0] for t in g.data} == {"Apical"}
    assert gradients.gradients_view(xdata, None, "../etc", "all", [], [])[0] is no_update
    assert gradients.gradients_view(xdata, None, "coverage_factor", "all", [], [], "../etc")[0] is no_update


def test_the_published_statistic_is_what_analyze_reports(xdata, small_dataset, pyramidal_id, tmp_path):
    """The gradients view over "its cell type" shows analyze's numbers for --cell-type pyramidal."""
    from builder.__main__ import main

    assert main(["analyze", str(small_dataset), "--out", str(tmp_path / "a"), "--no-figures", "--min-segments", "0"]) == 0
    grad = pd.read_csv(tmp_path / "a" / "gradients.csv")
    reg = pd.read_csv(tmp_path / "a" / "regressions.csv").set_index(["x", "y", "kind"])
    g, d = gradients.gradients_view(xdata, str(pyramidal_id), "mito_volume_per_um", "type", [], ["Basal"], "segments")
    mean = [t for t in g.data if t.name == "Basal: mean over segments"][0]
    want = grad[(grad.measure == "mito_volume_per_um") & (grad.n_segments > 10)]
    assert list(mean.x) == want.bin_center_um.tolist() and np.allclose(mean.y, want["mean"])
    r = reg.loc[("mito_volume_per_um", "synapse_density_per_um", "pearson+ols"), "r"]
    assert f"r = {r:.2f}" in d.layout.title.text
    res = reg.loc[("mito_volume_per_um", "synapse_density_per_um", "residual after median_diameter_um"), "r"]
    assert f"after diameter r = {res:.2f}" in d.layout.title.text
    # the diameter, through the radius measure of the bins
    g, _ = gradients.gradients_view(xdata, str(pyramidal_id), "mean_radius_nm", "type", [], ["Basal"], "segments")
    want = grad[(grad.measure == "median_diameter_um") & (grad.n_segments > 10)]
    assert np.allclose([t for t in g.data if t.name == "Basal: mean over segments"][0].y, want["mean"])


def test_a_click_in_the_segments_view_selects_nothing(xdata, pyramidal_id):
    assert gradients.bin_selection(xdata, str(pyramidal_id), {"points": [{"customdata": [14, 3, 0.02]}]}) is None


def test_clicking_a_bin_selects_its_mitochondria(xdata, pyramidal_id):
    click = {"points": [{"customdata": ["Basal", 20.0, 3]}]}
    sel = gradients.bin_selection(xdata, str(pyramidal_id), click)
    m = xdata.mitos
    expect = m[
        (m.cellid == pyramidal_id) & (m.compartment == "Basal") & (m.path_dist_to_soma_um >= 20) & (m.path_dist_to_soma_um < 30)
    ]
    assert sorted(map(int, sel["ids"])) == sorted(expect.mito_id) and len(expect)
    assert (
        gradients.bin_selection(xdata, None, click) is None
        and gradients.bin_selection(xdata, str(pyramidal_id), {"points": []}) is None
    )


def test_dendrogram_selection_and_highlight(xdata, pyramidal_id):
    ids = xdata.ds.cell_mitochondria(pyramidal_id).mito_id.iloc[:4].astype(str).tolist()
    sel = dendrogram.selection_from_dendrogram(
        {"points": [{"curveNumber": 7, "customdata": i} for i in ids] + [{"curveNumber": 0, "customdata": "1"}]}
    )
    assert sel["ids"] == sorted(ids)
    patch = dendrogram.highlight_dendrogram(xdata, str(pyramidal_id), sel).to_plotly_json()
    xs = next(op for op in patch["operations"] if op["location"][-1] == "x")["params"]["value"]
    assert xs.count(None) == 4
    assert "Pick a cell" in dendrogram.dendrogram_view(xdata, None, None).layout.annotations[0].text


def test_several_cells_in_3d(xdata):
    rows = [{"cell_id": str(c)} for c in xdata.ds.cells.cell_id.iloc[:3]] + [{"cell_id": "nope"}]
    ids = view3d.selected_cells(xdata, rows)
    assert len(ids) == 3
    fig, info = view3d.cells_view(xdata, ids)
    assert info.startswith("3 cells") and fig["data"][0]["name"] == "selected"
    assert sum(1 for t in fig["data"] if t["name"].startswith("soma")) == 3
    n = sum(len(t["x"]) for t in fig["data"] if t["name"].startswith("mitochondria"))
    assert n == xdata.mitos.cellid.isin(ids).sum()  # every mitochondrion, as a marker (no meshes)


def test_cell_with_its_synaptic_partners(xdata):
    syn = xdata.ds.synapses
    inner = syn[syn.pre_root_id.isin(xdata.ds.cells.cell_id) & syn.post_root_id.isin(xdata.ds.cells.cell_id)
                & (syn.pre_root_id != syn.post_root_id)]  # fmt: skip
    cid = int(inner.post_root_id.iloc[0])
    ids = view3d.partner_cells(xdata, cid)
    assert ids[0] == cid and int(inner.pre_root_id.iloc[0]) in ids and len(set(ids)) == len(ids)
    fig, info, msg, _ = view3d.several_or_one(xdata, str(cid), [], True, None)
    assert info.startswith(f"{len(ids)} cells") and msg == ""
    fig, info, _, _ = view3d.several_or_one(xdata, str(cid), [], False, None)
    assert info.startswith(f"cell {cid}")


def test_a_selection_made_elsewhere_is_highlighted_in_the_scatter(xdata, pyramidal_id):
    ids = xdata.ds.cell_mitochondria(pyramidal_id).mito_id.iloc[:5].astype(str).tolist()
    ops = scatter.highlight_scatter_ids(
        xdata, {"ids": ids, "source": "dendrogram"}, "volume_um3", "complexityindex"
    ).to_plotly_json()["operations"]
    assert {tuple(o["location"]) for o in ops} == {("data", 0, "x"), ("data", 0, "y")} and all(
        len(o["params"]["value"]) == 5 for o in ops
    )
    # a selection drawn in the scatter is shown by plotly: the highlight of an earlier one is emptied
    ops = scatter.highlight_scatter_ids(
        xdata, {"ids": ids, "source": "scatter"}, "volume_um3", "complexityindex"
    ).to_plotly_json()
    assert all(o["params"]["value"] == [] for o in ops["operations"])


def test_a_selection_in_the_several_cells_view_is_highlighted_in_any_drawn_cell(xdata):
    cells = xdata.ds.cells.cell_id.iloc[:3].tolist()
    fig, _ = view3d.cells_view(xdata, cells)
    roles = view3d.trace_roles(fig)
    other = xdata.mitos.loc[xdata.mitos.cellid == cells[2], "mito_id"].iloc[:4].tolist()
    ops = {tuple(o["location"]): o["params"]["value"] for o in view3d.highlight_3d(xdata, str(cells[0]), other, roles)
           .to_plotly_json()["operations"]}  # fmt: skip
    assert len(ops[("data", 0, "x")]) == 4  # a mitochondrion of another drawn cell than the current one
    assert view3d.drawn_cells(roles, cells[0]) == cells
