"""Axon / dendrite split of an unlabelled neuron from its synapses (MeshParty's synapse flow)."""

from __future__ import annotations

import numpy as np
import pytest

from builder.compute.axon_split import split_axon_by_synapses
from builder.compute.skeleton import orient_tree
from builder.schema import Compartment


def _neuron():
    """Soma at 0; a dendrite of 20 nodes along +x and an axon of 20 nodes along -x, 1 um apart."""
    x = np.r_[0, np.arange(1, 21), -np.arange(1, 21)] * 1000.0
    verts = np.c_[x, np.zeros_like(x), np.zeros_like(x)]
    dend = np.arange(1, 21)
    axon = np.arange(21, 41)
    edges = np.r_[np.c_[dend, np.r_[0, dend[:-1]]], np.c_[axon, np.r_[0, axon[:-1]]]]
    return orient_tree(verts, edges, 0, None), dend, axon


def test_inputs_on_one_side_outputs_on_the_other():
    tree, dend, axon = _neuron()
    split = split_axon_by_synapses(tree, pre_nodes=axon[8:], post_nodes=np.r_[dend[7:], dend[9:]])
    lab = split.labels
    assert (lab[axon[7:]] == Compartment.AXONAL).all()  # beyond the 7 um soma ball
    assert (lab[dend[7:]] == Compartment.UNKNOWN_DENDRITIC).all()
    assert (lab[np.r_[0, dend[:6], axon[:6]]] == Compartment.SOMATIC).all()
    assert split.quality == 1.0 and (split.n_pre, split.n_post) == (12, 24)
    assert split.split_node in (dend[0], axon[0])  # the cut is at the base of one of the two branches
    rec = split.record()
    assert rec["method"].startswith("meshparty") and rec["axon_nodes"] == 13


def test_mixed_synapses_give_lower_quality():
    tree, dend, axon = _neuron()
    clean = split_axon_by_synapses(tree, axon[8:], dend[7:]).quality
    mixed = split_axon_by_synapses(tree, np.r_[axon[8:], dend[10:13]], np.r_[dend[7:], axon[15:]]).quality
    assert 0 < mixed < clean


def test_no_outputs_no_split():
    tree, dend, _ = _neuron()
    split = split_axon_by_synapses(tree, np.array([], int), dend)
    assert split.split_node == -1 and split.quality == 0.0
    assert set(np.unique(split.labels)) == {Compartment.SOMATIC, Compartment.UNKNOWN}


@pytest.mark.filterwarnings("ignore:'where' used without 'out'")
def test_quality_matches_meshparty_where_meshparty_is_defined():
    """Same formula as meshparty's axon_split_quality on counts without zeros."""
    from meshparty.meshwork.algorithms import axon_split_quality

    from builder.compute.axon_split import split_quality

    rng = np.random.default_rng(0)
    for _ in range(20):
        is_axon = rng.random(50) < 0.5
        pre, post = rng.integers(0, 50, 30), rng.integers(0, 50, 40)
        if min(is_axon[pre].sum(), is_axon[post].sum(), (~is_axon[pre]).sum(), (~is_axon[post]).sum()) == 0:
            continue
        assert split_quality(is_axon, pre, post) == pytest.approx(axon_split_quality(is_axon, pre, post), abs=1e-12)
