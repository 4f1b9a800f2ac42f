"""The demo speaks the release's dialect; the pipeline must recover the generator's truth.

The demo volume writes every file in the release's own units (voxels at 3.58 x 3.58 x 40 nm,
nominal 4-nm synapse nm columns and mitochondrion meshes, skeletons already in EM space) and
keeps its truth, in EM space, in ``demo_truth/``. Each test below guards one conversion: drop
it (or apply the nominal 4 nm instead) and that test fails.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from builder.compute.compartments import raw_label_edges
from builder.schema import EM_VOXEL_NM
from builder.sources.demo import TRUTH_DIR, demo_source
from builder.sources.published import MITO_TABLE, SKELETON_ARCHIVE, SYNAPSE_TABLE, read_mito_table

#: Rounding a position to a release voxel moves it by at most half a voxel.
HALF_VOXEL = np.asarray(EM_VOXEL_NM) / 2 + 1e-6


def _truth(raw, name: str, key: str) -> pd.DataFrame:
    return pd.read_parquet(raw / TRUTH_DIR / f"{name}.parquet").set_index(key)


def _table(ds, name: str, key: str) -> pd.DataFrame:
    return pd.read_parquet(ds / "tables" / f"{name}.parquet").drop_duplicates(key).set_index(key)


def _offsets(got: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    both = got[["x", "y", "z"]].join(truth[["x", "y", "z"]], rsuffix="_t", how="inner")
    assert len(both) == len(got)
    return np.abs(both[["x", "y", "z"]].to_numpy() - both[["x_t", "y_t", "z_t"]].to_numpy())


def test_soma_positions_from_pt_position_at_em_resolution(small_raw, small_dataset):
    """Guards: soma ``pt_position`` voxels -> nm at 3.58 x 3.58 x 40 (not x 4, not soma_*_nm)."""
    off = _offsets(_table(small_dataset, "cells", "cell_id"), _truth(small_raw, "cells", "cell_id"))
    assert (off <= HALF_VOXEL).all(), off.max(axis=0)


def test_synapse_positions_from_ctr_pos_vx_not_the_nominal_nm(small_raw, small_dataset):
    """Guards: synapse ``ctr_pos_*_vx`` -> nm at 3.58; the nominal ``ctr_pt_*_nm`` are not used."""
    off = _offsets(_table(small_dataset, "synapses", "synapse_id"), _truth(small_raw, "synapses", "synapse_id"))
    assert (off <= HALF_VOXEL).all(), off.max(axis=0)
    raw = pd.read_csv(small_raw / SYNAPSE_TABLE)  # the demo writes the release's nominal column
    assert np.array_equal(raw["ctr_pt_x_nm"], raw["ctr_pos_x_vx"] * 4)


def test_mitochondria_table_positions_at_em_resolution(small_raw):
    """Guards: mitochondria ``ctr_pos_*_vx`` -> nm at 3.58, and the table's own nm check."""
    issues = []
    table = read_mito_table(small_raw / MITO_TABLE, issues).set_index("mito_id")
    assert issues == []  # ctr_pos_*_nm = vx x 3.58 in every row, as in the release
    truth = _truth(small_raw, "mitochondria", "mito_id")
    off = _offsets(table.loc[table.index.isin(truth.index)], truth)
    assert (off <= HALF_VOXEL).all(), off.max(axis=0)
    assert len(pd.read_csv(small_raw / MITO_TABLE, nrows=1).columns) == 15


def test_meshes_scaled_from_the_nominal_layer_space(small_raw, small_dataset):
    """Guards: mesh vertices x (0.895, 0.895, 1) before measuring: areas, centres and volumes."""
    got = _table(small_dataset, "mitochondria", "mito_id")
    truth = _truth(small_raw, "mitochondria", "mito_id")
    meshed = got[got.mesh_missing == ""].join(truth, rsuffix="_t", how="inner")
    assert len(meshed) > 0.95 * len(got)
    assert np.allclose(meshed.surface_area, meshed.surface_area_t, rtol=2e-4)  # float32 bundles
    assert np.allclose(meshed.mesh_volume_um3, meshed.mesh_volume_um3_t, rtol=2e-4)
    assert np.abs(meshed[["x", "y", "z"]].to_numpy() - meshed[["x_t", "y_t", "z_t"]].to_numpy()).max() < 1.0
    # meshless ones are placed from the table, within half a voxel
    meshless = got[got.mesh_missing != ""]
    assert len(meshless) and (_offsets(meshless, truth) <= HALF_VOXEL).all()


