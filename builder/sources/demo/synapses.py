"""Synthetic synapses for the demo volume, written with the columns of ``pni_synapses_v185.csv``.

Connections between demo cells are placed where an axon of one cell passes within 2 um of a
dendrite or soma of another (or of itself: a few autapses), so the geometry is consistent for
both partners and reciprocal pairs arise naturally. The rest connect to outside fragments:
inputs on spines and somata, outputs along axons. Inputs on dendrites follow each node's
planted rate (per um of cable, :func:`builder.sources.demo.profiles.coupled_rates`): a Poisson
count per node (drawn from a stream of its own by the inverse CDF), so a neuron's input density is that of real cells (about 1.4 per um of cable in
a pinky100 pyramidal cell) and along basal dendrites it follows the published profile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.stats import poisson

from builder.schema import DEMO_FRAGMENT_ID_BASE, DEMO_SYNAPSE_ID_BASE, EM_VOXEL_NM, LAYER_VOXEL_NM, Compartment
from builder.sources.demo.morphology import FINE_PER_STEP, Morphology, _unit

CONTACT_UM = 2.0
P_CONNECT = 0.35
P_AUTAPSE = 0.03
PRE_PER_UM = 0.12  # fragment outputs per um of axon
N_FRAGMENTS_PER_CELL = 40

SYN_COLUMNS = [
    "id", "pre_root_id", "post_root_id", "cleft_vx",
    "ctr_pt_x_nm", "ctr_pt_y_nm", "ctr_pt_z_nm",
    "pre_pos_x_vx", "pre_pos_y_vx", "pre_pos_z_vx",
    "ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx",
    "post_pos_x_vx", "post_pos_y_vx", "post_pos_z_vx",
]  # fmt: skip


def _surface_points(rng, m: Morphology, nodes: np.ndarray, extra: tuple[float, float]) -> np.ndarray:
    """Points beside ``nodes`` at (radius + U(extra)) um, perpendicular to the neurite."""
    v = m.vertices_um
    par = np.where(m.parent[nodes] >= 0, m.parent[nodes], nodes)
    t = _unit(v[nodes] - v[par] + 1e-9)
    side = _unit(np.cross(t, rng.normal(size=(len(nodes), 3))))
    dist = m.radius_um[nodes] + rng.uniform(*extra, size=len(nodes))
    return v[nodes] + side * dist[:, None]


def poisson_counts(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Poisson counts with means ``mean``, shape (n,), by the inverse CDF at uniforms ``u``: a
    count changes only where its mean does (the rest of the volume keeps its draws)."""
    mean = np.asarray(mean, np.float64)
    out = np.zeros(len(mean), np.int64)
    pos = mean > 0
    out[pos] = poisson.ppf(np.asarray(u)[pos], mean[pos]).astype(np.int64)
    return out


