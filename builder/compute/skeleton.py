"""Skeleton graphs: validation, orientation from the soma, path distances, SWC rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from builder.schema import NM_PER_UM, SWC_COLUMNS


class SkeletonError(ValueError):
    """The skeleton is not a single tree rooted at the soma (message says how)."""


@dataclass(frozen=True)
class Tree:
    """A skeleton oriented away from its root (the soma).

    Attributes
    ----------
    vertices : ndarray, shape (N, 3), float64
        Node positions in nm.
    parent : ndarray, shape (N,), int64
        Parent node of each node, -1 at the root.
    root : int
        Root node index.
    radius : ndarray, shape (N,), float64
        Node radii in nm.
    """

    vertices: np.ndarray
    parent: np.ndarray
    root: int
    radius: np.ndarray

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.vertices)

    def edge_lengths_um(self) -> np.ndarray:
        """Length of the edge from each node to its parent (0 at the root), shape (N,), um."""
        par = np.where(self.parent < 0, np.arange(self.n), self.parent)
        return np.linalg.norm(self.vertices - self.vertices[par], axis=1) / NM_PER_UM

    def cable_length_um(self) -> float:
        """Total cable length in um."""
        return float(self.edge_lengths_um().sum())

    def graph(self) -> sparse.csr_matrix:
        """The tree as a weighted sparse graph (child -> parent, edge lengths in um), shape (N, N).

        Zero-length edges (duplicated nodes) would vanish from a sparse matrix: they are kept
        with a weight of 1e-12 um.
        """
        child = np.flatnonzero(self.parent >= 0)
        w = self.edge_lengths_um()[child]
        w = np.where(w > 0, w, 1e-12)
        return sparse.csr_matrix((w, (child, self.parent[child])), shape=(self.n, self.n))

    def distance_to_root_um(self) -> np.ndarray:
        """Path distance of every node to the root along the tree, shape (N,), um."""
        d = csgraph.dijkstra(self.graph(), directed=False, indices=self.root)
        return np.where(d < 1e-9, 0.0, d)

    def distance_to_soma_um(self, labels: np.ndarray) -> np.ndarray:
        """Path distance of every node to the nearest soma-labelled node (the soma surface), um.

        The published definition: MicronsBinder
        ``notebooks/vignette_analysis/mitochondria/lib/compartment.py``
        ``compute_node_distance_to_soma`` (one Dijkstra from every node labelled 0, the minimum
        over them), used for every distance of its analysis. Soma nodes are at 0. A skeleton
        without a soma-labelled node is measured from its root instead.

        Parameters
        ----------
        labels : ndarray, shape (N,), int
            Compartment codes (0 = Somatic).

        Returns
        -------
        ndarray, shape (N,), float64, um
        """
        soma = np.flatnonzero(np.asarray(labels) == 0)
        if not len(soma):
            return self.distance_to_root_um()
        d = csgraph.dijkstra(self.graph(), directed=False, indices=soma, min_only=True)
        return np.where(d < 1e-9, 0.0, d)

    def distance_to_leaf_um(self) -> np.ndarray:
        """Path distance of every node to the nearest end point (a node without children), um.

        As MicronsBinder's ``lib/skel.py`` ``path_length_to_leaves`` (MeshParty's
        ``end_points``: nodes with no children; distances along the undirected tree, so the
        nearest leaf may lie on another branch).

        Returns
        -------
        ndarray, shape (N,), float64, um
        """
        has_child = np.zeros(self.n, bool)
        has_child[self.parent[self.parent >= 0]] = True
        leaves = np.flatnonzero(~has_child)
        d = csgraph.dijkstra(self.graph(), directed=False, indices=leaves, min_only=True)
        return np.where(d < 1e-9, 0.0, d)


def orient_tree(vertices: np.ndarray, edges: np.ndarray, root: int, radius: np.ndarray | None = None) -> Tree:
    """Check that an undirected skeleton is one tree and orient it away from ``root``.

    Parameters
    ----------
    vertices : ndarray, shape (N, 3)
        Node positions in nm; must be finite.
    edges : ndarray, shape (E, 2)
        Undirected edges as node index pairs.
    root : int
        Index of the soma node.
    radius : ndarray, shape (N,), optional
        Node radii in nm (missing -> 0); a negative or non-finite one is an error.

    Returns
    -------
    Tree

    Raises
    ------
    SkeletonError
        Non-finite coordinates, a negative or non-finite radius, an edge index out of range, a
        self loop, a cycle, or nodes not connected to the root.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    n = len(vertices)
    if n == 0:
        raise SkeletonError("skeleton has no nodes")
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise SkeletonError(f"vertices must have shape (N, 3), got {vertices.shape}")
    bad = np.flatnonzero(~np.isfinite(vertices).all(axis=1))
    if len(bad):
        raise SkeletonError(f"{len(bad)} node(s) with NaN/inf coordinates (first: node {bad[0]})")
    if not 0 <= root < n:
        raise SkeletonError(f"root {root} is not a node index (0..{n - 1})")
    if len(edges) and (edges.min() < 0 or edges.max() >= n):
        raise SkeletonError(f"edge index out of range 0..{n - 1}")
    if np.any(edges[:, 0] == edges[:, 1]):
        raise SkeletonError("self-loop edge")
    und = np.sort(edges, axis=1)
    if len(np.unique(und, axis=0)) != len(und):
        raise SkeletonError("duplicated edge")
    g = sparse.csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    ncomp, comp = csgraph.connected_components(g, directed=False)
    if ncomp > 1:
        k = int(np.sum(comp != comp[root]))
        raise SkeletonError(f"{ncomp} disconnected pieces ({k} nodes not connected to the root)")
    if len(edges) != n - 1:
        raise SkeletonError(f"graph has a cycle ({len(edges)} edges for {n} nodes; a tree has {n - 1})")
    _, pred = csgraph.breadth_first_order(g, root, directed=False, return_predecessors=True)
    parent = np.where(pred < 0, -1, pred).astype(np.int64)
    r = np.zeros(n) if radius is None else np.asarray(radius, dtype=np.float64).reshape(n)
    bad = np.flatnonzero(~np.isfinite(r) | (r < 0))
    if len(bad):
        raise SkeletonError(f"{len(bad)} node(s) with a negative or non-finite radius (first: node {bad[0]}, {r[bad[0]]:g} nm)")
    return Tree(vertices=vertices, parent=parent, root=int(root), radius=r)