def test_each_mitochondrion_covers_nodes_where_it_was_placed(small_raw, small_dataset):
    """Guards: meshes and skeletons in one space (skeletons unscaled, meshes scaled): a
    neurite mitochondrion covers nodes next to the node it was placed on (edges are ~1.2 um;
    without the mesh scaling it would lie ~30 um away)."""
    truth = _truth(small_raw, "mitochondria", "mito_id")
    truth = truth[truth.has_mesh]
    nodes = pd.read_parquet(small_dataset / "tables" / "skeleton_nodes.parquet")
    gaps = []
    for cid, t in truth.groupby("cell_id"):
        n = nodes[nodes.cell_id == cid].set_index("node_id")
        xyz = n[["x", "y", "z"]].to_numpy()
        dist, k = cKDTree(xyz).query(t[["node_x", "node_y", "node_z"]].to_numpy())
        assert dist.max() < 1.0  # the skeleton came through unscaled
        covered = json.loads((small_dataset / "nodes" / f"{cid}_associated_nodes.json").read_text())
        neurite = n["parent"].to_numpy()[k] >= 0  # somatic ones are placed on the root
        for mid, placed in zip(t.index[neurite], k[neurite]):
            where = n.loc[covered[str(mid)], ["x", "y", "z"]].to_numpy()
            gaps.append(np.linalg.norm(where - xyz[placed], axis=1).min())
    gaps = np.asarray(gaps)
    assert len(gaps) > 100 and np.median(gaps) < 1.0 and np.quantile(gaps, 0.95) < 3_000, np.quantile(gaps, [0.5, 0.95, 1])


def test_skeleton_radius_is_half_the_published_shape_diameter(small_raw, small_dataset):
    """Guards: the skeletons' ``rs`` vertex property is MeshParty's shape diameter (MicronsBinder
    scripts/branchdiameter.py reads it as the diameter): the SWC radius is rs / 2. Without the
    halving every segment's diameter here would double."""
    from meshparty import skeleton_io

    cid = int(pd.read_parquet(small_raw / TRUTH_DIR / "cells.parquet").cell_id.iloc[0])
    sk = skeleton_io.read_skeleton_h5(str(demo_source(small_raw).skeleton_paths(cid)[0]))
    assert set(sk.vertex_properties) == {"rs"}  # the release's property, no 'radius'
    nodes = pd.read_parquet(small_dataset / "tables" / "skeleton_nodes.parquet")
    radius = nodes.loc[nodes.cell_id == cid].sort_values("node_id")["radius"].to_numpy()
    assert np.allclose(radius, np.asarray(sk.vertex_properties["rs"]) / 2, atol=0.01)
    got = pd.read_parquet(small_dataset / "tables" / "segments.parquet").set_index(["cell_id", "segment_id"])
    truth = _truth(small_raw, "segments", "cell_id").reset_index().set_index(["cell_id", "segment_id"])
    both = got.join(truth, rsuffix="_t", how="inner")
    assert len(both) == len(truth)  # every true segment is found, with the same id
    assert np.allclose(both.median_diameter_um, both.median_diameter_um_t, atol=1e-4)


def test_mitochondrion_volume_inside_the_cell_from_the_overlap_table(small_raw, small_dataset):
    """Guards: the overlap table's ``vals`` (mip-1 voxels) x 4 = the volume inside the cell, which
    the published density analysis splits (mitochondria at the volume's edge poke out of it)."""
    got = _table(small_dataset, "mitochondria", "mito_id").join(
        _truth(small_raw, "mitochondria", "mito_id"), rsuffix="_t", how="inner"
    )
    assert np.allclose(got.volume_in_cell_um3, got.volume_in_cell_um3_t, rtol=0, atol=5 * 512.656e-9)
    cut = got.volume_in_cell_um3_t < 0.99 * got.mesh_volume_um3_t
    assert cut.sum() > 0 and (got.volume_in_cell_um3[cut] < got.volume_um3[cut]).all()


