"""Mitochondria on skeleton nodes: the (mitochondrion, node, vertex count) pairs of one cell and
the two per-node quantities the published analysis derives from them.

The pairs are MicronsBinder's ``mitotoskel`` table (``scripts/mitotoskel.py``
``add_associations``: for every mesh vertex of a mitochondrion, its nearest skeleton node,
counted): ``mito_id, node, n_vertices``. From them:

- a mitochondrion's volume is shared among nodes by the fraction of its vertices nearest each
  (``scripts/computedensitystats.py`` ``mitovolbygroup``: "each mitochondrion gives volume to a
  group proportional to the number of mesh associations it has with the skeleton nodes of that
  group"), see :meth:`MitoNodes.node_volume`;
- a skeleton edge counts once for every mitochondrion associated with both of its nodes
  (``mitocoveragebygroup``: ``len(set1.intersection(set2))``), see :meth:`MitoNodes.edge_sharing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MitoNodes:
    """The (mitochondrion, node) pairs of one cell.

    Attributes
    ----------
    mito_id : ndarray, shape (P,), int64
        Mitochondrion of each pair; pairs sorted by mito id, then node.
    node : ndarray, shape (P,), int64
        Skeleton node of each pair.
    n_vertices : ndarray, shape (P,), int64
        Mesh vertices of the mitochondrion nearest that node (0 for a mitochondrion without a
        mesh: it is placed on the node nearest its centre and gives it all its volume).
    """

    mito_id: np.ndarray
    node: np.ndarray
    n_vertices: np.ndarray

    @classmethod
    def from_dicts(cls, nodes: Mapping[int, np.ndarray], counts: Mapping[int, np.ndarray] | None = None) -> MitoNodes:
        """Pairs from ``{mito_id: node ids}`` and ``{mito_id: vertex counts}`` (same order).

        Without ``counts`` every pair counts one vertex (an equal share per covered node).
        """
        ids = sorted(int(m) for m in nodes)
        arrs = [np.asarray(nodes[m], np.int64).reshape(-1) for m in ids]
        sizes = np.array([len(a) for a in arrs], np.int64)
        node = np.concatenate(arrs) if arrs else np.zeros(0, np.int64)
        if counts is None:
            nv = np.ones(len(node), np.int64)
        else:
            parts = [np.asarray(counts[m], np.int64).reshape(-1) for m in ids]
            if any(len(p) != n for p, n in zip(parts, sizes)):
                raise ValueError("vertex counts and node lists differ in length")
            nv = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        mito = np.repeat(np.asarray(ids, np.int64), sizes)
        order = np.lexsort((node, mito))
        return cls(mito_id=mito[order], node=node[order], n_vertices=nv[order])

    def __len__(self) -> int:
        return len(self.node)

    def weights(self) -> np.ndarray:
        """Fraction of its mitochondrion's vertices on each pair's node, shape (P,), sums to 1
        per mitochondrion (equal shares where a mitochondrion has no vertex counts)."""
        uniq, inv = np.unique(self.mito_id, return_inverse=True)
        nv = self.n_vertices.astype(np.float64)
        total = np.bincount(inv, weights=nv, minlength=len(uniq))
        npairs = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total[inv] > 0, nv / total[inv], 1.0 / npairs[inv])

    def node_volume(self, volume_um3: Mapping[int, float], n_nodes: int) -> np.ndarray:
        """Mitochondrial volume held by each node (vertex-fraction split), shape (N,), um^3.

        Parameters
        ----------
        volume_um3 : mapping mito id -> volume, um^3
            The volume to split (the published analysis uses the volume inside the cell, from
            the overlap table, when it has one). NaN volumes count as 0.
        n_nodes : int
        """
        if not len(self):
            return np.zeros(n_nodes)
        ids, inv = np.unique(self.mito_id, return_inverse=True)  # one lookup per mitochondrion, not per pair
        vol = np.array([volume_um3[int(m)] for m in ids], np.float64)[inv]
        return np.bincount(self.node, weights=np.nan_to_num(vol * self.weights()), minlength=n_nodes)

    def edge_sharing(self, parent: np.ndarray) -> np.ndarray:
        """For each node's edge to its parent, the number of mitochondria associated with both
        of its nodes, shape (N,), int64 (0 at the root)."""
        parent = np.asarray(parent, np.int64)
        n = np.int64(len(parent))
        if not len(self):
            return np.zeros(len(parent), np.int64)
        key = self.mito_id * n + self.node  # sorted: pairs are sorted by mito, then node
        par = parent[self.node]
        pkey = self.mito_id * n + par
        pos = np.minimum(np.searchsorted(key, pkey), len(key) - 1)
        hit = (par >= 0) & (key[pos] == pkey)
        return np.bincount(self.node[hit], minlength=len(parent)).astype(np.int64)

    def nodes_of(self) -> dict[int, np.ndarray]:
        """``{mito_id: sorted node ids}``."""
        ids, start = np.unique(self.mito_id, return_index=True)
        return {int(m): a for m, a in zip(ids, np.split(self.node, start[1:]))}
