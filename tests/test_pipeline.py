"""The whole pipeline on a small demo: format, determinism, resumption."""

from __future__ import annotations

import json
import shutil

import navis
import numpy as np
import pandas as pd
import pytest

from builder.config import BuildConfig
from builder.pipeline import build_dataset
from builder.sources.demo import demo_source
from builder.store.manifest import read_manifest
from builder.store.meshes import decode_meshes
from builder.store.paths import DatasetPaths
from builder.store.validate import validate_dataset
from tests.conftest import SMALL
from tests.faults import Dies


def build(raw, out, workers=1, source=None):
    cfg = BuildConfig(source="demo", raw_dir=raw, out_dir=out, demo=SMALL, workers=workers)
    return build_dataset(cfg, source or demo_source(raw))


def test_dataset_is_valid_and_marked_synthetic(small_dataset):
    assert validate_dataset(small_dataset) == []
    m = json.loads((small_dataset / "manifest.json").read_text())
    assert m["synthetic"] is True and m["source"]["name"] == "demo" and m["seed"] == SMALL.seed
    assert m["label_mapping"]["source_to_dataset"] == {"0": 0, "1": 1, "2": 2, "3": 3, "4": 5, "5": 4}
    assert {"meshparty", "numpy", "trimesh"} <= set(m["package_versions"])
    assert "tables/mito_meshes.parquet" in m["files"] and "microns.tar.gz" in m["files"]
    assert m["counts"]["cells"] == 6


def test_swc_round_trip_through_navis(small_dataset):
    cells = pd.read_parquet(small_dataset / "tables" / "cells.parquet")
    nodes = pd.read_parquet(small_dataset / "tables" / "skeleton_nodes.parquet")
    for cid, cable_um in zip(cells.cell_id, cells.cable_length_um):
        n = navis.read_swc(small_dataset / "morphologies" / f"{cid}.swc")
        mine = nodes[nodes.cell_id == cid].sort_values("node_id")
        assert n.n_nodes == len(mine) and n.n_trees == 1
        assert n.cable_length / 1000 == pytest.approx(cable_um, rel=1e-4)
        got = n.nodes.sort_values("node_id")
        assert got["label"].to_numpy().tolist() == mine["label"].tolist()
        assert got[["x", "y", "z"]].to_numpy() == pytest.approx(mine[["x", "y", "z"]].to_numpy(), abs=0.05)  # navis: float32


def test_per_cell_files_agree_with_tables(small_dataset):
    cells = pd.read_parquet(small_dataset / "tables" / "cells.parquet")
    mito = pd.read_parquet(small_dataset / "tables" / "mitochondria.parquet")
    meshes = decode_meshes(
        __import__("pyarrow.parquet", fromlist=["x"]).read_table(small_dataset / "tables" / "mito_meshes.parquet")
    )
    assert set(meshes.ids) == set(mito.loc[mito.mesh_missing == "", "mito_id"])  # mesh-less ones: no mesh
    assert 0 < (mito.mesh_missing != "").sum() < 0.02 * len(mito)  # the demo's few mesh-less mitochondria
    for cid, ctype in zip(cells.cell_id, cells.cell_type):
        csv = pd.read_csv(small_dataset / "microns" / f"{ctype}_{cid}.csv")
        assert csv["mito_id"].tolist() == mito.loc[mito.cellid == cid, "mito_id"].tolist()
        assoc = pd.read_json(small_dataset / "nodes" / f"{cid}_associated_nodes.json", typ="series")
        assert assoc.index.dtype == np.int64  # ids must not be mistaken for dates by pandas
        assert sorted(assoc.index) == sorted(csv["mito_id"])
        assert (assoc.map(len).to_numpy() == csv.set_index("mito_id").loc[assoc.index.astype(np.int64), "n_nodes"]).all()
    astro = cells.loc[cells.cell_type == "astrocyte", "cell_id"]
    assert set(mito.loc[mito.cellid.isin(astro), "compartment"]) <= {"Somatic", "Branch"}
    assert not mito.loc[~mito.cellid.isin(astro), "far"].any()


def test_rerun_is_a_no_op_and_workers_do_not_change_bytes(small_raw, small_dataset, tmp_path):
    before = read_manifest(DatasetPaths(small_dataset))["files"]
    again = build(small_raw, small_dataset)
    assert again.up_to_date
    other = build(small_raw, tmp_path / "two", workers=2)
    assert other.complete
    assert read_manifest(DatasetPaths(tmp_path / "two"))["files"] == before


def test_interrupted_build_resumes_to_identical_bytes(small_raw, small_dataset, tmp_path):
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        build(small_raw, out, source=Dies(demo_source(small_raw), 3, []))
    assert not (out / "manifest.json").exists()
    assert len(list((out / ".build" / "cells").glob("*/done.json"))) == 3
    res = build(small_raw, out)
    assert res.complete and res.cells_computed == 3
    assert read_manifest(DatasetPaths(out))["files"] == read_manifest(DatasetPaths(small_dataset))["files"]
    assert not (out / ".build").exists()


def test_a_rebuild_never_leaves_an_old_manifest_claiming_completeness(small_raw, small_dataset, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    victim = sorted((out / "morphologies").glob("*.swc"))[0]
    victim.write_text(victim.read_text() + "\n")  # the dataset changed on disk: rebuild
    with pytest.raises(KeyboardInterrupt):
        build(small_raw, out, source=Dies(demo_source(small_raw), 2, []))
    assert not (out / "manifest.json").exists()
    assert build(small_raw, out).complete
    assert read_manifest(DatasetPaths(out))["files"] == read_manifest(DatasetPaths(small_dataset))["files"]


def test_stale_cells_of_an_earlier_build_are_removed(small_raw, small_dataset, tmp_path):
    out = tmp_path / "ds"
    build(small_raw, out)
    (out / "morphologies" / "123.swc").write_text("0 0 0 0 0 1 -1\n")
    (out / "manifest.json").unlink()
    build(small_raw, out)
    assert not (out / "morphologies" / "123.swc").exists()
    assert validate_dataset(out) == []


def test_changed_input_file_rebuilds(raw_copy, tmp_path):
    out = tmp_path / "ds"
    assert build(raw_copy, out).complete
    assert build(raw_copy, out).up_to_date
    swc = sorted((raw_copy / "smoothed_skeletons_v185").glob("*_skeleton.h5"))[0]
    swc.touch()  # a replaced input file
    res = build(raw_copy, out)
    assert not res.up_to_date and res.cells_computed == 6
