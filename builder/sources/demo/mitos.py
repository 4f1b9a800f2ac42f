"""Synthetic mitochondria for the demo volume: closed capsule meshes lying along neurites.

Volumes follow per-compartment log-normal distributions whose medians and spreads come from
the real Phase 1 morphometrics (183,663 mitochondria of 363 pyramidal cells,
``mito_morphometrics_363cells_part*of3.csv``; volume = mito_vx * 512.656e-9 um^3):

=================  ============  ===============  ===============
compartment        median um^3   sd of ln(vol)    share of mitos
=================  ============  ===============  ===============
Somatic            0.0323        1.37             0.510
Basal              0.0947        1.56             0.299
Apical             0.0630        1.64             0.109
Axonal             0.0133        0.93             0.068
Unknown            0.0410        1.56             0.009
Unknown dendritic  0.0679        1.44             0.006
=================  ============  ===============  ===============

Each mitochondrion is a capsule made by revolving a profile (trimesh ``revolve``): two
hemispherical caps and, between them, rings every 0.1 um or less along the cylinder, so that
vertices lie all along it -- the demo's skeletons have a node every 0.15 um, and a
mitochondrion covers the nodes nearest its vertices, as in the release. Templates have 10 to 20
vertices around and 5 to 9 steps on each cap arc (102 to 362 vertices without rings, the size
classes of the earlier capsules); each ring adds 10 to 20 vertices, up to 40 rings (4 um). It
is stretched to its volume and aspect ratio, roughened slightly, and aligned with the local
neurite direction.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import trimesh

from builder.compute.meshes import MeshBatch
from builder.schema import Compartment
from builder.sources.demo.morphology import UNLABELLED, Morphology, _unit

# code -> (median um^3, sd of ln volume, median aspect = cylinder length / diameter)
VOLUME_MODEL: dict[int, tuple[float, float, float]] = {
    int(Compartment.SOMATIC): (0.0323, 1.37, 1.2),
    int(Compartment.AXONAL): (0.0133, 0.93, 2.0),
    int(Compartment.BASAL): (0.0947, 1.56, 3.0),
    int(Compartment.APICAL): (0.0630, 1.64, 3.0),
    int(Compartment.UNKNOWN_DENDRITIC): (0.0679, 1.44, 3.0),
    int(Compartment.UNKNOWN): (0.0410, 1.56, 2.0),
}
REAL_SHARES: dict[int, float] = {0: 0.510, 2: 0.299, 3: 0.109, 1: 0.068, 5: 0.009, 4: 0.006}
ASTRO_MODEL = (0.045, 1.2, 1.8)  # astrocyte processes: no published reference, moderate sizes
ASTRO_SOMATIC_SHARE = 0.25
TEMPLATE_COUNTS = ((10, 10), (12, 12), (14, 14), (18, 16), (20, 18))  # (around, cap arc x 2)
#: Largest distance between rings along the cylinder, um, and the most rings a template has.
RING_UM = 0.1
MAX_RINGS = 40
MAX_SD = 2.5  # truncate the log-normal tails at 2.5 sd


@lru_cache(maxsize=None)
def _template(i: int, rings: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Closed capsule of radius 1 along z: caps at 1 <= |z| <= 2, ``rings`` rings at |z| < 1."""
    around, cap = TEMPLATE_COUNTS[i][0], TEMPLATE_COUNTS[i][1] // 2
    a = np.linspace(-np.pi / 2, 0.0, cap + 1)
    bottom = np.c_[np.cos(a), -1.0 + np.sin(a)]
    middle = np.c_[np.ones(rings), np.linspace(-1.0, 1.0, rings + 2)[1:-1]]
    top = np.c_[np.cos(a[::-1]), 1.0 - np.sin(a[::-1])]
    m = trimesh.creation.revolve(np.vstack([bottom, middle, top]), sections=around)
    return np.asarray(m.vertices, float), np.asarray(m.faces, np.int64)


