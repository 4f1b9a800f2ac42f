"""The synthetic demo volume: layout, determinism, ids, and realism against Phase 1 figures."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from meshparty import skeleton_io

from builder.compute.meshes import mesh_problems
from builder.config import DemoParams
from builder.schema import DEMO_SEGMENT_ID_BASE, INHIBITORY_SUBTYPES, is_synthetic_segment_id
from builder.sources.demo import BOX_LO_UM, BOX_SIZE_UM, cell_roster, generate_demo_volume
from builder.sources.demo.mitos import MAX_RINGS
from builder.sources.demo.volume import MAX_MITOS_PER_CELL
from builder.sources.mesh_bundle import ABSENT_REASON, read_bundle
from builder.sources.published import (
    CELL_TYPE_TABLE,
    MESH_DIR,
    MITO_TABLE,
    SKELETON_DIR,
    SOMA_TABLE,
    SYNAPSE_TABLE,
)


def test_default_roster_meets_the_minimums():
    r = cell_roster(DemoParams())
    counts = r["cell_type"].value_counts()
    assert len(r) >= 40 and counts["pyramidal"] >= 24 and counts["inhibitory"] >= 8 and counts["astrocyte"] >= 4
    subtypes = set(r.loc[r.cell_type == "inhibitory", "cell_subtype"])
    assert len(subtypes) >= 3 and subtypes <= set(INHIBITORY_SUBTYPES)
    soma = r[["sx", "sy", "sz"]].to_numpy()
    assert (soma >= BOX_LO_UM).all() and (soma <= BOX_LO_UM + BOX_SIZE_UM).all()
    assert r["cell_id"].min() > DEMO_SEGMENT_ID_BASE


def test_ids_never_collide_with_real_ones():
    assert not is_synthetic_segment_id(648518346349538237)
    assert not is_synthetic_segment_id(864691135774053371)  # cubic millimetre
    assert is_synthetic_segment_id(DEMO_SEGMENT_ID_BASE + 1)


def test_mito_ids_stay_in_their_reserved_range(small_raw):
    ids = pd.read_csv(small_raw / MITO_TABLE)["mito_id"]
    assert ids.min() > 4_335_846  # largest real Phase 1 mito id in the published morphometrics
    assert ids.max() < 31_536_000  # pandas.read_json would read larger keys as dates
    assert ids.is_unique


def _digest(folder) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".csv", ".npy", ".tgz")
    }


def test_same_seed_same_volume_whatever_the_workers(small_raw, tmp_path):
    again = tmp_path / "again"
    generate_demo_volume(again, DemoParams(seed=7, cells=6), workers=2)
    assert _digest(again) == _digest(small_raw)
    other = tmp_path / "other"
    generate_demo_volume(other, DemoParams(seed=8, cells=6), workers=1)
    assert _digest(other)[SYNAPSE_TABLE] != _digest(small_raw)[SYNAPSE_TABLE]


def test_published_layout(small_raw):
    soma = pd.read_csv(small_raw / SOMA_TABLE)
    assert list(soma.columns) == ["id", "cell_type", "pt_position", "pt_root_id", "soma_x_nm", "soma_y_nm", "soma_z_nm"]
    assert soma["pt_position"].str.match(r"^\[\d+ \d+ \d+\]$").all()
    assert soma["pt_root_id"].duplicated().sum() == 1  # the release's duplicated-root defect
    cls = pd.read_csv(small_raw / CELL_TYPE_TABLE, index_col=0)
    assert {"centroid_x", "cell_segid", "cell_type", "cell_subtype"} <= set(cls.columns)
    assert {"microglia", "astrocyte"} <= set(cls["cell_subtype"])
    mito = pd.read_csv(small_raw / MITO_TABLE)
    assert {"mito_id", "mito_vx", "ctr_pos_x_vx", "bbox_beg_x_vx", "bbox_end_z_vx", "cellid"} <= set(mito.columns)
    syn = pd.read_csv(small_raw / SYNAPSE_TABLE)
    assert (syn["ctr_pt_x_nm"] == syn["ctr_pos_x_vx"] * 4).all() and (syn["ctr_pt_z_nm"] == syn["ctr_pos_z_vx"] * 40).all()


def test_skeletons_and_meshes(small_raw):
    cls = pd.read_csv(small_raw / CELL_TYPE_TABLE, index_col=0)
    mito = pd.read_csv(small_raw / MITO_TABLE)
    demo_cells = cls[cls.cell_type.isin(["pyramidal", "inhibitory"]) | (cls.cell_subtype == "astrocyte")]
    for cid, sub in demo_cells[["cell_segid", "cell_subtype"]].itertuples(index=False):
        sk = skeleton_io.read_skeleton_h5(str(small_raw / SKELETON_DIR / f"{cid}_skeleton.h5"))
        assert sk.root == 0 and len(sk.vertices) > 100
        edge_nm = np.linalg.norm(sk.vertices[sk.edges[:, 0]] - sk.vertices[sk.edges[:, 1]], axis=1)
        assert 5 <= len(sk.vertices) / (edge_nm.sum() / 1000) <= 10  # nodes per um of cable, as in the release
        has_labels = (small_raw / SKELETON_DIR / f"{cid}_skeleton_label.npy").exists()
        assert has_labels == (sub != "astrocyte")
        if has_labels:
            lab = np.load(small_raw / SKELETON_DIR / f"{cid}_skeleton_label.npy")
            assert set(np.unique(lab)) <= set(range(6)) and len(lab) == len(sk.vertices)
        ids = mito.loc[mito.cellid == cid, "mito_id"].to_numpy()
        batch, missing = read_bundle(small_raw / MESH_DIR / f"{cid}.h5", ids)
        assert set(batch.ids) | set(missing) == set(ids) and set(missing.values()) <= {ABSENT_REASON}
        assert len(missing) < 0.02 * len(ids)  # a few, as in a real mesh layer
        assert (mesh_problems(batch) == "").all()  # closed, watertight, finite
        # k (rings + 6) + 2 vertices, k = 8..16 around, 2..MAX_RINGS rings (demo/mitos.py)
        assert batch.n_vertices.min() >= 8 * 8 + 2 and batch.n_vertices.max() <= 16 * (MAX_RINGS + 6) + 2
        n = len(ids)
        # pyramidal cells: dendrites tiled at the planted volume per um (real cells: 502 on average)
        assert (100 if sub == "astrocyte" else 150) <= n <= MAX_MITOS_PER_CELL


@pytest.mark.slow
def test_default_demo_dataset_is_realistic(default_dataset):
    cells = pd.read_parquet(default_dataset / "tables" / "cells.parquet")
    mito = pd.read_parquet(default_dataset / "tables" / "mitochondria.parquet")
    syn = pd.read_parquet(default_dataset / "tables" / "synapses.parquet")
    pyr = cells.loc[cells.cell_type == "pyramidal", "cell_id"]
    med = mito[mito.cellid.isin(pyr)].groupby("compartment")[["volume_um3", "complexityindex"]].median()
    # real pyramidal medians (mito_morphometrics_363cells, benchmarks/fit_mito_shapes.py)
    real = {"Basal": (0.0947, 9.05), "Apical": (0.0630, 7.66), "Somatic": (0.0323, 5.15), "Axonal": (0.0133, 2.50)}
    for comp, (vol, mci) in real.items():
        assert abs(med.loc[comp, "volume_um3"] / vol - 1) < 0.25, (comp, med.loc[comp].tolist(), vol)
        assert abs(med.loc[comp, "complexityindex"] / mci - 1) < 0.25, (comp, med.loc[comp].tolist(), mci)
    # mitochondria lie along the cable: a dendritic one covers micrometres of it
    dend = mito[mito.cellid.isin(pyr) & mito.compartment.isin(["Basal", "Apical"])]
    assert dend["path_length_um"].median() > 1.0
    per_cell = mito[mito.cellid.isin(pyr)].groupby("cellid").size()
    assert per_cell.between(150, MAX_MITOS_PER_CELL).all() and 250 <= per_cell.mean() <= 700
    assert cells["cable_length_um"].between(300, 6000).all()
    # long tails as in real data: the 99th percentile is many times the median
    assert mito["volume_um3"].quantile(0.99) > 10 * mito["volume_um3"].median()
    # synapses among demo cells: reciprocal pairs and a few autapses
    inner = syn[(syn.synapse_type == "pre") & syn.post_root_id.isin(cells.cell_id)]
    pairs = set(zip(inner.pre_root_id, inner.post_root_id))
    assert any((b, a) in pairs for a, b in pairs)
    assert 1 <= (syn.synapse_type == "autapse").sum() <= 20
    assert (syn.loc[syn.synapse_type == "post", "compartment"] != "Axonal").mean() > 0.9
    assert (syn.loc[syn.synapse_type == "pre", "compartment"] == "Axonal").mean() > 0.9
