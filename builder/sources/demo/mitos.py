"""Synthetic mitochondria for the demo volume: curved, constricted tubes lying along neurites.

Each mitochondrion's volume and complexity index (MCI = A^3 / (16 pi^2 V^2)) are drawn from a
model fitted to the real Phase 1 morphometrics (183,663 mitochondria of 363 pyramidal cells,
``mito_morphometrics_363cells_part*of3.csv``; volume = mito_vx * 512.656e-9 um^3), per
compartment: ln V is normal, and ``ln MCI = ln(median MCI) + b (ln V - ln median V) + e`` with
e normal (b: least-squares slope on the real rows, whose correlation is 0.55 to 0.87):

=================  ==========  =========  ==========  =====  =====  ======
compartment        median V    sd ln V    median MCI  b      sd e   share
=================  ==========  =========  ==========  =====  =====  ======
Somatic            0.0323      1.37       5.15        0.463  0.626  0.510
Basal              0.0947      1.56       9.05        0.614  0.538  0.299
Apical             0.0630      1.64       7.66        0.601  0.553  0.109
Axonal             0.0133      0.93       2.50        0.388  0.544  0.068
Unknown            0.0410      1.56       6.32        0.547  0.574  0.009
Unknown dendritic  0.0679      1.44       7.86        0.582  0.533  0.006
=================  ==========  =========  ==========  =====  =====  ======

(median V in um^3; ``python benchmarks/fit_mito_shapes.py`` prints this table from the real
files.) A closed shape cannot have an MCI below a sphere's (9 / 4 pi = 0.72); the real table has
some, from its voxel volumes and mesh areas, and the demo draws MCI >= 0.8. The normal deviates
are stratified within each compartment of a draw (one in each of n equal-probability strata,
in random order): a cell's sample keeps the fitted distribution without the sampling noise of
its quantiles, so the medians of 40 cells are the model's within a few percent.

Shape: a tube of radius ``r0 f(s)`` along a centreline of length ``L``, closed by
hemispherical caps. ``f`` is 1 with Gaussian constrictions (more of them at higher MCI:
Poisson with mean (MCI - 2) / 3, depth 25-55 %, width 3 % of the length). Given V and MCI,
``L / r0`` follows from the profile's integrals (solved for every mitochondrion at once by
bisection; the polygon's radius is widened to keep the circle's area, and the target lowered by
the 5 % that roughness adds), so the mesh's measured MCI is the drawn one within a few percent
(2 % more on the default demo). The radius is capped at 70 % of the neurite's (tiled ones at
45 % of their dendrite's median radius, :mod:`builder.sources.demo.tiling`); a neurite too short
for ``L`` makes the tube shorter and thicker. Neurite mitochondria follow the skeleton from the node they are placed
at, half toward the soma and half away from it (stopping at the soma surface and at ends), off
the axis by up to 30 % of the neurite radius; somatic ones follow a wavy arc in the
perinuclear shell.

Vertex counts: ``k`` vertices around (8 to 16, one per 0.05 um of circumference), a ring at
least every 0.15 um along the tube -- the node spacing of the skeletons, so that every node a
mitochondrion spans gets vertices nearest to it, as the association needs (with fewer, the
nodes between rings of a long tube lose their share of its coverage) -- up to 800 rings, 3
rings per cap and a pole vertex at each end: ``k (rings + 6) + 2`` vertices, 66 to 12,722 on
the default demo.
Real Phase 1 mesh sizes are not in ``../shared`` (the mesh layer cannot be reached from here),
so the counts are set by what the measures need, not copied from the release: finer rings
only add time to every stage (0.1-um rings cost the 450-cell build 40 % more for the same
medians of volume and MCI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from builder.compute.meshes import MeshBatch
from builder.schema import Compartment
from builder.sources.demo.morphology import UNLABELLED, Morphology, _unit
from builder.sources.demo.tubes import CAP_RINGS, resample_polyline, tube_faces, tube_vertices

# code -> (median V um^3, sd ln V, median MCI, b, sd e), fitted to the real rows
SHAPE_MODEL: dict[int, tuple[float, float, float, float, float]] = {
    int(Compartment.SOMATIC): (0.0323, 1.37, 5.15, 0.463, 0.626),
    int(Compartment.BASAL): (0.0947, 1.56, 9.05, 0.614, 0.538),
    int(Compartment.APICAL): (0.0630, 1.64, 7.66, 0.601, 0.553),
    int(Compartment.AXONAL): (0.0133, 0.93, 2.50, 0.388, 0.544),
    int(Compartment.UNKNOWN): (0.0410, 1.56, 6.32, 0.547, 0.574),
    int(Compartment.UNKNOWN_DENDRITIC): (0.0679, 1.44, 7.86, 0.582, 0.533),
}
#: Real pyramidal medians of MCI per compartment (the check the demo is tested against).
REAL_MCI_MEDIANS = {"Somatic": 5.15, "Basal": 9.05, "Apical": 7.66, "Axonal": 2.50}
REAL_SHARES: dict[int, float] = {0: 0.510, 2: 0.299, 3: 0.109, 1: 0.068, 5: 0.009, 4: 0.006}
#: Mitochondria per interneuron and astrocyte (those of pyramidal cells follow their dendrites:
#: :mod:`builder.sources.demo.tiling`), drawn uniformly in these bounds.
MITOS_PER_CELL = {"inhibitory": (250, 600), "astrocyte": (100, 300)}
ASTRO_MODEL = (0.045, 1.2, 5.0, 0.5, 0.6)  # astrocyte processes: no published reference
ASTRO_SOMATIC_SHARE = 0.25
MAX_SD = 2.5  # truncate the normal tails at 2.5 sd
MIN_MCI = 0.8
RING_UM = 0.15
MAX_RINGS = 800
CHORD_UM = 0.05
AROUND = (8, 16)
GRID = 128  # samples of the profile when integrating it
#: The 3 % radial roughness adds about 1.7 % to the area, 5 % to the MCI (measured on the
#: demo's meshes): tubes are solved for the drawn MCI / 1.05.
ROUGH_MCI = 1.05


@dataclass(frozen=True)
class Placement:
    """Where the mitochondria of one cell sit.

    Attributes
    ----------
    node : ndarray, shape (n,), int; skeleton node (0, the soma, for somatic ones; the node
        nearest the middle for tiled ones)
    intended : ndarray, shape (n,), int; compartment code of the shape model (-1 astrocyte)
    somatic : ndarray, shape (n,), bool
    chain : tuple of n (ndarray or None)
        For a mitochondrion tiled along a branch (:mod:`builder.sources.demo.tiling`), the
        branch's node ids; None for one centred on ``node``. Empty: none tiled.
    start_um : ndarray, shape (n,)
        Where a tiled mitochondrion starts along its branch, um (ignored for the others).
    """

    node: np.ndarray
    intended: np.ndarray
    somatic: np.ndarray
    chain: tuple = ()
    start_um: np.ndarray | None = None

    def tiled(self, i: int) -> bool:
        return bool(self.chain) and self.chain[i] is not None


def concat_placements(a: Placement, b: Placement) -> Placement:
    """``a`` then ``b``, as one placement."""
    chain = (tuple(a.chain) or (None,) * len(a.node)) + (tuple(b.chain) or (None,) * len(b.node))
    start = np.concatenate([a.start_um if a.start_um is not None else np.zeros(len(a.node)),
                            b.start_um if b.start_um is not None else np.zeros(len(b.node))])  # fmt: skip
    return Placement(np.concatenate([a.node, b.node]), np.concatenate([a.intended, b.intended]),
                     np.concatenate([a.somatic, b.somatic]), chain, start)  # fmt: skip


@dataclass(frozen=True)
class Shapes:
    """Drawn volume and MCI of n mitochondria and the capped tube that has them (unconstrained
    by the neurite): constriction profiles, ``i2 = mean f^2``, radius ``r0`` and length, um."""

    vol: np.ndarray
    mci: np.ndarray
    centre: np.ndarray
    depth: np.ndarray
    width: np.ndarray
    i2: np.ndarray
    r0: np.ndarray
    length: np.ndarray

    def take(self, idx: np.ndarray) -> Shapes:
        return Shapes(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(a: Shapes, b: Shapes) -> Shapes:
        return Shapes(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in a.__dataclass_fields__))


def tube_shapes(rng: np.random.Generator, intended: np.ndarray) -> Shapes:
    """Draw (volume, MCI) per mitochondrion from the shape model and solve its tube."""
    vol, mci = draw_shapes(rng, intended)
    centre, depth, width = _profiles(rng, mci)
    n = len(vol)
    f = _f(np.tile(np.linspace(0, 1, GRID), (n, 1)), centre, depth, width)
    i1, i2 = f.mean(axis=1), (f**2).mean(axis=1)
    r0, length = solve_tubes(vol, np.maximum(mci / ROUGH_MCI, MIN_MCI), i1, i2)
    return Shapes(vol, mci, centre, depth, width, i2, r0, length)


def place_mitochondria(
    rng: np.random.Generator, morph: Morphology, n_mito: int, cell_type: str, shares: dict[int, float] | None = None
) -> Placement:
    """Choose the node each mitochondrion sits at and the compartment whose shapes it takes
    (compartment shares ``shares``, by default those of the release)."""
    par, lab = morph.parent, morph.labels
    in_soma = np.linalg.norm(morph.vertices_um - morph.vertices_um[0], axis=1) < morph.soma_radius_um
    neurite = np.flatnonzero(~in_soma & (par >= 0))
    if cell_type == "astrocyte":
        n_soma = rng.binomial(n_mito, ASTRO_SOMATIC_SHARE)
        nodes = rng.choice(neurite, size=n_mito - n_soma)
        intended = np.full(n_mito, UNLABELLED)
    else:
        shares = dict(REAL_SHARES if shares is None else shares)
        if cell_type == "inhibitory":  # interneurons: no apical dendrite, busy axon
            shares = {0: 0.35, 2: 0.40, 1: 0.25}
        present = {c: s for c, s in shares.items() if c == 0 or np.any(lab[neurite] == c)}
        codes = np.array(list(present))
        p = np.array(list(present.values()))
        drawn = rng.choice(codes, size=n_mito, p=p / p.sum())
        n_soma = int(np.sum(drawn == 0))
        rest = drawn[drawn != 0]
        nodes = np.empty(len(rest), np.int64)
        for c in np.unique(rest):
            pool = neurite[lab[neurite] == c]
            nodes[rest == c] = rng.choice(pool, size=int(np.sum(rest == c)))
        intended = np.concatenate([np.zeros(n_soma, np.int64), rest])
    node = np.concatenate([np.zeros(n_soma, np.int64), nodes])
    return Placement(node=node, intended=intended, somatic=np.arange(n_mito) < n_soma)


def stratified_normal(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """Standard normal draws, shape (n,), stratified within each group of equal ``groups``: a
    group of k gets one draw in each of its k equal-probability strata, in random order (the
    sample of a group keeps the distribution with far less sampling noise in its quantiles)."""
    groups = np.asarray(groups)
    out = np.empty(len(groups))
    for g in np.unique(groups):
        at = np.flatnonzero(groups == g)
        out[at] = ndtri((rng.permutation(len(at)) + rng.uniform(size=len(at))) / len(at))
    return out


def model_mean_volume(code: int) -> float:
    """Mean volume (um^3) of the shape model of compartment ``code``, its ln V clipped at
    :data:`MAX_SD` standard deviations as :func:`draw_shapes` draws it."""
    median, s = SHAPE_MODEL.get(int(code), ASTRO_MODEL)[:2]
    k = MAX_SD
    body = np.exp(s**2 / 2) * (ndtr(k - s) - ndtr(-k - s))
    return float(median * (body + (np.exp(k * s) + np.exp(-k * s)) * ndtr(-k)))


def draw_shapes(rng: np.random.Generator, intended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volumes (um^3) and MCIs, shape (n,) each, from the per-compartment model (normal
    deviates stratified per compartment: :func:`stratified_normal`)."""
    model = np.array([SHAPE_MODEL.get(int(c), ASTRO_MODEL) for c in intended]).reshape(-1, 5)
    z = np.clip(stratified_normal(rng, intended), -MAX_SD, MAX_SD)
    e = np.clip(stratified_normal(rng, intended), -MAX_SD, MAX_SD)
    vol = model[:, 0] * np.exp(model[:, 1] * z)
    mci = model[:, 2] * np.exp(model[:, 3] * model[:, 1] * z + model[:, 4] * e)
    return vol, np.maximum(mci, MIN_MCI)


