"""``analyze``'s numbers with their cell-level intervals, published values only beside the
published scope, bands a reader can trust, figures whose text does not collide."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import EXIT_OK, main
from builder.analysis import DEFAULT_SCOPE, Scope
from builder.analysis.figures import draw_figures
from builder.compute.statistics import published_analysis
from builder.schema import COMPARTMENT_COLORS
from builder.store.reader import Dataset

#: Segment measures that cannot be negative, and those that are fractions of the cable.
NON_NEGATIVE = ("median_diameter_um", "mito_volume_per_um", "synapse_density_per_um", "linear_mito_coverage",
                "frustum_mito_volume_fraction", "coverage_factor")  # fmt: skip
FRACTIONS = ("coverage_factor", "frustum_mito_volume_fraction")


@pytest.fixture(scope="module")
def default_result(default_dataset):
    ds = Dataset.open(default_dataset)
    return published_analysis(ds.mitochondria, ds.segments, DEFAULT_SCOPE.select(ds))


def test_every_published_number_has_its_interval_over_cells(default_result):
    r = default_result
    assert len(r.cell_ids) == 28
    reg = r.regressions
    assert (reg["n_cells"] == 28).all()
    assert ((reg["r_lo"] < reg["r"]) & (reg["r"] < reg["r_hi"])).all()
    assert ((reg["slope_lo"] < reg["slope"]) & (reg["slope"] < reg["slope_hi"])).all()
    assert (reg["slope_se_cluster"] > reg["slope_se"]).all()  # segments of one cell are not independent
    comp = r.compartments.set_index("compartment")
    assert ((comp["volume_median_lo"] <= comp["volume_median"]) & (comp["volume_median"] <= comp["volume_median_hi"])).all()
    t = r.tests
    assert ((t["ratio_lo"] < t["ratio"]) & (t["ratio"] < t["ratio_hi"])).all() and (t["p_bootstrap"] < 0.05).all()


def test_bands_stay_within_what_the_quantity_allows(default_result):
    g = default_result.gradients
    g = g[g["shown"]]
    assert (g.loc[g.measure.isin(NON_NEGATIVE), "mean_lo"] >= 0).all()
    assert (g.loc[g.measure.isin(FRACTIONS), "mean_hi"] <= 1).all()
    assert ((g["mean_lo"] <= g["mean"]) & (g["mean"] <= g["mean_hi"])).all()
    assert (g["sd"] > 0).all()  # the published statistic stays in the table, beside the band


def test_a_rerun_gives_the_same_intervals(default_dataset):
    ds = Dataset.open(default_dataset)
    ids = DEFAULT_SCOPE.select(ds)
    a = published_analysis(ds.mitochondria, ds.segments, ids).regressions
    b = published_analysis(ds.mitochondria, ds.segments, ids).regressions
    pd.testing.assert_frame_equal(a, b)


def test_published_values_only_beside_the_published_scope(small_dataset, tmp_path, capsys):
    cells = pd.read_parquet(small_dataset / "tables" / "cells.parquet")
    sub = str(cells.loc[cells.cell_type == "inhibitory", "cell_subtype"].iloc[0])
    assert main(["analyze", str(small_dataset), "--cell-type", "inhibitory", "--subtype", sub, "--out", str(tmp_path / "i"),
                 "--no-figures"]) == EXIT_OK  # fmt: skip
    printed = capsys.readouterr().out
    s = json.loads((tmp_path / "i" / "analysis.json").read_text())
    assert s["scope"]["published_scope"] is False and "no published value for this scope" in s["published_real_data"]["note"]
    assert "no published value for this scope" in printed and "(0.373)" not in printed and "(0.0952)" not in printed
    assert main(["analyze", str(small_dataset), "--out", str(tmp_path / "p"), "--no-figures"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "published real data in (brackets)" in printed and "(0.373)" in printed and "(0.0952)" in printed
    assert main(["analyze", str(small_dataset), "--min-leaf-um", "0", "--out", str(tmp_path / "f"), "--no-figures"]) == EXIT_OK
    assert "no published value for this scope" in capsys.readouterr().out  # other filters: another analysis
    assert Scope().published and not Scope(cell_type="pyramidal", labelled_only=False).published


def _overlaps(fig) -> list[str]:
    """Pairs of text boxes (titles, axis labels, tick labels, legends) that overlap, drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [("suptitle", fig._suptitle.get_window_extent(renderer))] if fig._suptitle else []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        for name, artist in (("title", ax.title), ("xlabel", ax.xaxis.label), ("ylabel", ax.yaxis.label)):
            if artist.get_text():
                boxes.append((f"axes {i} {name}", artist.get_window_extent(renderer)))
        boxes.append((f"axes {i} panel", ax.get_window_extent(renderer)))
    boxes += [(f"legend {i}", leg.get_window_extent(renderer)) for i, leg in enumerate(fig.legends)]
    out = []
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            (na, ba), (nb, bb) = boxes[a], boxes[b]
            same_axes = na.split(" ")[:2] == nb.split(" ")[:2] and "panel" in (na + nb)
            if not same_axes and ba.overlaps(bb):
                out.append(f"{na} / {nb}")
    return out


def test_figures_keep_their_text_apart_and_use_the_compartment_palette(default_result, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    figs = draw_figures(default_result, "pyramidal, 28 cells of demo")
    for name, fig in figs.items():
        assert _overlaps(fig) == [], name
    boxes = [p for p in figs["compartments"].axes[0].patches if hasattr(p, "get_facecolor")]
    assert [to_hex(p.get_facecolor(), keep_alpha=False) for p in boxes][:4] == [
        COMPARTMENT_COLORS[c].lower() for c in ("Axonal", "Somatic", "Apical", "Basal")
    ]
    grad = figs["gradients"].axes[0]
    legend = figs["gradients"].legends[0]
    assert "95 % interval of the mean, bootstrap over 28 cells" in [t.get_text() for t in legend.get_texts()]
    assert grad.get_ylim()[0] == 0 and "µm" in grad.get_xlabel() and "(µm)" in grad.get_ylabel()
    assert (
        to_hex(figs["regressions"].axes[0].collections[0].get_facecolor()[0], keep_alpha=False)
        == COMPARTMENT_COLORS["Basal"].lower()
    )
    for fig in figs.values():
        plt.close(fig)


def test_a_few_cells_get_the_interquartile_band_and_say_so(small_dataset):
    ds = Dataset.open(small_dataset)
    r = published_analysis(ds.mitochondria, ds.segments, DEFAULT_SCOPE.select(ds))
    assert len(r.cell_ids) < r.bootstrap.min_cells and np.isnan(r.regressions["r_lo"]).all()
    fig = draw_figures(r)["gradients"]
    assert "interquartile range of the segments" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_the_interval_over_cells_covers_the_planted_values(default_result):
    """The demo plants the published segment-level relationships (docs/demo.md): each
    regression's interval over the 28 cells holds the planted r and slope."""
    from builder.analysis import PUBLISHED_RESULTS

    planted = PUBLISHED_RESULTS["regressions_beyond_60um"]
    for row in default_result.regressions.to_dict("records"):
        key = row["kind"] if row["kind"] != "pearson+ols" else f"{row['x']} -> {row['y']}"
        assert row["r_lo"] < planted[key]["r"] < row["r_hi"], (key, row["r_lo"], row["r_hi"])
    main_fit = default_result.regressions.iloc[0]
    assert main_fit["slope_lo"] < planted["mito_volume_per_um -> synapse_density_per_um"]["slope"] < main_fit["slope_hi"]