def swc_frame(tree: Tree, labels: np.ndarray) -> pd.DataFrame:
    """SWC rows of a tree (README, 'The L2/3 dataset format'): node ids are the 0-based skeleton indices.

    Parameters
    ----------
    tree : Tree
    labels : ndarray, shape (N,), int
        Our compartment codes 0-5.

    Returns
    -------
    DataFrame, N rows
        Columns ``node label x y z radius parent`` (nm; parent -1 at the root).
    """
    return pd.DataFrame(
        {
            "node": np.arange(tree.n, dtype=np.int64),
            "label": np.asarray(labels, dtype=np.int64),
            "x": tree.vertices[:, 0],
            "y": tree.vertices[:, 1],
            "z": tree.vertices[:, 2],
            "radius": tree.radius,
            "parent": tree.parent,
        },
        columns=list(SWC_COLUMNS),
    )


#: Decimals (nm) of SWC coordinates and radii; the builder computes from these rounded values
#: so that a dataset read back from its SWC files gives exactly the same numbers.
SWC_DECIMALS = 2


def round_tree(tree: Tree, decimals: int = SWC_DECIMALS) -> Tree:
    """The tree with coordinates and radii rounded as the SWC files store them."""
    return Tree(
        vertices=np.round(tree.vertices, decimals),
        parent=tree.parent,
        root=tree.root,
        radius=np.round(tree.radius, decimals),
    )


def thin_tree(
    parent: np.ndarray, dist_um: np.ndarray, labels: np.ndarray, spacing_um: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes to keep when drawing a dense skeleton, and each kept node's kept parent.

    Keeps the root, branch points, ends, both nodes of every label change, and elsewhere one
    node per ``spacing_um`` of path (a node whose path distance crosses a multiple of
    ``spacing_um``). For display only: the dataset keeps every node.

    Parameters
    ----------
    parent : ndarray, shape (N,), int
        Parent index of each node, -1 at the root.
    dist_um : ndarray, shape (N,)
        Path distance of each node from the root, um.
    labels : ndarray, shape (N,), int
        Compartment code of each node.
    spacing_um : float
        Target distance between kept nodes along unbranched stretches, um.

    Returns
    -------
    keep : ndarray, shape (K,), int64
        Indices of the kept nodes, ascending.
    new_parent : ndarray, shape (K,), int64
        For each kept node, the index (into the original nodes) of its nearest kept ancestor;
        -1 for the root.
    """
    parent = np.asarray(parent, np.int64)
    n = len(parent)
    has_parent = parent >= 0
    p = np.where(has_parent, parent, 0)
    n_children = np.bincount(parent[has_parent], minlength=n)
    labels = np.asarray(labels)
    change = has_parent & (labels != labels[p])
    mark = np.floor(np.asarray(dist_um, np.float64) / spacing_um)
    keep = ~has_parent | (n_children != 1) | change | (has_parent & (mark != mark[p]))
    keep[p[change]] = True
    anc = parent.copy()  # nearest kept ancestor, by pointer doubling (log depth steps)
    while True:
        up = (anc >= 0) & ~keep[np.maximum(anc, 0)]
        if not up.any():
            break
        anc[up] = anc[anc[up]]
    idx = np.flatnonzero(keep)
    return idx, anc[idx]
