"""A Phase 1 build from the real published tables, with synthetic skeletons and meshes.

The raw directory holds the official soma table (checked against its recorded md5), the real
cell-type classification, the real soma-subgraph synapses as the synapse table and the real
mitochondria of pyramidal cell 648518346349538102 as the mitochondria table. Skeletons (the
release's are not in ../shared) are simple stars at the real soma positions; the 435 real
mitochondria get spheres of their real volume at their real centres.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import trimesh
from meshparty import skeleton, skeleton_io

from builder.__main__ import EXIT_OK, main
from builder.compute.meshes import MeshBatch
from builder.schema import EM_VOXEL_NM, NOMINAL_TO_EM, PUBLISHED_LABEL_NAMES, label_mapping, mito_vx_to_um3
from builder.sources.mesh_bundle import write_bundle
from builder.sources.published import (
    CELL_TYPE_TABLE,
    MESH_DIR,
    MITO_TABLE,
    OVERLAP_TABLE,
    SKELETON_DIR,
    SOMA_TABLE,
    SYNAPSE_TABLE,
    one_soma_per_cell,
    read_cell_types,
    read_soma_table,
    select_cells,
)

CELL = 648518346349538102
pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _star(soma_nm: np.ndarray, arm_nodes: int = 30, step_nm: float = 2000.0):
    """Soma + four straight arms: +y apical, -y axon, +x and -x basal (dataset codes)."""
    dirs = np.array([[0, 1, 0], [0, -1, 0], [1, 0, 0], [-1, 0, 0]], float)
    codes = [3, 1, 2, 2]
    verts, edges, labels = [soma_nm], [], [0]
    for d, code in zip(dirs, codes):
        prev = 0
        for k in range(1, arm_nodes + 1):
            verts.append(soma_nm + d * k * step_nm)
            edges.append([len(verts) - 1, prev])
            labels.append(code)
            prev = len(verts) - 1
    return np.array(verts), np.array(edges), np.array(labels)


def _assemble(realdata, raw):
    ofs, l23 = realdata / "OFS-EM-Connectomics", realdata / "layer23-volume"
    raw.mkdir()
    shutil.copy(ofs / "soma_valence_v185.csv", raw / SOMA_TABLE)
    shutil.copy(l23 / "220309_cell_type_classification.csv", raw / CELL_TYPE_TABLE)
    syn = pd.read_csv(ofs / "soma_subgraph_synapses_spines_v185.csv").drop(columns="spine_vol_um3")
    syn.to_csv(raw / SYNAPSE_TABLE, index=False)
    mito = pd.read_csv(l23 / f"mito_centroids_{CELL}_reconstructed.csv")
    nm = ["ctr_pos_x_nm", "ctr_pos_y_nm", "ctr_pos_z_nm"]
    table = mito[["mito_id", "mito_vx", "ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx", "cellid", *nm]]
    table.to_csv(raw / MITO_TABLE, index=False)
    overlaps = pd.DataFrame({"row_id": table.mito_id, "col_id": table.cellid, "vals": table.mito_vx // 4})
    overlaps.to_csv(raw / OVERLAP_TABLE)  # the published columns: an unnamed index, row_id, col_id, vals

    somata = one_soma_per_cell(read_soma_table(raw / SOMA_TABLE, []), raw / SOMA_TABLE, [])
    cells = select_cells(somata, read_cell_types(raw / CELL_TYPE_TABLE, []))
    to_published = {ours: pub for pub, ours in label_mapping(PUBLISHED_LABEL_NAMES).items()}
    (raw / SKELETON_DIR).mkdir()
    for c in cells.itertuples(index=False):
        v, e, lab = _star(np.array([c.x, c.y, c.z]))
        sk = skeleton.Skeleton(v, e, root=0, vertex_properties={"radius": np.full(len(v), 300.0)})
        skeleton_io.write_skeleton_h5(sk, str(raw / SKELETON_DIR / f"{c.cell_id}_skeleton.h5"))
        if c.cell_type == "pyramidal":  # interneurons and astrocytes: no label file
            np.save(raw / SKELETON_DIR / f"{c.cell_id}_skeleton_label.npy", np.vectorize(to_published.get)(lab))
    centres = mito[["ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx"]].to_numpy(float) * EM_VOXEL_NM
    radius_nm = np.cbrt(3 * mito_vx_to_um3(mito.mito_vx.to_numpy()) / (4 * np.pi)) * 1000
    ball = trimesh.creation.icosphere(subdivisions=2)
    # spheres in EM space, stored as the mesh layer serves them: in its nominal 4-nm space
    meshes = [((ball.vertices * r + c) / NOMINAL_TO_EM, ball.faces) for c, r in zip(centres, radius_nm)]
    write_bundle(raw / MESH_DIR / f"{CELL}.h5", MeshBatch.from_meshes(mito.mito_id.to_numpy(), meshes))
    return cells, mito, syn


def test_build_from_real_tables_runs_through(realdata, tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "ds"
    cells, mito, syn = _assemble(realdata, raw)
    code = main(["build", "--source", "phase1", "--offline", "--raw-dir", str(raw), "--out", str(out), "--workers", "2"])
    assert code == EXIT_OK
    report = json.loads((out / "build_report.json").read_text())
    assert report["cells_built"] == len(cells) and not report["skipped_cells"]
    built = pd.read_csv(out / "cell_type_classification_filtered.csv")
    assert built.cell_id.tolist() == cells.cell_id.tolist()
    assert built.cell_type.value_counts()["inhibitory"] == 33
    # the real mitochondria: all kept, real volumes, real centres (spheres: centroid = centre)
    m = pd.read_parquet(out / "tables" / "mitochondria.parquet").set_index("mito_id").loc[mito.mito_id]
    assert len(m) == 435 and (m.cellid == CELL).all() and (m.mesh_missing == "").all()
    assert np.allclose(m.volume_um3, mito.mito_vx.to_numpy() * 512.656e-9, rtol=1e-12)
    assert np.allclose(m[["x", "y", "z"]], mito[["ctr_pos_x_nm", "ctr_pos_y_nm", "ctr_pos_z_nm"]], atol=1.0)
    # the nominal-space spheres were scaled back: surface area of a sphere of the real volume
    sphere_area = 4 * np.pi * np.cbrt(3 * m.volume_um3.to_numpy() / (4 * np.pi)) ** 2
    assert np.allclose(m.surface_area, sphere_area, rtol=0.03)  # icosphere(2) vs a true sphere
    # synapses: real ids, nm from the published columns, both sides of a synapse between two cells
    s = pd.read_csv(out / "synapse_filtered.csv")
    ids = set(cells.cell_id)
    inside = syn[syn.pre_root_id.isin(ids) | syn.post_root_id.isin(ids)]
    assert set(s.synapse_id) == set(inside.id)
    pos = s.drop_duplicates("synapse_id").set_index("synapse_id").loc[inside.id, ["x", "y", "z"]].to_numpy()
    assert np.allclose(pos, inside[["ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx"]].to_numpy() * EM_VOXEL_NM)
    both = inside.pre_root_id.isin(ids) & inside.post_root_id.isin(ids) & (inside.pre_root_id != inside.post_root_id)
    assert len(s) == len(inside) + both.sum()
    # interneurons had no label file: their labels were inferred from their synapses, and recorded
    manifest = json.loads((out / "manifest.json").read_text())
    inferred = manifest["label_mapping"]["inferred"]
    inhibitory = set(cells.loc[cells.cell_type == "inhibitory", "cell_id"].astype(str))
    assert set(inferred) == inhibitory
    assert manifest["package_versions"]["cloud-volume"] != "not installed"
    assert report["input_checks"]["mito_cell_overlaps"].startswith("done: 0 ")
    n_pyr = int((cells.cell_type == "pyramidal").sum())  # star skeletons: soma -> apical, axon and two basal arms
    assert report["raw_label_edges"]["edges"] == {"0-1": n_pyr, "0-2": 2 * n_pyr, "0-3": n_pyr}
    issues = {i["id"]: i for i in report["input_issues"]}
    assert {648518346349525545, 648518346349525715, 648518346349536717} <= set(issues)  # two somata each
