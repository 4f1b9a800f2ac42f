"""Mitochondrion -> skeleton node association on a hand-made 7-node skeleton."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import trimesh

from builder.compute.association import (
    Association,
    associate,
    covered_path_length_um,
    majority_labels,
    nearest_nodes,
)
from builder.compute.meshes import MeshBatch
from builder.compute.skeleton import orient_tree

#       5
#       |            apical (3) toward -y
#       4
#       |
# 6 --- 0 --- 1 --- 2 --- 3      axon (1) to -x, soma 0, basal (2) to +x
NODES = np.array(
    [[0, 0, 0], [2000, 0, 0], [4000, 0, 0], [6000, 0, 0], [0, -2000, 0], [0, -4000, 0], [-2000, 0, 0]], float
)
EDGES = np.array([[1, 0], [2, 1], [3, 2], [4, 0], [5, 4], [6, 0]])
LABELS = np.array([0, 2, 2, 2, 3, 3, 1])


def box(centre, extents, subdivide=False) -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.box(extents=extents)
    if subdivide:
        m = m.subdivide()
    return m.vertices + np.asarray(centre, float), m.faces


@pytest.fixture()
def cell():
    tree = orient_tree(NODES, EDGES, root=0)
    meshes = [
        box((3000, 0, 0), (2400, 200, 200)),  # corners at x=1800 / 4200 -> nodes 1, 2
        box((0, -3000, 0), (200, 1600, 200)),  # y=-2200 / -3800 -> nodes 4, 5
        box((4000, 0, 0), (4400, 200, 200), subdivide=True),  # x=1800, 4000, 6200 -> 1, 2, 3
        box((-1200, 0, 0), (1600, 200, 200)),  # x=-400 / -2000 -> nodes 0, 6: a tie
    ]
    batch = MeshBatch.from_meshes([11, 12, 13, 14], meshes)
    node, _ = nearest_nodes(NODES, batch.vertices)
    return tree, batch, associate(batch.vertex_owner(), node, batch.n, len(NODES))


def test_covered_nodes(cell):
    _, _, assoc = cell
    assert [a.tolist() for a in assoc.split()] == [[1, 2], [4, 5], [1, 2, 3], [0, 6]]
    assert assoc.nodes_of(2).tolist() == [1, 2, 3]


def test_labels_by_majority(cell):
    _, _, assoc = cell
    # Basal, Apical, Basal, and the 1-1 tie (4 vertices each) goes to the lower code: Somatic
    assert majority_labels(assoc, LABELS).tolist() == [2, 3, 2, 0]


def test_tie_broken_by_vertex_count():
    # one mitochondrion covers node 0 (Somatic, 1 vertex) and node 6 (Axonal, 5 vertices)
    assoc = Association(np.array([0, 0]), np.array([0, 6]), np.array([1, 5]), 1)
    assert majority_labels(assoc, LABELS).tolist() == [1]
    # votes count distinct nodes: two Basal nodes beat one Axonal node with more vertices
    assoc = Association(np.array([0, 0, 0]), np.array([1, 2, 6]), np.array([1, 1, 50]), 1)
    assert majority_labels(assoc, LABELS).tolist() == [2]


def test_covered_path_length(cell):
    tree, _, assoc = cell
    lengths = covered_path_length_um(assoc, tree.parent, tree.edge_lengths_um())
    assert lengths == pytest.approx([2.0, 2.0, 4.0, 2.0])


def test_distances_to_root(cell):
    tree, _, _ = cell
    assert tree.distance_to_root_um() == pytest.approx([0, 2, 4, 6, 2, 4, 2])
    assert tree.cable_length_um() == pytest.approx(12.0)


def test_matches_a_per_vertex_loop_on_random_cells():
    rng = np.random.default_rng(0)
    nodes = rng.uniform(0, 1e4, size=(200, 3))
    labels = rng.integers(0, 6, size=200)
    owner = np.sort(rng.integers(0, 30, size=3000))
    verts = rng.uniform(0, 1e4, size=(3000, 3))
    node, _ = nearest_nodes(nodes, verts)
    assoc = associate(owner, node, 30, 200)
    for i in range(30):
        # the oracle: brute-force nearest node, one vertex at a time
        mine = [int(np.argmin(np.linalg.norm(nodes - v, axis=1))) for v in verts[owner == i]]
        assert assoc.nodes_of(i).tolist() == sorted(set(mine))
        votes = Counter(labels[n] for n in set(mine))
        top = max(votes.values()) if votes else 0
        assert votes.get(majority_labels(assoc, labels)[i], 0) == top
