"""Damaged raw input: each problem is reported by id and reason, everything else is built."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
from meshparty import skeleton_io

from builder.__main__ import EXIT_PARTIAL, main
from builder.schema import ALL_COMPARTMENT_STRINGS, MESH_MEASURE_COLUMNS
from builder.sources.mesh_bundle import ABSENT_REASON, read_bundle, write_bundle
from builder.sources.published import CELL_TYPE_TABLE, MESH_DIR, SKELETON_DIR, SYNAPSE_TABLE
from builder.store.validate import validate_dataset
from tests.conftest import SMALL


def demo_cells(raw) -> pd.DataFrame:
    cls = pd.read_csv(raw / CELL_TYPE_TABLE, index_col=0)
    keep = cls.cell_type.isin(["pyramidal", "inhibitory"]) | (cls.cell_subtype == "astrocyte")
    return cls.loc[keep].sort_values("cell_segid").reset_index(drop=True)


def run(raw, out) -> tuple[int, dict]:
    code = main(["build", "--raw-dir", str(raw), "--out", str(out), "--cells", str(SMALL.cells),
                 "--seed", str(SMALL.seed), "--workers", "1"])  # fmt: skip
    return code, json.loads((out / "build_report.json").read_text())


def skipped(report) -> dict[int, str]:
    return {c["cell_id"]: c["reason"] for c in report["skipped_cells"]}


def test_missing_corrupt_and_nan_skeletons_and_nan_synapse(raw_copy, tmp_path):
    cells = demo_cells(raw_copy)
    neurons = cells[cells.cell_type != "glia"].cell_segid.tolist()
    a, b, c = neurons[:3]
    skel = raw_copy / SKELETON_DIR
    (skel / f"{a}_skeleton.h5").unlink()
    (skel / f"{b}_skeleton.h5").write_bytes(b"\x89HDF\r\n garbage")
    sk = skeleton_io.read_skeleton_h5(str(skel / f"{c}_skeleton.h5"))
    v = sk.vertices.copy()
    v[5] = np.nan
    skeleton_io.write_skeleton_h5_by_part(
        str(skel / f"{c}_skeleton.h5"), v, sk.edges, sk.meta, vertex_properties=sk.vertex_properties, root=sk.root,
        overwrite=True,
    )  # fmt: skip
    syn = pd.read_csv(raw_copy / SYNAPSE_TABLE)
    bad_syn = int(syn.loc[0, "id"])
    syn.loc[0, "ctr_pos_x_vx"] = np.nan
    syn.to_csv(raw_copy / SYNAPSE_TABLE, index=False)

    code, report = run(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL and report["complete"] is False
    why = skipped(report)
    assert "missing skeleton" in why[a]
    assert "unreadable skeleton" in why[b]
    assert "NaN" in why[c]
    assert any(i["id"] == bad_syn and i["kind"] == "synapse" and i["dropped"] for i in report["input_issues"])
    built = pd.read_csv(tmp_path / "ds" / "cell_type_classification_filtered.csv")
    assert set(built.cell_id) == set(cells.cell_segid) - {a, b, c}
    assert validate_dataset(tmp_path / "ds") == []


def test_bad_labels_bad_mesh_bundle_and_one_broken_mitochondrion(raw_copy, tmp_path):
    cells = demo_cells(raw_copy)
    neurons = cells[cells.cell_type != "glia"].cell_segid.tolist()
    d, e, f = neurons[:3]
    lab = np.load(raw_copy / SKELETON_DIR / f"{d}_skeleton_label.npy")
    lab[10] = 9
    np.save(raw_copy / SKELETON_DIR / f"{d}_skeleton_label.npy", lab)
    (raw_copy / MESH_DIR / f"{e}.h5").write_bytes(b"not hdf5")
    batch, _ = read_bundle(raw_copy / MESH_DIR / f"{f}.h5")
    with h5py.File(raw_copy / MESH_DIR / f"{f}.h5") as h5:
        absent_f = h5["absent_mito_id"][()]
    faces = batch.faces.copy()
    faces = np.delete(faces, 0, axis=0)  # open the first mesh
    foff = batch.face_offsets.copy()
    foff[1:] -= 1
    broken_id = int(batch.ids[0])
    write_bundle(
        raw_copy / MESH_DIR / f"{f}.h5", type(batch)(batch.ids, batch.vertices, faces, batch.vertex_offsets, foff), absent_f
    )

    code, report = run(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL
    why = skipped(report)
    assert "unknown label value(s) [9]" in why[d]
    assert e not in why and f not in why  # cells without (some) meshes are still built
    meshless = pd.DataFrame(report["mitochondria_without_mesh"])
    meshless = meshless[meshless.reason != ABSENT_REASON]  # the demo's own mesh-less mitochondria
    assert set(meshless.cell_id) == {e, f}
    assert meshless.loc[meshless.cell_id == e, "reason"].str.contains("unreadable mesh bundle").all()
    assert meshless.loc[meshless.cell_id == f].to_dict("records") == [
        {"mito_id": broken_id, "cell_id": f, "reason": "mesh not closed (not watertight)"}
    ]
    mito = pd.read_parquet(tmp_path / "ds" / "tables" / "mitochondria.parquet").set_index("mito_id")
    assert (mito.cellid == f).sum() == batch.n + len(absent_f)  # the open mesh's mitochondrion is kept ...
    kept = mito.loc[broken_id]
    assert kept.mesh_missing == "mesh not closed (not watertight)"
    assert np.isnan(kept[list(MESH_MEASURE_COLUMNS)].astype(float)).all()  # ... without mesh measures
    assert kept.volume_um3 > 0 and kept.bbox_x_um > 0 and kept.compartment in ALL_COMPARTMENT_STRINGS
    no_bundle = mito[mito.cellid == e]
    assert len(no_bundle) == len(meshless[meshless.cell_id == e]) and no_bundle.surface_area.isna().all()
    assert (no_bundle.n_nodes == 1).all() and no_bundle.volume_um3.gt(0).all()
    meshes = pd.read_parquet(tmp_path / "ds" / "tables" / "mito_meshes.parquet", columns=["mito_id"])
    assert broken_id not in set(meshes.mito_id) and not set(no_bundle.index) & set(meshes.mito_id)
    assert validate_dataset(tmp_path / "ds") == []


def test_cycle_in_skeleton(raw_copy, tmp_path):
    cid = demo_cells(raw_copy).cell_segid.iloc[0]
    path = raw_copy / SKELETON_DIR / f"{cid}_skeleton.h5"
    sk = skeleton_io.read_skeleton_h5(str(path))
    edges = np.vstack([sk.edges, [[3, 40]]])
    skeleton_io.write_skeleton_h5_by_part(
        str(path), sk.vertices, edges, sk.meta, vertex_properties=sk.vertex_properties, root=sk.root, overwrite=True
    )
    code, report = run(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL and "cycle" in skipped(report)[cid]
