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
    tree = orient_tree(V, np.array([[1, 0], [2, 1], [3, 0]]), 0, radius=np.array([5000, 300, np.nan, 200]))
    swc = swc_frame(tree, np.array([0, 2, 2, 3]))
    assert list(swc.columns) == ["node", "label", "x", "y", "z", "radius", "parent"]
    assert swc["parent"].tolist() == [-1, 0, 1, 0]
    assert swc["radius"].tolist() == [5000, 300, 0, 200]
