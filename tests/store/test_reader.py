"""The reader: Parquet and file layouts agree, archives suffice, navis neurons, clear errors."""

from __future__ import annotations

import doctest
import shutil

import navis
import numpy as np
import pandas as pd
import pytest

import builder.store.reader as reader_module
from builder.errors import DatasetError
from builder.store.reader import Dataset


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False, check_exact=True)


@pytest.fixture(scope="module")
def both(small_dataset):
    return Dataset.open(small_dataset), Dataset.open(small_dataset, layout="files")


def test_parquet_and_file_layouts_give_identical_frames(both):
    p, f = both
    assert (p.layout, f.layout) == ("parquet", "files")
    _same(p.cells, f.cells)
    _same(p.mitochondria, f.mitochondria)
    _same(p.synapses, f.synapses)
    for cid in p.cells.cell_id:
        _same(p.skeleton_nodes(cid), f.skeleton_nodes(cid))
    _same(p.skeleton_nodes(), f.skeleton_nodes())
    assert len(p.skeleton_nodes()) == p.cells.n_nodes.sum()


def test_round_trip_equals_what_was_written(small_dataset, both):
    p, _ = both
    written = pd.read_csv(small_dataset / "cell_type_classification_filtered.csv", float_precision="round_trip")
    _same(p.cells[list(written.columns)], written)
    cid, ctype = p.cells.iloc[0][["cell_id", "cell_type"]]
    csv = pd.read_csv(small_dataset / "microns" / f"{ctype}_{cid}.csv", float_precision="round_trip")
    _same(p.cell_mitochondria(cid), csv.fillna({"mesh_missing": ""}))  # pandas reads an empty reason as NaN
    swc = np.loadtxt(small_dataset / "morphologies" / f"{cid}.swc")
    nodes = p.skeleton_nodes(cid)
    assert np.array_equal(nodes[["node_id", "label", "x", "y", "z", "radius", "parent"]].to_numpy(), swc)
    assoc = pd.read_json(small_dataset / "nodes" / f"{cid}_associated_nodes.json", typ="series")
    assert p.associations(cid) == {int(k): list(v) for k, v in assoc.items()}


def test_archives_alone_are_enough(small_dataset, both, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    for folder in ("microns", "morphologies", "nodes", "tables"):
        shutil.rmtree(ds / folder)
    a = Dataset.open(ds)
    assert a.layout == "files" and not a.has_meshes
    p, _ = both
    _same(a.mitochondria, p.mitochondria)
    _same(a.cells, p.cells)
    cid = int(p.cells.cell_id.iloc[1])
    assert a.associations(cid) == p.associations(cid)


def test_navis_neuron_matches_the_swc(small_dataset, both):
    p, _ = both
    for cid in p.cells.cell_id:
        n = p.neuron(cid)
        ref = navis.read_swc(small_dataset / "morphologies" / f"{cid}.swc")
        assert n.n_nodes == ref.n_nodes and n.cable_length == pytest.approx(ref.cable_length, rel=1e-6)
        got = n.nodes.set_index("node_id").sort_index()
        assert got["label"].tolist() == ref.nodes.set_index("node_id").sort_index()["label"].tolist()
        assert set(got["compartment"]) <= {"Somatic", "Axonal", "Basal", "Apical", "Unknown dendritic", "Unknown"}
        assert len(n.connectors) == len(p.cell_synapses(cid))
        assert n.connectors["node_id"].isin(got.index).all()
        assert len(n.mitochondria) == len(p.cell_mitochondria(cid))
        assert all(len(ids) == k for ids, k in zip(n.mitochondria.node_ids, n.mitochondria.n_nodes))
        assert n.soma == int(got.index[got.parent_id < 0][0])


def test_errors_name_the_file_or_id(small_dataset, tmp_path, both):
    p, _ = both
    with pytest.raises(DatasetError, match="cell 42 is not in the dataset"):
        p.neuron(42)
    with pytest.raises(DatasetError, match="python -m builder"):
        Dataset.open(tmp_path)
    ds = tmp_path / "damaged"
    shutil.copytree(small_dataset, ds)
    shutil.rmtree(ds / "tables")
    victim = sorted((ds / "morphologies").glob("*.swc"))[0]
    victim.unlink()
    with pytest.raises(DatasetError, match=f"{victim.name}: missing"):
        Dataset.open(ds)
    shutil.rmtree(ds / "morphologies")
    (ds / "morphologies.tar.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(DatasetError, match="morphologies.tar.gz: damaged archive"):
        Dataset.open(ds)


def test_docstring_examples_run(small_dataset):
    result = doctest.testmod(reader_module, extraglobs={"dataset_path": small_dataset}, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0


def test_both_layouts_give_the_same_nearest_mitochondria_and_bins(both):
    p, f = both
    _same(p.distance_bins, f.distance_bins)
    assert p.synapses["nearest_mito_id"].notna().any()
