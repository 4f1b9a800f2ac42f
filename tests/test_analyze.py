"""``python -m builder analyze``: outputs, scopes, errors, and the demo as the positive control.

The demo plants the published relationships along basal dendrites (builder/sources/demo/
profiles.py) and records the segments it made, measured on its own geometry, in demo_truth/.
``analyze`` on the built dataset must recover them: the segment-level correlations within 0.05
and every drawn bin of the gradient profiles within 10 %.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import EXIT_ERROR, EXIT_OK, main
from builder.analysis import PUBLISHED_RESULTS
from builder.sources.demo import TRUTH_DIR
from builder.sources.demo.profiles import DIAMETER_UM, SYNAPSES_PER_UM, profile
from builder.store.manifest import read_manifest, verify_checksums
from builder.store.paths import DatasetPaths

OUTPUTS = ("analysis.json", "compartments.csv", "mann_whitney.csv", "gradients.csv", "regressions.csv", "segments.csv",
           "compartments.png", "gradients.png", "regressions.png")  # fmt: skip


def test_analyze_writes_every_number_table_and_figure(small_dataset, tmp_path, capsys):
    out = tmp_path / "an"
    assert main(["analyze", str(small_dataset), "--out", str(out)]) == EXIT_OK
    for name in OUTPUTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "gradients.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "analysis.json").read_text())
    printed = capsys.readouterr().out
    assert "Mann-Whitney U=" in printed and "published real data in (brackets)" in printed
    # the small demo has 4 pyramidal cells: it says so, and prints no p value as if they were independent
    assert "only 4 cells: too few for cell-level intervals" in printed and " p=" not in printed and "p (cell" not in printed
    # the JSON and the CSVs hold the same numbers
    reg = pd.read_csv(out / "regressions.csv")
    assert [r["r"] for r in summary["regressions"]] == pytest.approx(reg["r"].tolist(), nan_ok=True)
    comp = pd.read_csv(out / "compartments.csv").set_index("compartment")
    assert {r["compartment"]: r["volume_median"] for r in summary["compartments"]} == pytest.approx(
        comp["volume_median"].to_dict()
    )
    assert summary["scope"]["name"] == "pyramidal" and summary["filters"]["min_soma_um"] == 60
    assert summary["published_real_data"] == json.loads(json.dumps(PUBLISHED_RESULTS))
    seg = pd.read_csv(out / "segments.csv")
    assert (seg.compartment == "Basal").all() and (seg.dist_to_leaf_um > 5).all() and (seg.frustum_volume_um3 > 0.5).all()
    assert summary["counts"]["segments_regression"] == int(seg.for_regression.sum())


def test_analysis_folder_is_not_part_of_the_checksummed_dataset(small_dataset, tmp_path):
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    assert main(["analyze", str(ds), "--no-figures"]) == EXIT_OK
    assert (ds / "analysis" / "pyramidal" / "analysis.json").is_file()
    assert verify_checksums(ds, read_manifest(DatasetPaths(ds))) == []  # a rebuild still finds it up to date


def test_other_scopes_and_filters(small_dataset, tmp_path):
    cells = pd.read_parquet(small_dataset / "tables" / "cells.parquet")
    inh = cells[cells.cell_type == "inhibitory"]
    sub = str(inh.cell_subtype.iloc[0])
    assert main(["analyze", str(small_dataset), "--cell-type", "inhibitory", "--subtype", sub, "--out", str(tmp_path / "i"),
                 "--no-figures"]) == EXIT_OK  # fmt: skip
    s = json.loads((tmp_path / "i" / "analysis.json").read_text())
    assert s["scope"]["cell_ids"] == sorted(inh.loc[inh.cell_subtype == sub, "cell_id"].tolist())
    two = cells.cell_id.iloc[:2].tolist()
    assert main(["analyze", str(small_dataset), "--cells", ",".join(map(str, two)), "--min-soma-um", "0", "--no-figures",
                 "--out", str(tmp_path / "c")]) == EXIT_OK  # fmt: skip
    s = json.loads((tmp_path / "c" / "analysis.json").read_text())
    assert s["scope"]["cell_ids"] == sorted(two) and s["filters"]["min_soma_um"] == 0
    assert s["counts"]["segments_regression"] == s["counts"]["segments_gradient"]  # every segment beyond 0 um


def test_bad_scopes_name_what_to_do(small_dataset, tmp_path, capsys):
    assert (
        main(["analyze", str(small_dataset), "--cell-type", "microglia", "--no-figures", "--out", str(tmp_path / "x")])
        == EXIT_ERROR
    )
    assert "no cell of" in capsys.readouterr().err
    assert main(["analyze", str(small_dataset), "--cells", "12,13", "--no-figures", "--out", str(tmp_path / "y")]) == EXIT_ERROR
    assert "are not in the dataset" in capsys.readouterr().err
    assert main(["analyze", str(small_dataset), "--cells", "abc", "--no-figures"]) == EXIT_ERROR
    assert main(["analyze", str(tmp_path / "missing")]) == EXIT_ERROR
    assert "python -m builder" in capsys.readouterr().err


@pytest.mark.slow
def test_analyze_recovers_what_the_demo_planted(default_raw, default_dataset, tmp_path):
    out = tmp_path / "an"
    assert main(["analyze", str(default_dataset), "--out", str(out), "--no-figures"]) == EXIT_OK
    got = json.loads((out / "analysis.json").read_text())
    truth = json.loads((default_raw / TRUTH_DIR / "planted.json").read_text())["true_segments"]
    # the segment-level correlations, within 0.05 of those of the true segments
    for g, t in zip(got["regressions"], truth["regressions"]):
        assert (g["x"], g["y"], g["kind"]) == (t["x"], t["y"], t["kind"])
        assert abs(g["r"] - t["r"]) < 0.05, (g, t)
    # every drawn bin of every profile within 10 %
    gg = pd.DataFrame(got["gradients"]).set_index(["measure", "bin_center_um"])
    tt = pd.DataFrame(truth["gradients"]).set_index(["measure", "bin_center_um"])
    both = tt.join(gg, rsuffix="_got", how="inner")
    assert len(both) == len(tt) and len(tt) > 60
    rel = (both["mean_got"] - both["mean"]).abs() / both["mean"].abs()
    assert (rel[both["mean"].abs() > 0] <= 0.10).all(), both.loc[rel > 0.10, ["mean", "mean_got"]]


@pytest.mark.slow
def test_the_demo_plants_the_published_relationships(default_raw):
    """The truth itself: a positive control only means something if it shows the published
    relationships: correlations of the published sign and size, the published profiles."""
    truth = json.loads((default_raw / TRUTH_DIR / "planted.json").read_text())["true_segments"]
    pub = PUBLISHED_RESULTS["regressions_beyond_60um"]
    for t in truth["regressions"]:
        key = t["kind"] if t["kind"] != "pearson+ols" else f"{t['x']} -> {t['y']}"
        assert 0.05 < t["r"] and abs(t["r"] - pub[key]["r"]) < 0.2, (key, t["r"], pub[key]["r"])
    g = pd.DataFrame(truth["gradients"])
    big = g[g.n_segments > 30]
    d = big[big.measure == "median_diameter_um"]
    assert np.allclose(d["mean"], profile(DIAMETER_UM, d.bin_center_um), rtol=0.1)  # 0.84 tapering to 0.48 um
    s = big[big.measure == "synapse_density_per_um"]
    assert np.allclose(s["mean"], profile(SYNAPSES_PER_UM, s.bin_center_um), rtol=0.25)  # 0.8 -> 1.85 at 60 um
    v = big[big.measure == "mito_volume_per_um"].set_index("bin_center_um")["mean"]
    assert v[v.index > 90].mean() > v[v.index < 40].mean()  # rising with distance, as published
    c = big[big.measure == "linear_mito_coverage"]["mean"]
    assert c.between(0.45, 1.1).all()
    segs = pd.read_parquet(default_raw / TRUTH_DIR / "segments.parquet")
    inh = segs[(segs.cell_type == "inhibitory") & (segs.compartment == "Basal") & (segs.path_length_um > 5)]
    assert inh.synapse_density_per_um.mean() == pytest.approx(1.0, rel=0.25)  # flat, no planted coupling
