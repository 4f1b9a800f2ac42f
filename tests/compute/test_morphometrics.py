"""Mesh morphometrics against analytic formulas and against trimesh, the field's reference."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from builder.compute.meshes import MeshBatch, mesh_problems
from builder.compute.morphometrics import mesh_morphometrics
from builder.schema import complexity_index


def capsule(radius_um: float, height_um: float, count=(64, 64), centre_nm=(0, 0, 0)) -> trimesh.Trimesh:
    m = trimesh.creation.capsule(height=height_um * 1000, radius=radius_um * 1000, count=list(count))
    m.apply_translation(centre_nm)
    return m


def batch_of(meshes: list[trimesh.Trimesh]) -> MeshBatch:
    return MeshBatch.from_meshes(np.arange(len(meshes)) + 10, [(m.vertices, m.faces) for m in meshes])


@pytest.mark.parametrize("r,h", [(0.15, 1.0), (0.3, 0.0), (0.1, 4.0)])
def test_capsule_volume_and_area_match_the_formulas(r, h):
    props = mesh_morphometrics(batch_of([capsule(r, h, centre_nm=(3e5, 2e5, 4e4))])).iloc[0]
    volume = np.pi * r**2 * h + 4 / 3 * np.pi * r**3
    area = 2 * np.pi * r * h + 4 * np.pi * r**2
    assert props.mesh_volume_um3 == pytest.approx(volume, rel=0.01)
    assert props.surface_area == pytest.approx(area, rel=0.01)
    assert props.pc1_um == pytest.approx(h + 2 * r, rel=0.01)
    assert props.pc2_um == pytest.approx(2 * r, rel=0.01)
    assert props.pc3_um == pytest.approx(2 * r, rel=0.01)
    assert [props.cx, props.cy, props.cz] == pytest.approx([3e5, 2e5, 4e4], abs=1.0)


def test_sphere_has_unit_sphericity_and_mci():
    props = mesh_morphometrics(batch_of([trimesh.creation.icosphere(subdivisions=5, radius=500.0)])).iloc[0]
    assert props.sphericity == pytest.approx(1.0, rel=0.01)
    # MCI = SA^3 / (16 pi^2 V^2) is 9 / (4 pi) for a sphere
    assert complexity_index(props.surface_area, props.mesh_volume_um3) == pytest.approx(9 / (4 * np.pi), rel=0.02)
    assert props.elongation == pytest.approx(1.0, rel=0.02)


def test_batch_matches_trimesh_on_random_rough_meshes():
    rng = np.random.default_rng(3)
    meshes = []
    for _ in range(20):
        m = capsule(rng.uniform(0.1, 0.4), rng.uniform(0, 3), count=(12, 12))
        m.vertices *= 1 + rng.normal(scale=0.03, size=(len(m.vertices), 1))  # roughen about the centre
        m.apply_transform(trimesh.transformations.random_rotation_matrix(rng.random(3)))
        m.apply_translation(rng.uniform(0, 4e5, 3))
        meshes.append(m)
    props = mesh_morphometrics(batch_of(meshes))
    for m, (_, p) in zip(meshes, props.iterrows()):
        assert m.volume > 0
        assert p.mesh_volume_um3 == pytest.approx(m.volume * 1e-9, rel=1e-9)
        assert p.surface_area == pytest.approx(m.area * 1e-6, rel=1e-9)
        assert [p.cx, p.cy, p.cz] == pytest.approx(m.center_mass, abs=1e-3)
        # long axis agrees with trimesh's principal inertia axis of smallest moment
        axis = m.principal_inertia_vectors[np.argmin(m.principal_inertia_components)]
        proj = (m.vertices - m.center_mass) @ axis / 1000
        assert p.pc1_um == pytest.approx(proj.max() - proj.min(), rel=1e-3)


def test_inverted_mesh_gives_positive_volume():
    m = capsule(0.2, 1.0, count=(16, 16))
    props = mesh_morphometrics(MeshBatch.from_meshes([1], [(m.vertices, m.faces[:, ::-1])]))
    assert props.mesh_volume_um3.iloc[0] == pytest.approx(m.volume * 1e-9)


def test_mesh_problems_names_each_defect():
    good = capsule(0.2, 1.0, count=(10, 10))
    v, f = good.vertices.copy(), good.faces.copy()
    nan_v = v.copy()
    nan_v[3] = np.nan
    oob = f.copy()
    oob[0, 0] = len(v) + 5
    degen = f.copy()
    degen[0, 1] = degen[0, 0]
    meshes = [
        (v, f),
        (v[:0], f[:0]),
        (nan_v, f),
        (v, oob),
        (v, degen),
        (v, f[1:]),  # a hole
        (v, np.concatenate([f, f[:1]])),  # a duplicated face
    ]
    reasons = mesh_problems(MeshBatch.from_meshes(range(len(meshes)), meshes))
    assert reasons[0] == ""
    assert "empty" in reasons[1]
    assert "non-finite" in reasons[2]
    assert "out of range" in reasons[3]
    assert "degenerate" in reasons[4]
    assert "not closed" in reasons[5]
    assert "not closed" in reasons[6]
    # the good mesh is accepted even when its neighbours in the batch are broken
    assert trimesh.Trimesh(v, f).is_watertight


def test_meshbatch_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(V, 3\)"):
        MeshBatch(np.array([1]), np.zeros((4, 2)), np.zeros((4, 3), int), np.array([0, 4]), np.array([0, 4]))
    with pytest.raises(ValueError, match="offsets"):
        MeshBatch(np.array([1]), np.zeros((4, 3)), np.zeros((4, 3), int), np.array([0, 3]), np.array([0, 4]))


def test_cluster_simplify_keeps_every_mesh_and_its_shape():
    from builder.compute.meshes import cluster_simplify

    rng = np.random.default_rng(1)
    meshes = [capsule(r, h, count=(24, 24), centre_nm=rng.uniform(0, 3e5, 3)) for r, h in [(0.05, 0.2), (0.15, 1.0), (0.3, 4.0)]]
    full = batch_of(meshes)
    simple = cluster_simplify(full)
    assert simple.n == full.n and (simple.ids == full.ids).all()
    assert (simple.n_faces > 0).all() and len(simple.vertices) < len(full.vertices) / 3
    assert simple.faces.min() >= 0 and (simple.faces < simple.n_vertices[simple.face_owner()][:, None]).all()
    a, b = mesh_morphometrics(full), mesh_morphometrics(simple)
    assert np.allclose(a[["cx", "cy", "cz"]], b[["cx", "cy", "cz"]], atol=30)  # nm
    assert np.allclose(a["pc1_um"], b["pc1_um"], rtol=0.15)
