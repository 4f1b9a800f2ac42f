"""Segments and the published definitions on a hand-made skeleton with known answers.

           soma label over three nodes (as when the soma is not collapsed)
    0 --2-- 1 --2-- 2 --4-- 3 --4-- 4 --4-- 5 --4-- 6          (basal from node 3)
                                    |
                                    +--3-- 7 --3-- 8           (basal side branch at node 4)

Edge lengths in um along x (node 7, 8 off to +y). Labels: 0, 1, 2 Somatic; the rest Basal.
Distances to the soma surface (node 2): 3: 4, 4: 8, 5: 12, 6: 16, 7: 11, 8: 14; to the root
they would be 4 um more. 10-um bins: {3, 4} in bin 0, {5, 6} and {7, 8} in bin 1 but not
connected within it: three basal segments named 3, 5 and 7.
"""

from __future__ import annotations

import numpy as np
import pytest

from builder.compute.mito_nodes import MitoNodes
from builder.compute.segments import SEGMENT_COLUMNS, cell_segments, segment_of_nodes
from builder.compute.skeleton import Tree

X = [0, 2, 4, 8, 12, 16, 20]
VERTS = np.array([[x * 1000.0, 0, 0] for x in X] + [[12000.0, 3000, 0], [12000.0, 6000, 0]])
PARENT = np.array([-1, 0, 1, 2, 3, 4, 5, 4, 7])
LABELS = np.array([0, 0, 0, 2, 2, 2, 2, 2, 2])
RADIUS = np.array([5000.0, 5000, 5000, 400, 300, 250, 250, 200, 200])  # nm (published rs = 2 x)
TREE = Tree(vertices=VERTS, parent=PARENT, root=0, radius=RADIUS)


def test_distance_is_to_the_soma_surface_not_the_root():
    d = TREE.distance_to_soma_um(LABELS)
    assert d == pytest.approx([0, 0, 0, 4, 8, 12, 16, 11, 14])
    assert TREE.distance_to_root_um() == pytest.approx(d + np.r_[0, 2, 4, [4] * 6])  # the root: 4 um more
    assert TREE.distance_to_leaf_um() == pytest.approx([18, 16, 14, 10, 6, 4, 0, 3, 0])  # via the side branch


def test_segments_are_connected_pieces_of_one_bin():
    seg = segment_of_nodes(PARENT, TREE.distance_to_soma_um(LABELS), LABELS)
    # soma nodes one piece (named by its node nearest the soma, the lowest id among the ties)
    assert seg.tolist() == [0, 0, 0, 3, 3, 5, 5, 7, 7]


def _segments(pairs: MitoNodes, volume: dict, inputs: np.ndarray):
    return cell_segments(9, TREE, LABELS, TREE.distance_to_soma_um(LABELS), pairs, volume, inputs).set_index("segment_id")


def test_segment_measures_by_hand():
    # mito 1: nodes 4, 5 (1 and 3 vertices; 0.4 um^3 inside the cell): 0.1 to segment 3, 0.3 to 5
    # mito 2: nodes 5, 6 (2 and 2 vertices; 0.2 um^3): shares the edge 6-5 with nothing, edge 5-4
    #         is not inside one segment; mito 3: nodes 5, 6 too -> edge 6-5 carries two
    pairs = MitoNodes.from_dicts({1: [4, 5], 2: [5, 6], 3: [5, 6]}, {1: [1, 3], 2: [2, 2], 3: [1, 1]})
    s = _segments(pairs, {1: 0.4, 2: 0.2, 3: 0.1}, np.array([3, 4, 4, 6, 7, 0]))
    assert sorted(s.reset_index().columns) == sorted(SEGMENT_COLUMNS)
    assert s.index.tolist() == [0, 3, 5, 7]
    assert s.compartment.tolist() == ["Somatic", "Basal", "Basal", "Basal"]
    # path length: edges with both nodes in the segment (the 3-2, 5-4 and 7-4 edges are in none)
    assert s.path_length_um.tolist() == pytest.approx([4, 4, 4, 3])
    b3, b5, b7 = s.loc[3], s.loc[5], s.loc[7]
    assert b3.bin_start_um == 0 and b5.bin_start_um == 10 and b7.bin_start_um == 10
    assert b3.min_dist_to_soma_um == 4 and b5.min_dist_to_soma_um == 12 and b7.min_dist_to_soma_um == 11
    assert b3.dist_to_leaf_um == 6 and b5.dist_to_leaf_um == 0 and b7.dist_to_leaf_um == 0
    # diameter: the published rs is twice the radius; median of the segment's nodes
    assert b3.median_diameter_um == pytest.approx(0.7) and b3.min_diameter_um == 0.6 and b3.max_diameter_um == 0.8
    # vertex-fraction volume: mito 1 gives 1/4 of 0.4 to node 4 (segment 3), 3/4 to node 5
    assert b3.mito_volume_um3 == pytest.approx(0.1)
    assert b5.mito_volume_um3 == pytest.approx(0.3 + 0.2 + 0.1)
    assert b5.mito_volume_per_um == pytest.approx(0.6 / 4) and b5.n_mito == 3 and b3.n_mito == 1
    # coverage: edge 6-5 (4 um) has mitochondria 2 and 3 on both ends: mito path length 8
    assert b5.mito_path_length_um == 8 and b5.linear_mito_coverage == pytest.approx(2.0) and b5.coverage_factor == 1.0
    assert b5.extra_coverage_length_um == 4 and b5.uncovered_length_um == 0
    assert b3.linear_mito_coverage == 0 and b3.uncovered_length_um == 4  # the 4-3 edge: mito 1 is on node 4 only
    # synapses on their nodes: 2 on segment 3 ... of 4 um; the soma one counts for the soma
    assert b3.n_synapses_in == 3 and b3.synapse_density_per_um == pytest.approx(0.75)
    assert b5.n_synapses_in == 1 and b7.n_synapses_in == 1 and s.loc[0].n_synapses_in == 1
    # the published cylinder density: synapses / (pi x median diameter x path length)
    assert b3.cylinder_synapse_density_per_um2 == pytest.approx(3 / (np.pi * 0.7 * 4))
    # frustum stand-ins for the mesh measures: the 4-3 edge, radii 0.4 and 0.3 um, 4 um long
    assert b3.frustum_volume_um3 == pytest.approx(np.pi * 4 * (0.16 + 0.12 + 0.09) / 3)
    assert b3.frustum_area_um2 == pytest.approx(np.pi * 0.7 * np.sqrt(16 + 0.01))


def test_an_equal_share_per_node_would_differ():
    """The alternative the dataset had before format 6 (volume shared equally per covered node)
    gives segment 3 half of mito 1, not a quarter: the test above would fail with it."""
    equal = MitoNodes.from_dicts({1: [4, 5]})
    s = _segments(equal, {1: 0.4}, np.zeros(0, np.int64))
    assert s.loc[3].mito_volume_um3 == pytest.approx(0.2)
