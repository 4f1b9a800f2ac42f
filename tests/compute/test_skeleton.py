"""Skeleton validation and orientation."""

from __future__ import annotations

import numpy as np
import pytest

from builder.compute.skeleton import SkeletonError, orient_tree, swc_frame

V = np.array([[0, 0, 0], [1000, 0, 0], [2000, 0, 0], [0, 1000, 0]], float)


def test_orients_away_from_root_whatever_the_edge_direction():
    tree = orient_tree(V, np.array([[0, 1], [2, 1], [3, 0]]), root=1)
    assert tree.parent.tolist() == [1, -1, 1, 0]
    assert tree.distance_to_root_um() == pytest.approx([1, 0, 1, 1 + 1])


@pytest.mark.parametrize(
    "vertices,edges,root,match",
    [
        (V, np.array([[0, 1], [1, 2], [2, 0], [3, 0]]), 0, "cycle"),
        (V, np.array([[0, 1], [1, 2]]), 0, "disconnected"),
        (V, np.array([[0, 1], [1, 2], [3, 7]]), 0, "out of range"),
        (np.where(np.arange(12).reshape(4, 3) == 4, np.nan, V), np.array([[0, 1], [1, 2], [3, 0]]), 0, "NaN"),
        (V, np.array([[0, 1], [1, 1], [3, 0]]), 0, "self-loop"),
        (V, np.array([[0, 1], [1, 2], [3, 0]]), 9, "root"),
        (V[:0], np.zeros((0, 2)), 0, "no nodes"),
    ],
)
def test_rejects_what_is_not_a_tree(vertices, edges, root, match):
    with pytest.raises(SkeletonError, match=match):
        orient_tree(vertices, edges, root)


def test_swc_frame_columns_and_root():
    tree = orient_tree(V, np.array([[1, 0], [2, 1], [3, 0]]), 0, radius=np.array([5000, 300, 0, 200]))
    swc = swc_frame(tree, np.array([0, 2, 2, 3]))
    assert list(swc.columns) == ["node", "label", "x", "y", "z", "radius", "parent"]
    assert swc["parent"].tolist() == [-1, 0, 1, 0]
    assert swc["radius"].tolist() == [5000, 300, 0, 200]


@pytest.mark.parametrize("bad", [-50.0, np.inf, np.nan])
def test_negative_or_non_finite_radius_is_refused_by_node(bad):
    with pytest.raises(SkeletonError, match=r"1 node\(s\) with a negative or non-finite radius \(first: node 2"):
        orient_tree(V, np.array([[1, 0], [2, 1], [3, 0]]), 0, radius=np.array([5000, 300, bad, 200]))


def test_thin_tree_keeps_structure_and_one_node_per_um():
    from builder.compute.skeleton import thin_tree

    # root 0; a 60-node stem at 0.15 um; a branch point at node 30 with a 20-node side branch;
    # labels change from 2 to 4 at node 45
    n_stem, n_side = 60, 20
    parent = np.r_[-1, np.arange(0, n_stem - 1), 30, np.arange(n_stem, n_stem + n_side - 1)]
    dist = np.r_[np.arange(n_stem) * 0.15, 30 * 0.15 + (np.arange(n_side) + 1) * 0.15]
    labels = np.r_[np.zeros(1), np.full(44, 2), np.full(n_stem - 45, 4), np.full(n_side, 2)].astype(int)
    keep, new_parent = thin_tree(parent, dist, labels, spacing_um=1.0)
    kept = set(keep.tolist())
    assert {0, 30, n_stem - 1, n_stem + n_side - 1, 44, 45} <= kept  # root, branch, ends, label change
    assert len(keep) < 0.35 * len(parent)
    # every kept node's new parent is its nearest kept ancestor
    for k, p in zip(keep, new_parent):
        a = parent[k]
        while a >= 0 and a not in kept:
            a = parent[a]
        assert p == a
    # along the stem, kept nodes are at most 1 um + one step apart
    stem = np.sort([k for k in keep if k < n_stem])
    assert np.diff(dist[stem]).max() <= 1.0 + 0.15 + 1e-9


def test_thin_tree_on_a_dense_demo_cell(small_dataset):

    from explorer.data import ExplorerData

    data = ExplorerData.load(small_dataset)
    cid = int(data.ds.cells.sort_values("n_nodes").cell_id.iloc[-1])
    full = data.ds.skeleton_nodes(cid)
    thin = data.display_skeleton(cid)
    assert len(thin) < len(full) / 4  # about 6.7 nodes per um -> about 1 per um
    assert set(thin.parent[thin.parent >= 0]) <= set(thin.node_id)  # a tree of kept nodes
    assert int((thin.parent < 0).sum()) == 1
