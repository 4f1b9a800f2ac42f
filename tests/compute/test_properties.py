"""Property-based tests: random small skeletons and closed meshes through the compute functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import trimesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from builder.compute.association import associate, covered_path_length_um, majority_labels, nearest_nodes
from builder.compute.axon_split import split_axon_by_synapses
from builder.compute.meshes import MeshBatch, mesh_problems
from builder.compute.mito_table import mito_table
from builder.compute.morphometrics import mesh_morphometrics
from builder.compute.skeleton import orient_tree
from builder.schema import ALL_COMPARTMENT_STRINGS

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
coords = st.floats(-50_000, 50_000, allow_nan=False, allow_infinity=False)


@st.composite
def trees(draw):
    """A random tree: node i > 0 hangs from a random earlier node; random root and positions (nm)."""
    n = draw(st.integers(1, 40))
    parents = [draw(st.integers(0, i - 1)) for i in range(1, n)]
    verts = draw(arrays(np.float64, (n, 3), elements=coords, unique=False))
    verts = verts + np.arange(n)[:, None] * 1e-3  # distinct positions
    edges = np.array([[i, p] for i, p in zip(range(1, n), parents)], np.int64).reshape(-1, 2)
    perm = draw(st.permutations(range(n)))  # node order must not matter
    perm = np.asarray(perm, np.int64)
    inv = np.argsort(perm)
    labels = np.asarray(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), np.int64)
    root = int(inv[0])
    return verts[perm], inv[edges] if len(edges) else edges, root, labels[perm]


@st.composite
def closed_meshes(draw):
    """1-4 closed meshes: convex hulls of random point clouds (nm), each with a random id."""
    k = draw(st.integers(1, 4))
    meshes = []
    for _ in range(k):
        centre = np.array([draw(coords) for _ in range(3)])
        pts = draw(arrays(np.float64, (draw(st.integers(8, 30)), 3), elements=st.floats(-400, 400)))
        pts = pts + np.random.default_rng(len(meshes)).normal(0, 50, pts.shape)  # general position
        hull = trimesh.convex.convex_hull(pts + centre)
        meshes.append((np.asarray(hull.vertices), np.asarray(hull.faces)))
    ids = np.asarray(draw(st.lists(st.integers(1, 10**9), min_size=k, max_size=k, unique=True)), np.int64)
    return MeshBatch.from_meshes(ids, meshes), meshes


@SETTINGS
@given(trees(), closed_meshes())
def test_association_and_morphometrics_invariants(tree_in, mesh_in):
    verts, edges, root, labels = tree_in
    batch, meshes = mesh_in
    tree = orient_tree(verts, edges, root)
    assert tree.parent[tree.root] == -1 and (tree.parent >= -1).all() and (tree.parent < tree.n).all()
    assert (tree.parent >= 0).sum() == tree.n - 1
    assert (mesh_problems(batch) == "").all()  # convex hulls are closed
    props = mesh_morphometrics(batch)
    ref = np.array([trimesh.Trimesh(v, f).volume for v, f in meshes]) * 1e-9
    assert (props.mesh_volume_um3 > 0).all() and np.allclose(props.mesh_volume_um3, ref, rtol=1e-6)
    assert (props.surface_area > 0).all() and (props.sphericity <= 1 + 1e-9).all()
    assert (props.pc1_um >= props.pc2_um - 1e-12).all() and (props.pc2_um >= props.pc3_um - 1e-12).all()

    vnode, _ = nearest_nodes(tree.vertices, batch.vertices)
    assert ((vnode >= 0) & (vnode < tree.n)).all()  # every vertex to an existing node
    assoc = associate(batch.vertex_owner(), vnode, batch.n, tree.n)
    for i in range(batch.n):
        owner = batch.vertex_owner() == i
        assert np.array_equal(assoc.nodes_of(i), np.unique(vnode[owner]))
    codes = majority_labels(assoc, labels)
    assert all(codes[i] in labels[assoc.nodes_of(i)] for i in range(batch.n))
    length = covered_path_length_um(assoc, tree.parent, tree.edge_lengths_um())
    assert (length >= 0).all() and (length <= tree.cable_length_um() + 1e-9).all()


@SETTINGS
@given(trees(), closed_meshes(), st.booleans())
def test_mito_table_invariants(tree_in, mesh_in, astrocyte):
    verts, edges, root, labels = tree_in
    batch, _ = mesh_in
    tree = orient_tree(verts, edges, root)
    lost = int(batch.ids[0])
    centres = mesh_morphometrics(batch)[["cx", "cy", "cz"]].to_numpy()
    mitos = pd.DataFrame(
        {"mito_id": batch.ids, "cellid": 1, "mito_vx": 1000, "x": centres[:, 0], "y": centres[:, 1], "z": centres[:, 2]}
    )
    t = mito_table(mitos, batch.subset(batch.ids != lost), {lost: "lost"}, tree, labels, tree.vertices[tree.root], astrocyte)
    df = t.frame
    assert sorted(df.mito_id) == sorted(batch.ids.tolist()) and (df.volume_um3 > 0).all()
    assert set(df.compartment) <= set(ALL_COMPARTMENT_STRINGS) | {"Somatic", "Branch"}
    assert (df.n_nodes >= 1).all() and all(len(t.nodes[m]) == n for m, n in zip(df.mito_id, df.n_nodes))
    assert all(((nodes >= 0) & (nodes < tree.n)).all() for nodes in t.nodes.values())
    assert df.set_index("mito_id").loc[lost, "mesh_missing"] == "lost"
    assert df.loc[df.mesh_missing == "", "surface_area"].gt(0).all()


@SETTINGS
@given(trees(), st.data())
def test_axon_split_labels_in_range(tree_in, data):
    verts, edges, root, _ = tree_in
    tree = orient_tree(verts, edges, root)
    node = st.integers(0, tree.n - 1)
    pre = np.asarray(data.draw(st.lists(node, max_size=15)), np.int64)
    post = np.asarray(data.draw(st.lists(node, max_size=15)), np.int64)
    split = split_axon_by_synapses(tree, pre, post)
    assert set(np.unique(split.labels)) <= {0, 1, 4, 5} and split.labels[tree.root] == 0
    assert 0.0 <= split.quality <= 1.0 + 1e-12