def _profiles(rng: np.random.Generator, mci: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constriction centres, depths and widths (fractions of the length), shape (n, 6) each."""
    n = len(mci)
    k = np.minimum(rng.poisson(np.clip((mci - 2.0) / 3.0, 0, 6)), 6)
    centre = rng.uniform(0.12, 0.88, size=(n, 6))
    depth = rng.uniform(0.25, 0.55, size=(n, 6)) * (np.arange(6)[None, :] < k[:, None])
    return centre, depth, np.full((n, 6), 0.03)


def _f(u: np.ndarray, centre: np.ndarray, depth: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Profile at fractions ``u`` (n, m) of the length -> (n, m), in [0.35, 1]."""
    dip = depth[:, None, :] * np.exp(-0.5 * ((u[:, :, None] - centre[:, None, :]) / width[:, None, :]) ** 2)
    return np.maximum(1.0 - dip.sum(axis=2), 0.35)


def solve_tubes(vol: np.ndarray, mci: np.ndarray, i1: np.ndarray, i2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radius r0 and length L (um) of capped tubes with the given volume and MCI.

    For a profile with integrals ``i1 = mean f`` and ``i2 = mean f^2`` and ``lam = L / r0``:
    ``V = pi r0^3 (lam i2 + 4/3)``, ``A = pi r0^2 (2 lam i1 + 4)``, so the MCI depends on ``lam``
    alone and increases with it; ``lam`` is found by bisection for all tubes at once.
    """

    def mci_of(lam):
        return (2 * lam * i1 + 4) ** 3 / (16 * np.pi * (lam * i2 + 4 / 3) ** 2)

    lo, hi = np.zeros_like(vol), np.full_like(vol, 5000.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        low = mci_of(mid) < mci
        lo = np.where(low, mid, lo)
        hi = np.where(low, hi, mid)
    lam = 0.5 * (lo + hi)
    r0 = np.cbrt(vol / (np.pi * (lam * i2 + 4 / 3)))
    return r0, lam * r0


def _chains(morph: Morphology, node: np.ndarray, half_um: np.ndarray) -> list[np.ndarray]:
    """Skeleton positions (um) from ~half_um beyond ``node`` away from the soma to ~half_um toward it.

    Walks all mitochondria a node per step at once: toward the root via ``parent`` (stopping
    before the soma), away from it via each node's first child (stopping at ends).
    """
    v, par = morph.vertices_um, morph.parent
    n_nodes = len(v)
    in_soma = np.linalg.norm(v - v[0], axis=1) < morph.soma_radius_um
    child = np.full(n_nodes, n_nodes, np.int64)
    has_par = par >= 0
    np.minimum.at(child, par[has_par], np.flatnonzero(has_par))
    child[child == n_nodes] = -1
    up_next = np.where(has_par, par, -1)
    up_next[(up_next >= 0) & in_soma[np.maximum(up_next, 0)]] = -1
    walks = []
    for nxt in (up_next, child):
        cur, done = node.copy(), np.zeros(len(node), np.float64)
        steps = [cur]
        while True:
            go = (done < half_um) & (nxt[cur] >= 0)
            if not go.any():
                break
            new = np.where(go, nxt[cur], cur)
            done = done + np.where(go, np.linalg.norm(v[new] - v[cur], axis=1), 0.0)
            cur = new
            steps.append(cur)
        walks.append(np.stack(steps, axis=1))
    up, down = walks
    out = []
    for i in range(len(node)):
        d = np.unique(down[i], return_index=True)[1]
        u = np.unique(up[i], return_index=True)[1]
        ids = np.concatenate([down[i][np.sort(d)][::-1], up[i][np.sort(u)][1:]])
        out.append(v[ids])
    return out


def tube_meshes(
    rng: np.random.Generator, morph: Morphology, place: Placement, ids: np.ndarray, shapes: Shapes | None = None
) -> MeshBatch:
    """Closed tube meshes (vertices in nm) for the mitochondria of one cell, in the order of ``ids``.

    ``shapes`` (one per mitochondrion) are drawn here when not given; tiled mitochondria
    (``place.chain``) lie along their branch from ``place.start_um``.
    """
    n = len(ids)
    sh = shapes if shapes is not None else tube_shapes(rng, place.intended)
    vol, centre, depth, width, i2 = sh.vol, sh.centre, sh.depth, sh.width, sh.i2
    r0, length = sh.r0.copy(), sh.length.copy()
    v, rad = morph.vertices_um, morph.radius_um
    soma_r = morph.soma_radius_um
    rmax = np.where(place.somatic, 0.6, np.maximum(0.7 * rad[place.node], 0.05))
    shell = soma_r * rng.uniform(0.55, 0.85, size=n)
    avail = np.where(place.somatic, 1.5 * np.pi * shell, np.inf)
    paths: list = [None] * n
    tiled = np.array([place.tiled(i) for i in range(n)], bool)
    for i in np.flatnonzero(tiled):
        pts = v[place.chain[i]]
        paths[i] = pts
        avail[i] = max(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)) - place.start_um[i], 0.0)
    neur = np.flatnonzero(~place.somatic & ~tiled)
    for i, pts in zip(neur, _chains(morph, place.node[neur], length[neur] / 2 + 0.2)):
        paths[i] = pts
        avail[i] = np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)) if len(pts) > 1 else 0.0
    # too thick for the neurite, or too long for its path: keep the volume, change the shape
    r0 = np.minimum(r0, rmax)
    length = np.maximum((vol / (np.pi * r0**3) - 4 / 3) / i2 * r0, 0.0)
    long = length > avail
    length[long] = avail[long]
    r0[long] = np.sqrt(vol[long] / (np.pi * i2[long] * np.maximum(avail[long], 1e-3) + 4 / 3 * np.pi * r0[long]))
    k = np.clip(np.round(2 * np.pi * r0 / CHORD_UM), *AROUND).astype(int)
    rings = np.clip(np.ceil(length / RING_UM) + 1, 2, MAX_RINGS).astype(int)
    e = _unit(rng.normal(size=(n, 3, 3)))
    off = rng.uniform(0, 0.3, size=n)
    meshes = []
    for i in range(n):
        s = np.linspace(0.0, length[i], rings[i])
        prof = r0[i] * _f(s[None, :] / max(length[i], 1e-9), centre[i : i + 1], depth[i : i + 1], width[i : i + 1])[0]
        if place.somatic[i]:  # a wavy arc in the perinuclear shell, around a random axis
            a, b = e[i, 0], _unit(np.cross(e[i, 0], e[i, 1]))
            th = e[i, 2, 0] * np.pi + s / shell[i]
            line = v[0] + shell[i] * (np.cos(th)[:, None] * a + np.sin(th)[:, None] * b)
            line += np.outer(0.3 * np.sin(3 * th), np.cross(a, b))
            ref = np.cross(a, b)
        else:
            pts = paths[i]
            if tiled[i]:
                start = place.start_um[i]
            else:
                total = avail[i]
                mid = np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)[: _index_of(pts, v[place.node[i]])])
                start = np.clip(mid - length[i] / 2, 0.0, max(total - length[i], 0.0))
            line = resample_polyline(pts, start + s)
            ref = _unit(np.cross(_unit(line[-1] - line[0] + 1e-6 * e[i, 1]), e[i, 0]))  # across the chord
            line = line + ref * (off[i] * rad[place.node[i]])
        rough = 1.0 + np.clip(rng.normal(scale=0.03, size=(len(s) + 2 * CAP_RINGS, k[i])), -0.1, 0.1)
        meshes.append((tube_vertices(line, prof, int(k[i]), ref, rough) * 1000.0, tube_faces(int(k[i]), len(s) + 2 * CAP_RINGS)))
    return MeshBatch.from_meshes(ids, meshes)


def _index_of(pts: np.ndarray, p: np.ndarray) -> int:
    return int(np.argmin(np.sum((pts - p) ** 2, axis=1)))
