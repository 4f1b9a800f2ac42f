"""Synthetic skeletons for the demo volume: pyramidal cells, interneurons and astrocytes.

Each branch is a persistent random walk generated in one vectorised step (AR(1)-filtered
direction noise) at a 1.2-um step, then resampled along a cubic spline at 0.15 um, so that the
skeletons have the node density of the release's smoothed skeletons (6.2 and 9.4 nodes per um
of cable, median edges of 150 and 100 nm, measured on two real pinky100 skeletons); branches
are clipped at the volume boundary, as cells of the real volume are. The soma is collapsed into
the root node, as MeshParty's ``skeletonize_mesh`` does (``collapse_soma``) and as MicronsBinder
reads the release's skeletons (``refine_labels`` in
``notebooks/vignette_analysis/mitochondria/lib/compartment.py``: the soma is the root and the
nodes one edge from it): branches leave the soma from its surface, one edge from the root, and
those first nodes are labelled somatic.
Labels use our codes (:class:`builder.schema.Compartment`); astrocytes are left unlabelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import lfilter

from builder.schema import INHIBITORY_SUBTYPES, Compartment

SOMA, AXON, BASAL, APICAL = (int(Compartment.SOMATIC), int(Compartment.AXONAL), int(Compartment.BASAL), int(Compartment.APICAL))
UNLABELLED = -1
STEP_UM = 1.2
#: Nodes per walk step after resampling: 1.2 um / 8 = 0.15 um between nodes (6.7 per um).
FINE_PER_STEP = 8
PIA = np.array([0.0, -1.0, 0.0])  # the pia lies toward -y


@dataclass(frozen=True)
class Morphology:
    """A synthetic skeleton (node 0 is the soma centre).

    Attributes
    ----------
    vertices_um : ndarray, shape (N, 3)
    parent : ndarray, shape (N,), int64 (-1 at node 0)
    radius_um : ndarray, shape (N,)
    labels : ndarray, shape (N,), int64; our codes, -1 everywhere for astrocytes
    soma_radius_um : float
    """

    vertices_um: np.ndarray
    parent: np.ndarray
    radius_um: np.ndarray
    labels: np.ndarray
    soma_radius_um: float

    @property
    def edges(self) -> np.ndarray:
        """(child, parent) edges, shape (N-1, 2)."""
        child = np.flatnonzero(self.parent >= 0)
        return np.stack([child, self.parent[child]], axis=1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


class _Grower:
    """Accumulates branches of one cell."""

    def __init__(self, rng: np.random.Generator, soma_um: np.ndarray, soma_r: float, bounds: np.ndarray, labelled: bool):
        self.rng = rng
        self.soma = soma_um
        self.soma_r = soma_r
        self.bounds = bounds
        self.labelled = labelled
        self.pts = [soma_um[None, :]]
        self.rad = [np.array([soma_r])]
        self.lab = [np.array([SOMA if labelled else UNLABELLED])]
        self.par = [np.array([-1])]
        self.n = 1

    def branch(
        self,
        start: int,
        direction: np.ndarray,
        length: float,
        r0: float,
        r1: float,
        label: int,
        tortuosity: float = 0.25,
        persistence: float = 0.9,
    ) -> np.ndarray:
        """Grow a branch from node ``start``; returns the new node indices (may be empty)."""
        n = max(2, int(length / STEP_UM))
        noise = self.rng.normal(scale=tortuosity, size=(n, 3))
        drift = lfilter([1.0 - persistence], [1.0, -persistence], noise, axis=0) * 4.0
        dirs = _unit(_unit(np.asarray(direction, float))[None, :] + drift)
        origin = np.concatenate(self.pts)[start] if start < self.n else self.soma
        pts = _resample(np.vstack([origin, origin + np.cumsum(dirs * STEP_UM, axis=0)]), FINE_PER_STEP)
        lo, hi = self.bounds
        outside = np.flatnonzero(((pts < lo) | (pts > hi)).any(axis=1))
        if len(outside):
            pts = pts[: outside[0]]
        if len(pts) < 2:
            return np.zeros(0, np.int64)
        inside = np.linalg.norm(pts - self.soma, axis=1) < self.soma_r
        if start == 0:
            # the soma is collapsed into the root, as MeshParty's skeletonize_mesh does (soma
            # vertices -> root) and as the release's skeletons are read: MicronsBinder's
            # refine_labels (notebooks/vignette_analysis/mitochondria/lib/compartment.py) takes
            # the soma as the root and the nodes one edge from it. A branch from the soma starts
            # at its surface, one long edge from the root.
            out = np.flatnonzero(~inside)
            if not len(out):
                return np.zeros(0, np.int64)
            pts, inside = pts[out[0] :], inside[out[0] :]
            if len(pts) < 2:
                return np.zeros(0, np.int64)
        m = len(pts)
        rad = np.linspace(r0, r1, m)
        lab = np.full(m, label if self.labelled else UNLABELLED)
        if self.labelled:
            lab[inside] = SOMA
            if start == 0:  # the soma label: the root and the nodes one edge from it (refine_labels)
                lab[0] = SOMA
        rad[inside] = np.maximum(rad[inside], r0)
        idx = np.arange(self.n, self.n + m)
        par = np.concatenate([[start], idx[:-1]])
        self.pts.append(pts)
        self.rad.append(rad)
        self.lab.append(lab)
        self.par.append(par)
        self.n += m
        return idx

    def children(
        self, parent_nodes: np.ndarray, k: int, length: tuple[float, float], r: tuple[float, float], label: int, **kw
    ) -> list[np.ndarray]:
        """``k`` side branches from random nodes of ``parent_nodes``, leaving at 30-80 degrees."""
        out = []
        if len(parent_nodes) < 4:
            return out
        pts = np.concatenate(self.pts)
        for _ in range(k):
            j = int(self.rng.integers(1, len(parent_nodes) - 1))
            node = int(parent_nodes[j])
            tangent = _unit(pts[parent_nodes[j + 1]] - pts[parent_nodes[j - 1]])
            side = _unit(np.cross(tangent, self.rng.normal(size=3)))
            ang = np.deg2rad(self.rng.uniform(30, 80))
            d = np.cos(ang) * tangent + np.sin(ang) * side
            out.append(self.branch(node, d, self.rng.uniform(*length), r[0], r[1], label, **kw))
        return out

    def finish(self) -> Morphology:
        return Morphology(
            vertices_um=np.concatenate(self.pts),
            parent=np.concatenate(self.par).astype(np.int64),
            radius_um=np.concatenate(self.rad),
            labels=np.concatenate(self.lab).astype(np.int64),
            soma_radius_um=float(self.soma_r),
        )


def _resample(curve: np.ndarray, k: int) -> np.ndarray:
    """Points every 1/k of a step along a cubic spline through ``curve`` (its first point, the
    branch origin, left out), shape ((len(curve) - 1) * k, 3)."""
    t = np.arange(len(curve), dtype=np.float64)
    fine = np.arange(1, (len(curve) - 1) * k + 1) / k
    if len(curve) < 3:
        return curve[0] + np.outer(fine, curve[-1] - curve[0])
    return CubicSpline(t, curve, axis=0, bc_type="natural")(fine)


def _random_dirs(rng: np.random.Generator, k: int, bias: np.ndarray | None = None, weight: float = 0.0) -> np.ndarray:
    d = _unit(rng.normal(size=(k, 3)))
    if bias is not None:
        d = _unit(d + weight * bias)
    return d


def pyramidal(rng: np.random.Generator, soma: np.ndarray, bounds: np.ndarray) -> Morphology:
    """Apical dendrite toward the pia with obliques and a tuft, 6-10 basal dendrites of 100-250 um with
    2-4 side branches of 40-130 um each, and a descending axon."""
    g = _Grower(rng, soma, rng.uniform(5.5, 7.5), bounds, labelled=True)
    apical = g.branch(0, PIA + rng.normal(scale=0.15, size=3), rng.uniform(180, 380), 1.8, 0.5, APICAL, 0.12, 0.95)
    g.children(apical[20:] if len(apical) > 30 else apical, int(rng.integers(4, 9)), (40, 120), (0.6, 0.25), APICAL)
    if len(apical) > 10:
        for d in _random_dirs(rng, int(rng.integers(2, 5)), PIA, 1.5):
            g.branch(int(apical[-1]), d, rng.uniform(40, 100), 0.5, 0.25, APICAL)
    basal_children: list[np.ndarray] = []
    for d in _random_dirs(rng, int(rng.integers(6, 11)), -PIA, 0.6):
        b = g.branch(0, d, rng.uniform(100, 250), 1.0, 0.35, BASAL)
        basal_children += g.children(b, int(rng.integers(2, 5)), (40, 130), (0.5, 0.3), BASAL)
    axon = g.branch(0, -PIA + rng.normal(scale=0.2, size=3), rng.uniform(200, 450), 0.4, 0.2, AXON, 0.3, 0.9)
    g.children(axon[10:] if len(axon) > 20 else axon, int(rng.integers(3, 8)), (50, 200), (0.2, 0.15), AXON, tortuosity=0.4)
    m = g.finish()
    labels = m.labels.copy()
    # a little ambiguity, as in the real labels: one basal side branch "Unknown dendritic",
    # and short stretches around a few branch points "Unknown"
    kids = [c for c in basal_children if len(c) > 5]
    if kids:
        labels[kids[int(rng.integers(len(kids)))]] = int(Compartment.UNKNOWN_DENDRITIC)
    non_soma = np.flatnonzero(labels != SOMA)
    for node in rng.choice(non_soma, size=min(3, len(non_soma)), replace=False):
        stretch = slice(node, node + 8 * FINE_PER_STEP)
        labels[stretch][labels[stretch] != SOMA] = int(Compartment.UNKNOWN)
    return Morphology(m.vertices_um, m.parent, m.radius_um, labels, m.soma_radius_um)


def interneuron(rng: np.random.Generator, soma: np.ndarray, bounds: np.ndarray, subtype: str) -> Morphology:
    """Multipolar (or bipolar) dendrites and a dense local axon shaped by subtype."""
    if subtype not in INHIBITORY_SUBTYPES:
        raise ValueError(f"unknown inhibitory subtype {subtype!r}")
    g = _Grower(rng, soma, rng.uniform(4.5, 6.5), bounds, labelled=True)
    if subtype == "bipolar":
        dend_dirs = np.array([PIA, -PIA]) + rng.normal(scale=0.15, size=(2, 3))
        dend_len = (150, 250)
    else:
        dend_dirs = _random_dirs(rng, int(rng.integers(5, 9)))
        dend_len = (60, 160)
    for d in dend_dirs:
        b = g.branch(0, d, rng.uniform(*dend_len), 0.9, 0.3, BASAL, 0.3)
        g.children(b, int(rng.integers(1, 3)), (30, 80), (0.4, 0.25), BASAL)
    axon_dir = {"martinotti": PIA, "bipolar": -PIA}.get(subtype, rng.normal(size=3))
    n_coll, coll_len, tort = {
        "basket": (22, (40, 130), 0.45),
        "chandelier": (16, (30, 90), 0.35),
        "martinotti": (12, (60, 160), 0.35),
        "bipolar": (10, (40, 120), 0.35),
        "neurogliaform": (35, (20, 60), 0.6),
    }[subtype]
    axon = g.branch(0, axon_dir, rng.uniform(120, 250), 0.35, 0.15, AXON, tort, 0.85)
    colls = g.children(axon, n_coll, coll_len, (0.2, 0.12), AXON, tortuosity=tort, persistence=0.8)
    for c in colls:
        g.children(c, int(rng.integers(0, 3)), (15, 50), (0.15, 0.1), AXON, tortuosity=tort, persistence=0.8)
    return g.finish()


def astrocyte(rng: np.random.Generator, soma: np.ndarray, bounds: np.ndarray) -> Morphology:
    """Many short, highly branched processes; no compartment labels (as in the release)."""
    g = _Grower(rng, soma, rng.uniform(4.0, 5.5), bounds, labelled=False)
    for d in _random_dirs(rng, int(rng.integers(20, 36))):
        p = g.branch(0, d, rng.uniform(15, 45), 1.0, 0.3, UNLABELLED, 0.4, 0.8)
        for c in g.children(p, int(rng.integers(2, 5)), (5, 20), (0.4, 0.2), UNLABELLED, tortuosity=0.5):
            g.children(c, int(rng.integers(0, 3)), (3, 10), (0.25, 0.15), UNLABELLED, tortuosity=0.5)
    return g.finish()
