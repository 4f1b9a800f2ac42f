"""Nearest mitochondrion along the skeleton and distance bins, on a hand-made skeleton.

    soma 0 --5um-- 1 --5um-- 2 --5um-- 3        (basal)
      \\--6um-- 4 --6um-- 5                      (axon)

mito 100 covers nodes 2, 3 (0.4 um^3); mito 200 covers node 5 (0.1 um^3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.compute.gradients import BIN_COLUMNS, cell_totals, distance_bins, nearest_mito_along_skeleton

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


def _bins() -> pd.DataFrame:
    syn_node = np.array([3, 1, 4, 0])
    is_in = np.array([True, True, False, True])
    return distance_bins(42, PARENT, EDGE, DIST, RADIUS, LABELS, [np.array([2, 3]), np.array([5])],
                         np.array([0.4, 0.1]), syn_node, is_in, ~is_in)  # fmt: skip


def test_distance_bins_known_answers():
    b = _bins().set_index(["compartment", "bin_start_um"])
    assert list(_bins().columns) == list(BIN_COLUMNS)
    assert (b["bin_end_um"] - b.index.get_level_values(1) == 10).all()
    assert set(b.index) == {("Basal", 0.0), ("Basal", 10.0), ("Axonal", 0.0), ("Axonal", 10.0), ("Somatic", 0.0)}
    basal1 = b.loc[("Basal", 10.0)]
    assert basal1.path_length_um == 10 and basal1.mean_radius_nm == 200
    assert basal1.mito_volume_um3 == pytest.approx(0.4) and basal1.mito_volume_per_um == pytest.approx(0.04)
    assert basal1.covered_length_um == 5 and basal1.coverage_factor == 0.5
    assert basal1.n_synapses_in == 1 and basal1.synapse_density_per_um == pytest.approx(0.1)
    basal0 = b.loc[("Basal", 0.0)]
    assert basal0.path_length_um == 5 and basal0.mito_volume_um3 == 0 and basal0.n_synapses_in == 1
    assert basal0.coverage_factor == 0 and basal0.synapse_density_per_um == pytest.approx(0.2)
    ax1 = b.loc[("Axonal", 10.0)]
    assert ax1.mito_volume_um3 == pytest.approx(0.1) and ax1.covered_length_um == 0 and ax1.path_length_um == 6
    assert b.loc[("Axonal", 0.0)].n_synapses_out == 1 and b.loc[("Axonal", 0.0)].n_synapses_in == 0
    soma = b.loc[("Somatic", 0.0)]  # the root carries no cable: ratios undefined, counts kept
    assert soma.path_length_um == 0 and soma.n_synapses_in == 1 and np.isnan(soma.synapse_density_per_um)
    # conservation: every um of cable, um^3 of mitochondrion and synapse is in exactly one bin
    assert b.path_length_um.sum() == EDGE.sum() and b.mito_volume_um3.sum() == pytest.approx(0.5)
    assert b.n_synapses_in.sum() + b.n_synapses_out.sum() == 4


def test_cell_totals():
    t = cell_totals(_bins()).loc[42]
    assert t.mito_volume_um3 == pytest.approx(0.5) and t.n_synapses_in == 3 and t.n_synapses_out == 1
    assert t.mito_volume_per_um == pytest.approx(0.5 / 27) and t.coverage_factor == pytest.approx(5 / 27)
    assert t.basal_path_length_um == 15 and t.basal_coverage_factor == pytest.approx(5 / 15)
    assert t.axonal_mito_volume_per_um == pytest.approx(0.1 / 12)
    assert np.isnan(t.apical_path_length_um)  # no apical dendrite