def place_mitochondria(
    rng: np.random.Generator, morph: Morphology, n_mito: int, cell_type: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Choose where each mitochondrion lies and which compartment it is meant to sit in.

    Returns
    -------
    centres_um : ndarray, shape (n, 3)
    axes : ndarray, shape (n, 3), unit long axis (local neurite direction)
    max_radius_um : ndarray, shape (n,), the neurite's radius budget
    intended : ndarray, shape (n,), int; compartment code used for the size model (-1 astro)
    node : ndarray, shape (n,), int; the skeleton node it is placed at (0, the soma, for somatic ones)
    """
    v, par, rad, lab = morph.vertices_um, morph.parent, morph.radius_um, morph.labels
    soma = v[0]
    in_soma = np.linalg.norm(v - soma, axis=1) < morph.soma_radius_um
    neurite = np.flatnonzero(~in_soma & (par >= 0))
    if cell_type == "astrocyte":
        n_soma = rng.binomial(n_mito, ASTRO_SOMATIC_SHARE)
        nodes = rng.choice(neurite, size=n_mito - n_soma)
        intended = np.full(n_mito, UNLABELLED)
    else:
        shares = dict(REAL_SHARES)
        if cell_type == "inhibitory":  # interneurons: no apical dendrite, busy axon
            shares = {0: 0.35, 2: 0.40, 1: 0.25}
        present = {c: s for c, s in shares.items() if c == 0 or np.any(lab[neurite] == c)}
        codes = np.array(list(present))
        p = np.array(list(present.values()))
        drawn = rng.choice(codes, size=n_mito, p=p / p.sum())
        n_soma = int(np.sum(drawn == 0))
        nodes = np.empty(n_mito - n_soma, np.int64)
        rest = drawn[drawn != 0]
        for c in np.unique(rest):
            pool = neurite[lab[neurite] == c]
            nodes[rest == c] = rng.choice(pool, size=int(np.sum(rest == c)))
        intended = np.concatenate([np.zeros(n_soma, np.int64), rest])
    # somatic: perinuclear shell, random orientation
    r_s = morph.soma_radius_um
    dirs = _unit(rng.normal(size=(n_soma, 3)))
    soma_c = soma + dirs * (r_s * rng.uniform(0.55, 0.85, size=(n_soma, 1)))
    soma_ax = _unit(rng.normal(size=(n_soma, 3)))
    soma_rmax = np.full(n_soma, 0.6)
    # neurites: on the shaft, aligned with it, off-axis by at most 30% of the radius
    tangent = _unit(v[nodes] - v[par[nodes]])
    off = _unit(np.cross(tangent, rng.normal(size=(len(nodes), 3))))
    neur_c = v[nodes] + off * (rad[nodes] * rng.uniform(0, 0.3, size=len(nodes)))[:, None]
    neur_rmax = np.maximum(0.7 * rad[nodes], 0.05)
    return (
        np.concatenate([soma_c, neur_c]),
        np.concatenate([soma_ax, tangent]),
        np.concatenate([soma_rmax, neur_rmax]),
        intended,
        np.concatenate([np.zeros(n_soma, np.int64), nodes]),
    )


def capsule_meshes(
    rng: np.random.Generator,
    centres_um: np.ndarray,
    axes: np.ndarray,
    max_radius_um: np.ndarray,
    intended: np.ndarray,
    ids: np.ndarray,
) -> MeshBatch:
    """Closed, roughened capsule meshes with log-normal volumes, in nm.

    Parameters
    ----------
    centres_um, axes : ndarray, shape (n, 3)
    max_radius_um, intended, ids : ndarray, shape (n,)

    Returns
    -------
    MeshBatch
        n meshes, vertices in nm, in the order of ``ids``.
    """
    n = len(ids)
    model = np.array([VOLUME_MODEL.get(int(c), ASTRO_MODEL) for c in intended]).reshape(n, 3)
    z = np.clip(rng.normal(size=n), -MAX_SD, MAX_SD)
    vol = model[:, 0] * np.exp(model[:, 1] * z)
    aspect = model[:, 2] * np.exp(rng.normal(scale=0.35, size=n))
    r = np.cbrt(vol / (np.pi * (2 * aspect + 4 / 3)))
    r = np.minimum(r, max_radius_um)
    h = np.maximum(vol - 4 / 3 * np.pi * r**3, 0) / (np.pi * r**2)
    tmpl = np.clip(np.round(2 + z / 1.2 + rng.normal(scale=0.7, size=n)), 0, len(TEMPLATE_COUNTS) - 1).astype(int)
    # frames: columns u, w, t with t the long axis
    t = _unit(axes)
    u = _unit(np.cross(t, _unit(rng.normal(size=(n, 3)))))
    w = np.cross(t, u)
    frames = np.stack([u, w, t], axis=2)

    rings = np.clip(np.ceil(h / RING_UM), 0, MAX_RINGS).astype(int)
    verts = [None] * n
    faces = [None] * n
    for k, nr in sorted(set(zip(tmpl.tolist(), rings.tolist()))):
        sel = np.flatnonzero((tmpl == k) & (rings == nr))
        tv, tf = _template(k, nr)
        m = len(tv)
        rough = 1.0 + rng.normal(scale=0.05, size=(len(sel), m, 1))
        loc = np.empty((len(sel), m, 3))
        loc[:, :, :2] = tv[None, :, :2] * r[sel, None, None] * rough
        cap = (np.abs(tv[:, 2]) - 1.0)[None, :] * r[sel, None] * rough[:, :, 0]
        on_cap = np.abs(tv[None, :, 2]) > 1.0
        along = np.where(on_cap, np.sign(tv[None, :, 2]) * (h[sel, None] / 2 + cap), tv[None, :, 2] * h[sel, None] / 2)
        loc[:, :, 2] = along
        world = centres_um[sel, None, :] + np.einsum("nij,nmj->nmi", frames[sel], loc)
        for j, i in enumerate(sel):
            verts[i] = world[j] * 1000.0
            faces[i] = tf
    return MeshBatch.from_meshes(ids, list(zip(verts, faces)))