def generate_synapses(
    rng: np.random.Generator, cell_ids: np.ndarray, cell_types: list[str], morphs: list[Morphology], input_rates: list[np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Synapse table of the demo volume in the published columns (ids shuffled like the release).

    As in the release, ``*_pos_*_vx`` are voxels at 3.58 x 3.58 x 40 nm and ``ctr_pt_*_nm`` are
    nominal (``ctr_pos_*_vx * (4, 4, 40)``).

    Parameters
    ----------
    cell_ids : ndarray, shape (c,)
    cell_types : list of str, ``pyramidal`` / ``inhibitory`` / ``astrocyte``
    morphs : list of Morphology, one per cell
    input_rates : list of ndarray, one per cell, shape (N,)
        Planted fragment inputs per um of cable at each node (0 where none).

    Returns
    -------
    table : DataFrame with :data:`SYN_COLUMNS`, sorted by ``id``
    truth_nm : ndarray, shape (n, 3)
        The cleft centre of each row of ``table`` as generated, nm (EM space), before rounding
        to voxels.
    """
    neurons = [i for i, t in enumerate(cell_types) if t != "astrocyte"]
    n_frag = max(200, N_FRAGMENTS_PER_CELL * len(cell_ids))
    fragments = DEMO_FRAGMENT_ID_BASE + np.arange(n_frag, dtype=np.int64)
    rows_pre, rows_post, rows_pos = [], [], []

    # 1. contacts between demo cells
    ax_xyz, ax_cell, de_xyz, de_cell = [], [], [], []
    for i in neurons:
        m = morphs[i]
        ax = np.flatnonzero(m.labels == int(Compartment.AXONAL))[:: 3 * FINE_PER_STEP]  # one per 3.6 um
        de = np.flatnonzero(np.isin(m.labels, [0, 2, 3, 4]))
        ax_xyz.append(m.vertices_um[ax])
        ax_cell.append(np.full(len(ax), i))
        de_xyz.append(m.vertices_um[de])
        de_cell.append(np.full(len(de), i))
    if neurons:
        ax_xyz, ax_cell = np.concatenate(ax_xyz), np.concatenate(ax_cell)
        de_xyz, de_cell = np.concatenate(de_xyz), np.concatenate(de_cell)
        dist, j = cKDTree(de_xyz).query(ax_xyz, k=1, distance_upper_bound=CONTACT_UM)
        hit = np.isfinite(dist)
        pre_c, post_c = ax_cell[hit], de_cell[j[hit]]
        p = np.where(pre_c == post_c, P_AUTAPSE, P_CONNECT)
        keep = rng.random(len(p)) < p
        rows_pre.append(cell_ids[pre_c[keep]])
        rows_post.append(cell_ids[post_c[keep]])
        rows_pos.append((ax_xyz[hit][keep] + de_xyz[j[hit]][keep]) / 2)

    # 2. fragments onto dendrites (spines) and somata; 3. axons onto fragments
    count_rng = np.random.default_rng(rng.integers(1 << 62))  # its own stream: counts move only with their rates
    for i in neurons:
        m = morphs[i]
        edge = np.linalg.norm(m.vertices_um - m.vertices_um[np.maximum(m.parent, 0)], axis=1)
        counts = poisson_counts(count_rng.random(len(edge)), np.asarray(input_rates[i], np.float64) * edge)
        at = np.repeat(np.arange(len(edge)), counts)
        pts = _surface_points(rng, m, at, (0.5, 1.5)) if len(at) else np.zeros((0, 3))
        ks = int(rng.integers(15, 50))
        soma_pts = m.vertices_um[0] + _unit(rng.normal(size=(ks, 3))) * (m.soma_radius_um + 0.2)
        post_pts = np.concatenate([pts, soma_pts])
        rows_pre.append(rng.choice(fragments, size=len(post_pts)))
        rows_post.append(np.full(len(post_pts), cell_ids[i]))
        rows_pos.append(post_pts)
        ax = np.flatnonzero(m.labels == int(Compartment.AXONAL))
        k = rng.poisson(PRE_PER_UM * edge[ax].sum()) if len(ax) else 0
        if k:
            rows_pre.append(np.full(k, cell_ids[i]))
            rows_post.append(rng.choice(fragments, size=k))
            rows_pos.append(_surface_points(rng, m, rng.choice(ax, size=k), (0.1, 0.3)))

    pre = np.concatenate(rows_pre) if rows_pre else np.zeros(0, np.int64)
    post = np.concatenate(rows_post) if rows_post else np.zeros(0, np.int64)
    pos_nm = (np.concatenate(rows_pos) if rows_pos else np.zeros((0, 3))) * 1000.0
    n = len(pre)
    vx = np.asarray(EM_VOXEL_NM)
    ctr_vx = np.round(pos_nm / vx).astype(np.int64)
    shift = np.round(_unit(rng.normal(size=(n, 3))) * [30, 30, 1]).astype(np.int64)
    ids = DEMO_SYNAPSE_ID_BASE + rng.permutation(n).astype(np.int64)
    df = pd.DataFrame(
        np.column_stack(
            [
                ids, pre, post,
                np.round(rng.lognormal(np.log(250), 0.6, size=n)).astype(np.int64),
                ctr_vx * np.asarray(LAYER_VOXEL_NM, np.int64),  # nominal nm, as published
                ctr_vx + shift, ctr_vx, ctr_vx - shift,
            ]
        ),
        columns=SYN_COLUMNS,
    )  # fmt: skip
    order = np.argsort(ids, kind="stable")
    return df.iloc[order].reset_index(drop=True), pos_nm[order]