def test_segments_of_the_build_are_the_true_segments(small_raw, small_dataset):
    """Guards the whole chain from the release files to the published unit: the segments the
    build finds (ids, path lengths, distances, input synapses, vertex-weighted mitochondrial
    volume) are those the generator measured on its own geometry in EM space."""
    got = pd.read_parquet(small_dataset / "tables" / "segments.parquet").set_index(["cell_id", "segment_id"])
    truth = _truth(small_raw, "segments", "cell_id").reset_index().set_index(["cell_id", "segment_id"])
    both = got.join(truth, rsuffix="_t", how="inner")
    for c in ("path_length_um", "min_dist_to_soma_um", "dist_to_leaf_um"):
        assert np.allclose(both[c], both[f"{c}_t"], atol=1e-3), c
    assert (both.compartment == both.compartment_t).all()
    # synapses: rounded to voxels, a few land on the neighbouring segment
    assert (both.n_synapses_in - both.n_synapses_in_t).abs().max() <= 2
    assert both.n_synapses_in.sum() == pytest.approx(both.n_synapses_in_t.sum(), rel=0.01)
    # volumes: float32 meshes in nominal space, meshless mitochondria on their centre's node
    assert both.mito_volume_um3.sum() == pytest.approx(both.mito_volume_um3_t.sum(), rel=1e-3)
    close = np.isclose(both.mito_volume_um3, both.mito_volume_um3_t, rtol=0.02, atol=1e-3)
    assert close.mean() > 0.97, both.loc[~close, ["mito_volume_um3", "mito_volume_um3_t"]].head()


def test_median_distance_to_own_skeleton(small_dataset):
    """Synapses sit on their neurite's surface, mitochondria inside it."""
    nodes = pd.read_parquet(small_dataset / "tables" / "skeleton_nodes.parquet")
    syn = pd.read_parquet(small_dataset / "tables" / "synapses.parquet")
    mito = pd.read_parquet(small_dataset / "tables" / "mitochondria.parquet")
    d_syn, d_mito = [], []
    for cid, n in nodes.groupby("cell_id"):
        tree = cKDTree(n[["x", "y", "z"]].to_numpy())
        d_syn.append(tree.query(syn.loc[syn.cell_id == cid, ["x", "y", "z"]].to_numpy())[0])
        d_mito.append(tree.query(mito.loc[mito.cellid == cid, ["x", "y", "z"]].to_numpy())[0])
    assert np.median(np.concatenate(d_syn)) < 3_000 and np.median(np.concatenate(d_mito)) < 1_000


def test_skeleton_archive_unpacks_from_its_inner_folder(small_raw, tmp_path):
    """The demo ships only the archive (inner folder smoothed_skeletons_v185/), as the release does."""
    import shutil
    import tarfile

    with tarfile.open(small_raw / SKELETON_ARCHIVE) as tar:
        names = tar.getnames()
    assert names[0] == "smoothed_skeletons_v185" and all(n.startswith("smoothed_skeletons_v185") for n in names)
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw, ignore=shutil.ignore_patterns("smoothed_skeletons_v185"))
    assert not (raw / "smoothed_skeletons_v185").exists()
    src = demo_source(raw)  # making the source unpacks the archive
    assert src.skeleton_dir() == raw / "smoothed_skeletons_v185"
    before = src.fingerprint()
    assert demo_source(raw).fingerprint() == before  # a second run finds the same inputs
    h5 = next((raw / "smoothed_skeletons_v185").glob("*_skeleton.h5"))
    os.utime(h5, ns=(h5.stat().st_atime_ns, h5.stat().st_mtime_ns + 10**9))  # a skeleton replaced by hand
    assert demo_source(raw).fingerprint() != before


def test_an_archive_unpacked_by_hand_under_its_own_name_is_accepted(small_raw, tmp_path):
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    (raw / SKELETON_ARCHIVE).unlink()
    (raw / "smoothed_skeletons_v185").rename(raw / "211019_smoothed_skeletons")
    src = demo_source(raw)
    cid = int(pd.read_parquet(small_raw / TRUTH_DIR / "cells.parquet").cell_id.iloc[0])
    assert src.skeleton(cid).vertices.shape[1] == 3


@pytest.mark.parametrize(
    "labels, edges, expected",
    [
        ([0, 2, 2, 4, 1], [[1, 0], [2, 1], [3, 2], [4, 0]], {"0-1": 1, "0-2": 1, "2-4": 1}),
        ([3, 3], [[1, 0]], {}),
    ],
)
def test_raw_label_edges(labels, edges, expected):
    assert raw_label_edges(np.array(labels), np.array(edges)) == expected


def test_build_report_counts_raw_label_borders(small_dataset):
    report = json.loads((small_dataset / "build_report.json").read_text())
    edges = report["raw_label_edges"]["edges"]
    assert report["raw_label_edges"]["source_codes"]["4"] == "Unknown" and sum(edges.values()) > 0
    assert all(a < b for a, b in (tuple(map(int, k.split("-"))) for k in edges))
