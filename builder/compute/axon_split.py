"""Compartment labels for a neuron that has none: axon and dendrite split from its synapses.

The split is MeshParty's synapse-flow method (``meshparty.meshwork.algorithms``): the
skeleton is cut at the node through which the most paths between input (post) and output
(pre) synapses run, at the base of that node's segment; the side with the larger fraction of
output synapses is the axon. The split quality (0 = mixed, 1 = inputs and outputs fully
segregated) is MeshParty's ``axon_split_quality`` formula (1 - entropy of the split / entropy of
the whole), computed here because MeshParty's version reads uninitialised memory
(``np.log2(..., where=...)`` without ``out``) when one side has no synapse of a kind.

Labels given: 0 Somatic within :data:`builder.schema.INFERRED_SOMA_UM` of the root (Euclidean),
else 1 Axonal on the axon side and 4 Unknown dendritic on the other (dendrite, but basal or apical is unknown).
Without both input and output synapses no split is possible: all non-somatic nodes get 5.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from builder.compute.skeleton import Tree
from builder.schema import AXON_SPLIT_METHOD, INFERRED_SOMA_UM, NM_PER_UM, Compartment


@dataclass(frozen=True)
class AxonSplit:
    """Node labels inferred from synapses and how they were found.

    Attributes
    ----------
    labels : ndarray, shape (N,), int64
        Dataset compartment codes (0, 1, 4 or 5).
    split_node : int
        Node where the skeleton was cut (-1 when no split was possible); the axon is the side
        of the cut with the larger fraction of output synapses.
    quality : float
        Segregation of inputs and outputs by the split, 0-1 (0 without a split).
    n_pre, n_post : int
        Output and input synapses used.
    """

    labels: np.ndarray
    split_node: int
    quality: float
    n_pre: int
    n_post: int

    def record(self) -> dict:
        """What the manifest keeps about this inference (no arrays)."""
        d = {k: v for k, v in asdict(self).items() if k != "labels"}
        d["quality"] = round(float(self.quality), 4)
        d["method"] = AXON_SPLIT_METHOD
        d["axon_nodes"] = int((self.labels == Compartment.AXONAL).sum())
        return d


def _entropy(counts: np.ndarray) -> float:
    """Weighted entropy (bits) of pre/post fractions over the rows of a (k, 2) count table."""
    counts = np.asarray(counts, np.float64)
    rows = counts.sum(axis=1)
    p = np.divide(counts, rows[:, None], out=np.zeros_like(counts), where=rows[:, None] > 0)
    plogp = np.zeros_like(p)
    np.log2(p, out=plogp, where=p > 0)
    return float(-((p * plogp).sum(axis=1) * rows / max(rows.sum(), 1)).sum())


def split_quality(is_axon: np.ndarray, pre_nodes: np.ndarray, post_nodes: np.ndarray) -> float:
    """How well a split segregates outputs from inputs: 1 - H(split) / H(whole), 0-1.

    Parameters
    ----------
    is_axon : ndarray, shape (N,), bool
    pre_nodes, post_nodes : ndarray of node indices (one per synapse)
    """
    a_pre, a_post = is_axon[pre_nodes].sum(), is_axon[post_nodes].sum()
    whole = _entropy(np.array([[len(pre_nodes), len(post_nodes)]]))
    if whole == 0:
        return 0.0
    split = _entropy(np.array([[a_pre, a_post], [len(pre_nodes) - a_pre, len(post_nodes) - a_post]]))
    return 1.0 - split / whole


def _meshparty_skeleton(tree: Tree) -> Any:  # a meshparty Skeleton
    from meshparty.skeleton import Skeleton

    child = np.flatnonzero(tree.parent >= 0)
    edges = np.column_stack([child, tree.parent[child]])
    return Skeleton(tree.vertices, edges, root=tree.root)


def split_axon_by_synapses(tree: Tree, pre_nodes: np.ndarray, post_nodes: np.ndarray) -> AxonSplit:
    """Label a neuron's nodes as soma, axon or dendrite from where its synapses sit.

    Parameters
    ----------
    tree : Tree
        The neuron's oriented skeleton, N nodes, nm, rooted at the soma.
    pre_nodes : ndarray, shape (p,), int
        Node of each output (presynaptic) synapse.
    post_nodes : ndarray, shape (q,), int
        Node of each input (postsynaptic) synapse.

    Returns
    -------
    AxonSplit
    """
    from meshparty.meshwork.algorithms import synapse_betweenness

    pre = np.asarray(pre_nodes, np.int64)
    post = np.asarray(post_nodes, np.int64)
    soma = np.linalg.norm(tree.vertices - tree.vertices[tree.root], axis=1) / NM_PER_UM <= INFERRED_SOMA_UM
    labels = np.full(tree.n, int(Compartment.UNKNOWN), np.int64)
    if len(pre) == 0 or len(post) == 0 or tree.n < 2:
        labels[soma] = Compartment.SOMATIC
        return AxonSplit(labels, -1, 0.0, len(pre), len(post))
    sk = _meshparty_skeleton(tree)
    flow = synapse_betweenness(sk, pre, post)
    top = np.flatnonzero(flow == flow.max())
    cut = int(top[np.argmin(sk.distance_to_root[top])])
    seg = sk.segments[sk.segment_map[cut]]
    cut = int(seg[np.argmin(sk.distance_to_root[seg])])  # base of the segment with the most flow
    below = np.zeros(tree.n, bool)
    below[sk.downstream_nodes(cut)] = True
    frac_below = below[pre].sum() / (below[pre].sum() + below[post].sum() + 1)
    frac_above = (~below[pre]).sum() / ((~below[pre]).sum() + (~below[post]).sum() + 1)
    is_axon = below if frac_below >= frac_above else ~below
    labels[:] = Compartment.UNKNOWN_DENDRITIC
    labels[is_axon] = Compartment.AXONAL
    labels[soma] = Compartment.SOMATIC
    quality = split_quality(is_axon, pre, post)
    return AxonSplit(labels, cut, quality, len(pre), len(post))
