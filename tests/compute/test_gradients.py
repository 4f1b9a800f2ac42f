"""Nearest mitochondrion along the skeleton and distance bins, on a hand-made skeleton.

    soma 0 --5um-- 1 --5um-- 2 --5um-- 3        (basal)
      \\--6um-- 4 --6um-- 5                      (axon)

Nearest mitochondria: mito 100 covers nodes 2, 3, mito 200 node 5. Bins (MicronsBinder
scripts/computedensitystats.py): mito 100 (0.4 um^3) on nodes 1, 2 with 3 and 1 vertices, mito
300 (0.2 um^3) on nodes 1, 2, 3 with 1, 1, 2 vertices, mito 200 (0.1 um^3) on node 5; the edge
2-1 has two mitochondria on both ends, the edge 3-2 one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.compute.gradients import BIN_COLUMNS, cell_totals, distance_bins, nearest_mito_along_skeleton
from builder.compute.mito_nodes import MitoNodes

PARENT = np.array([-1, 0, 1, 2, 0, 4])
EDGE = np.array([0.0, 5, 5, 5, 6, 6])
DIST = np.array([0.0, 5, 10, 15, 6, 12])
LABELS = np.array([0, 2, 2, 2, 1, 1])
RADIUS = np.array([5000.0, 100, 100, 300, 100, 100])
COV_NODE = np.array([2, 3, 5])
COV_MITO = np.array([100, 100, 200])


def test_nearest_mito_along_the_skeleton():
    mito, path = nearest_mito_along_skeleton(PARENT, EDGE, COV_NODE, COV_MITO, np.array([3, 1, 4, 0, 5, 2]))
    assert mito.tolist() == [100, 100, 200, 100, 200, 100]
    assert path.tolist() == [0.0, 5.0, 6.0, 10.0, 0.0, 0.0]


def test_nearest_mito_with_none_and_zero_length_edges():
    mito, path = nearest_mito_along_skeleton(PARENT, EDGE, np.zeros(0, int), np.zeros(0, int), np.array([1, 2]))
    assert mito.tolist() == [-1, -1] and np.isnan(path).all()
    edge = EDGE.copy()
    edge[4] = 0.0  # node 4 duplicates the soma node
    mito, path = nearest_mito_along_skeleton(PARENT, edge, COV_NODE, COV_MITO, np.array([0, 4]))
    assert mito.tolist() == [200, 200] and path == pytest.approx([6.0, 6.0])


def test_a_node_covered_by_two_mitochondria_counts_for_the_first_listed():
    mito, path = nearest_mito_along_skeleton(PARENT, EDGE, np.array([3, 3]), np.array([7, 9]), np.array([1]))
    assert mito.tolist() == [7] and path.tolist() == [10.0]


PAIRS = MitoNodes.from_dicts({100: [1, 2], 300: [1, 2, 3], 200: [5]}, {100: [3, 1], 300: [1, 1, 2], 200: [4]})
VOLUME = {100: 0.4, 200: 0.1, 300: 0.2}


def test_volume_is_split_by_vertex_fraction_and_edges_count_each_mitochondrion():
    vol = PAIRS.node_volume(VOLUME, 6)
    assert vol == pytest.approx([0, 0.3 + 0.05, 0.1 + 0.05, 0.1, 0, 0.1])  # not 0.2 + 0.067 each: an equal share
    assert PAIRS.edge_sharing(PARENT).tolist() == [0, 0, 2, 1, 0, 0]
    equal = MitoNodes.from_dicts(PAIRS.nodes_of())  # without counts: one share per node
    assert equal.node_volume(VOLUME, 6)[1] == pytest.approx(0.2 + 0.2 / 3)


def _bins() -> pd.DataFrame:
    syn_node = np.array([3, 1, 4, 0])
    is_in = np.array([True, True, False, True])
    return distance_bins(42, PARENT, EDGE, DIST, RADIUS, LABELS, PAIRS.node_volume(VOLUME, 6), PAIRS.edge_sharing(PARENT),
                         syn_node, is_in, ~is_in)  # fmt: skip


def test_distance_bins_known_answers():
    b = _bins().set_index(["compartment", "bin_start_um"])
    assert list(_bins().columns) == list(BIN_COLUMNS)
    assert (b["bin_end_um"] - b.index.get_level_values(1) == 10).all()
    assert set(b.index) == {("Basal", 0.0), ("Basal", 10.0), ("Axonal", 0.0), ("Axonal", 10.0), ("Somatic", 0.0)}
    basal1 = b.loc[("Basal", 10.0)]
    assert basal1.path_length_um == 10 and basal1.mean_radius_nm == 200
    assert basal1.mito_volume_um3 == pytest.approx(0.25) and basal1.mito_volume_per_um == pytest.approx(0.025)
    assert basal1.covered_length_um == 10 and basal1.coverage_factor == 1.0
    # published linear coverage: 5 um x 2 mitochondria + 5 um x 1 over 10 um of cable
    assert basal1.mito_path_length_um == 15 and basal1.linear_mito_coverage == pytest.approx(1.5)
    assert basal1.n_synapses_in == 1 and basal1.synapse_density_per_um == pytest.approx(0.1)
    basal0 = b.loc[("Basal", 0.0)]
    assert basal0.path_length_um == 5 and basal0.mito_volume_um3 == pytest.approx(0.35) and basal0.n_synapses_in == 1
    assert (
        basal0.coverage_factor == 0 and basal0.linear_mito_coverage == 0 and basal0.synapse_density_per_um == pytest.approx(0.2)
    )
    ax1 = b.loc[("Axonal", 10.0)]
    assert ax1.mito_volume_um3 == pytest.approx(0.1) and ax1.covered_length_um == 0 and ax1.path_length_um == 6
    assert b.loc[("Axonal", 0.0)].n_synapses_out == 1 and b.loc[("Axonal", 0.0)].n_synapses_in == 0
    soma = b.loc[("Somatic", 0.0)]  # the root carries no cable: ratios undefined, counts kept
    assert soma.path_length_um == 0 and soma.n_synapses_in == 1 and np.isnan(soma.synapse_density_per_um)
    assert np.isnan(soma.linear_mito_coverage)
    # conservation: every um of cable, um^3 of mitochondrion and synapse is in exactly one bin
    assert b.path_length_um.sum() == EDGE.sum() and b.mito_volume_um3.sum() == pytest.approx(0.7)
    assert b.n_synapses_in.sum() + b.n_synapses_out.sum() == 4


def test_cell_totals():
    t = cell_totals(_bins()).loc[42]
    assert t.mito_volume_um3 == pytest.approx(0.7) and t.n_synapses_in == 3 and t.n_synapses_out == 1
    assert t.mito_volume_per_um == pytest.approx(0.7 / 27) and t.coverage_factor == pytest.approx(10 / 27)
    assert t.linear_mito_coverage == pytest.approx(15 / 27) and t.basal_linear_mito_coverage == pytest.approx(1.0)
    assert t.basal_path_length_um == 15 and t.basal_coverage_factor == pytest.approx(10 / 15)
    assert t.axonal_mito_volume_per_um == pytest.approx(0.1 / 12)
    assert np.isnan(t.apical_path_length_um)  # no apical dendrite
