"""One cell's mitochondria table: meshed and mesh-less mitochondria side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import trimesh

from builder.compute.meshes import MeshBatch
from builder.compute.mito_table import mito_table
from builder.compute.skeleton import orient_tree
from builder.schema import BBOX_COLUMNS, MESH_MEASURE_COLUMNS, MITO_COLUMNS, MITO_VOXEL_UM3
from tests.compute.test_association import EDGES, LABELS, NODES


def _table(with_bbox: bool):
    tree = orient_tree(NODES, EDGES, 0, None)
    mesh = trimesh.creation.capsule(height=3000, radius=150)  # along z ...
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))  # ... now along x
    mesh.apply_translation([4000, 0, 0])  # on the basal branch, over nodes 1, 2 and 3
    mesh = mesh.subdivide_to_size(max_edge=300)  # vertices along the whole length, not only the caps
    batch = MeshBatch.from_meshes([11], [(mesh.vertices, mesh.faces)])
    mitos = pd.DataFrame(
        {"mito_id": [12, 11], "cellid": 7, "mito_vx": [1000, 2000], "x": [-1900.0, 4000.0], "y": [40.0, 0.0], "z": 0.0}
    )
    if with_bbox:
        mitos[list(BBOX_COLUMNS)] = [[-2100, -100, -120, -1700, 200, 120], [3700, -150, -150, 4300, 150, 150]]
    return mito_table(mitos, batch, {12: "not in the mesh layer"}, tree, LABELS, np.zeros(3), astrocyte=False), mesh


def test_meshless_mitochondrion_is_kept_with_table_measures():
    t, _ = _table(with_bbox=True)
    df = t.frame.set_index("mito_id")
    assert list(t.frame.columns) == list(MITO_COLUMNS) and list(t.frame.mito_id) == [11, 12]
    m = df.loc[12]
    assert m.mesh_missing == "not in the mesh layer" and m.compartment == "Axonal"  # nearest node 6
    assert np.isnan(m[list(MESH_MEASURE_COLUMNS)].astype(float)).all() and m.n_vertices == 0
    assert m.volume_um3 == 1000 * MITO_VOXEL_UM3
    assert (m.x, m.y) == (-1900.0, 40.0)
    assert np.allclose([m.bbox_x_um, m.bbox_y_um, m.bbox_z_um], [0.4, 0.3, 0.24])
    assert t.nodes[12].tolist() == [6] and m.n_nodes == 1
    meshed = df.loc[11]
    assert meshed.mesh_missing == "" and meshed.compartment == "Basal" and meshed.surface_area > 0
    assert meshed.path_length_um == 4.0 and np.isfinite(meshed.complexityindex)
    assert meshed.volume_um3 == 2000 * MITO_VOXEL_UM3 and t.nodes[11].tolist() == [1, 2, 3]


def test_bbox_falls_back_to_the_mesh():
    t, mesh = _table(with_bbox=False)
    df = t.frame.set_index("mito_id")
    assert np.allclose(df.loc[11, ["bbox_x_um", "bbox_y_um", "bbox_z_um"]].to_numpy(float), mesh.extents / 1000)
    assert df.loc[12, ["bbox_x_um", "bbox_y_um", "bbox_z_um"]].isna().all()  # neither a box nor a mesh


def test_astrocyte_rule_applies_to_meshless_too():
    tree = orient_tree(NODES, EDGES, 0, None)
    mitos = pd.DataFrame({"mito_id": [1, 2], "cellid": 3, "mito_vx": [10, 10], "x": [1000.0, 90_000.0], "y": 0.0, "z": 0.0})
    t = mito_table(mitos, MeshBatch.from_meshes([], []), {}, tree, LABELS, np.zeros(3), astrocyte=True)
    assert t.frame.compartment.tolist() == ["Somatic", "Branch"] and t.frame.far.tolist() == [False, True]
    assert (t.frame.mesh_missing == "no mesh returned by the mesh source").all()
