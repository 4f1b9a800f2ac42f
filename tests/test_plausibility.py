"""Implausible input is reported row by row with the reason, never kept in silence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from meshparty import skeleton_io

from builder.__main__ import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, main
from builder.compute.meshes import MeshBatch
from builder.sources.mesh_bundle import ABSENT_REASON, read_bundle, write_bundle
from builder.sources.published import MESH_DIR, MITO_TABLE, SKELETON_DIR, SYNAPSE_TABLE
from builder.store.validate import validate_dataset
from tests.test_bad_input import demo_cells, run
from tests.textedit import set_field


def test_non_positive_voxel_counts_are_set_aside(raw_copy, tmp_path):
    zero = set_field(raw_copy / MITO_TABLE, 5, "mito_vx", "0")
    negative = set_field(raw_copy / MITO_TABLE, 8, "mito_vx", "-120")
    raw = pd.read_csv(raw_copy / MITO_TABLE, usecols=["cellid"], dtype=str)
    n_raw = int(raw["cellid"].isin(demo_cells(raw_copy).cell_segid.astype(str)).sum())
    code, report = run(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL
    reasons = {i["id"]: i["reason"] for i in report["input_issues"] if i["dropped"]}
    assert reasons == {int(zero): "line 5: mito_vx 0 is not positive", int(negative): "line 8: mito_vx -120 is not positive"}
    mito = pd.read_parquet(tmp_path / "ds" / "tables" / "mitochondria.parquet", columns=["mito_id", "volume_um3"])
    assert (mito["volume_um3"] > 0).all() and len(mito) == n_raw - 2
    assert validate_dataset(tmp_path / "ds") == []


@pytest.mark.parametrize("bad", [-100.0, np.inf, np.nan])
def test_a_skeleton_with_a_bad_radius_is_set_aside(raw_copy, tmp_path, bad):
    cells = demo_cells(raw_copy)
    cid = int(cells[cells.cell_type == "pyramidal"].cell_segid.iloc[0])
    path = raw_copy / SKELETON_DIR / f"{cid}_skeleton.h5"
    sk = skeleton_io.read_skeleton_h5(str(path))
    props = {k: np.array(v, dtype=float) for k, v in sk.vertex_properties.items()}
    props["rs"][17] = bad
    skeleton_io.write_skeleton_h5_by_part(str(path), sk.vertices, sk.edges, sk.meta, vertex_properties=props,
                                          root=sk.root, overwrite=True)  # fmt: skip
    code, report = run(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL
    [skip] = report["skipped_cells"]
    assert skip["cell_id"] == cid and "1 node(s) with a negative or non-finite radius (first: node 17" in skip["reason"]
    assert report["cells_built"] == len(cells) - 1
    assert validate_dataset(tmp_path / "ds") == []  # what was built is valid: no SWC radius -50 or inf


@pytest.mark.parametrize("table", [SYNAPSE_TABLE, MITO_TABLE])
def test_a_table_with_a_header_and_no_rows_is_refused(raw_copy, tmp_path, capsys, table):
    path = raw_copy / table
    path.write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n")
    code = main(["build", "--raw-dir", str(raw_copy), "--out", str(tmp_path / "ds"), "--cells", "6", "--seed", "7",
                 "--workers", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and f"{path}: the table has a header but no rows" in err
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_a_mesh_far_from_its_mitochondrion_is_not_measured(raw_copy, tmp_path):
    cells = demo_cells(raw_copy)
    cid = int(cells[cells.cell_type == "pyramidal"].cell_segid.iloc[1])
    path = raw_copy / MESH_DIR / f"{cid}.h5"
    import h5py

    with h5py.File(path) as h5:
        absent = h5["absent_mito_id"][()]
    batch, _ = read_bundle(path)
    meshes = [batch.mesh(i) for i in range(batch.n)]
    v, f = meshes[2]
    meshes[2] = (v + np.array([20_000.0, 0, 0]), f)  # 20 um away: another object's mesh
    write_bundle(path, MeshBatch.from_meshes(batch.ids, meshes), absent)
    code, report = run(raw_copy, tmp_path / "ds")
    assert code == EXIT_OK
    far = {m["mito_id"]: m["reason"] for m in report["mitochondria_without_mesh"] if m["reason"] != ABSENT_REASON}
    assert list(far) == [int(batch.ids[2])] and "from the mitochondrion's centre in the table" in far[int(batch.ids[2])]
    mito = pd.read_parquet(tmp_path / "ds" / "tables" / "mitochondria.parquet").set_index("mito_id")
    assert np.isnan(mito.loc[int(batch.ids[2]), "surface_area"]) and mito.loc[int(batch.ids[2]), "volume_um3"] > 0
