"""What the demo plants along dendrites: the published profiles and their segment-level coupling.

The demo is the positive control of the analysis (``python -m builder analyze``). Along the
basal dendrites of pyramidal cells it plants, as functions of the path distance ``d`` to the
soma surface (um), the published relationships of Turner et al. 2022, Fig. 5 (real basal
dendrites, MicronsBinder ``distance_to_soma.ipynb``):

- median dendrite diameter ``D(d)``: about 0.84 um near the soma tapering to 0.48 um at 150 um;
- input synapse density ``S(d)``: 0.8 per um near the soma, 1.85 at 55-65 um, about 1.5 at
  145 um (a real pinky100 pyramidal cell has about 1.4 inputs per um of all its cable);
- mitochondrial volume per um of cable ``M``: 0.0245 um^2 (apical dendrites 0.026), laid by
  :mod:`builder.sources.demo.tiling`, whose whole mitochondria realise it with a covered
  fraction of about 0.8 (published 0.69-0.9); what a segment holds rises from about 0.023 um^2
  per um near the soma to 0.027 beyond 60 um (published 0.021 to 0.031), as the first tens of
  um of a branch hold a little less.

The segment-level relationships are planted between what the mitochondria realise and the
other two: every dendritic node carries a latent vector (diameter, volume per um, synapse
density) with correlations :data:`LATENT_CORR`. Its volume component is the volume per um the
mitochondria realise around the node (over a segment's length), relative to ``M``, over
:data:`REALISED_CV`; its other two are drawn given it, from two latent fields that vary along
the tree (AR(1) of correlation length :data:`LATENT_UM`, a child branch starting from its
parent's value; :func:`coupled_rates`). The node's diameter and input rate are the means times
``exp(sigma z - sigma^2 / 2)`` (:data:`SIGMA_LOG`), and inputs are Poisson counts per node.
Interneurons are the negative control: a flat input density, no coupling.

On the default demo ``analyze`` finds, beyond 60 um (published in brackets): r = 0.385 (0.373)
and slope 17.3 (17.8) for volume per um -> synapse density, 0.507 (0.514) for diameter ->
volume per um, 0.400 (0.402) for diameter -> synapse density, 0.199 (0.181) after the
diameter. The correlations and SDs were tuned on the mean of seeds 1-12 (40 cells each: r =
0.374, 0.515, 0.406, 0.180, SD over seeds about 0.03; slope 17.9, SD 1.6); docs/demo.md has
the details. ``demo_truth/`` records what was planted and the segments measured on the
generator's own geometry (:mod:`builder.sources.demo.truth`).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from builder.schema import Compartment

#: Control points (distance to the soma surface um, value), linear in between, flat beyond.
DIAMETER_UM: tuple[tuple[float, float], ...] = ((0.0, 0.84), (150.0, 0.48), (300.0, 0.42))
SYNAPSES_PER_UM: tuple[tuple[float, float], ...] = ((0.0, 0.8), (60.0, 1.85), (145.0, 1.5), (300.0, 1.4))
MITO_UM2_PER_UM: tuple[tuple[float, float], ...] = ((0.0, 0.0245), (300.0, 0.0245))
#: Apical dendrites and their branches: flat profiles (the published figure is of basal ones).
APICAL = {"diameter_um": None, "synapses_per_um": 1.5, "mito_um2_per_um": 0.026}
#: Dendrites of interneurons: a flat input density and no planted coupling (a negative control).
INTERNEURON_SYNAPSES_PER_UM = 1.0

#: Order of the latent components.
LATENT_NAMES: tuple[str, str, str] = ("diameter", "mito_volume_per_um", "synapse_density")
#: Correlation of the latent components (diameter, volume per um, synapse density); the volume
#: component is the volume per um the mitochondria realise (:func:`coupled_rates`).
LATENT_CORR = np.array([[1.0, 0.542, 0.457], [0.542, 1.0, 0.428], [0.457, 0.428, 1.0]])
#: SD in log space of the diameter and of the input rate around their means.
SIGMA_LOG = {"diameter": 0.2, "synapse_density": 0.36}
#: The realised volume per um, relative to its planted mean, has about this SD at the scale of
#: a segment: its deviation over this is the volume component of the latent vector.
REALISED_CV = 0.6
#: Correlation length of the latent fields along the cable, um.
LATENT_UM = 15.0

DENDRITE = (int(Compartment.BASAL), int(Compartment.APICAL), int(Compartment.UNKNOWN_DENDRITIC), int(Compartment.UNKNOWN))


def profile(points: tuple[tuple[float, float], ...], d_um: np.ndarray) -> np.ndarray:
    """The piecewise-linear profile through ``points`` at distances ``d_um`` (flat outside)."""
    x, y = np.array(points).T
    return np.interp(np.asarray(d_um, np.float64), x, y)


def chains(parent: np.ndarray) -> list[np.ndarray]:
    """Maximal runs of consecutive node ids each child of the one before: the branches as the
    generator grew them (a branch's nodes are appended in order after its start node)."""
    parent = np.asarray(parent, np.int64)
    n = len(parent)
    starts = np.flatnonzero((parent != np.arange(n) - 1) | (np.arange(n) == 0))
    return np.split(np.arange(n), starts[1:]) if n else []


def latent_field(rng: np.random.Generator, parent: np.ndarray, step_um: np.ndarray) -> np.ndarray:
    """Three independent latent fields at every node, shape (N, 3), standard normal marginals.

    One AR(1) filter per branch (vectorised along it), started from the parent node's value.

    Parameters
    ----------
    parent : ndarray, shape (N,), int; parents precede children
    step_um : ndarray, shape (N,); length of each node's edge to its parent, um
    """
    n = len(parent)
    z = np.zeros((n, 3))
    eps = rng.normal(size=(n, 3))
    for run in chains(parent):
        start = int(parent[run[0]])
        rho = np.exp(-np.median(np.asarray(step_um)[run]) / LATENT_UM) if len(run) else 0.0
        z0 = z[start] if start >= 0 else eps[run[0]]
        # z_k = rho z_{k-1} + sqrt(1 - rho^2) eps_k, from z_{-1} = z0
        z[run] = lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], eps[run], axis=0, zi=(rho * z0)[None, :])[0]
    return z


def _grown_labels(parent: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each node's label, with the short "Unknown" stretches the generator paints over branches
    replaced by their branch's own label (an Unknown stretch of an axon stays axonal)."""
    lab = np.asarray(labels).copy()
    unknown, soma = int(Compartment.UNKNOWN), int(Compartment.SOMATIC)
    for run in chains(parent):
        own = lab[run][(lab[run] != unknown) & (lab[run] != soma)]
        if len(own):
            vals, counts = np.unique(own, return_counts=True)
            lab[run[lab[run] == unknown]] = vals[np.argmax(counts)]
    return lab


def planted_rates(
    rng: np.random.Generator, parent: np.ndarray, labels: np.ndarray, step_um: np.ndarray, dist_um: np.ndarray, cell_type: str
) -> dict[str, np.ndarray]:
    """What is planted at every node before the mitochondria are laid.

    Parameters
    ----------
    parent : ndarray, shape (N,), int; parents precede children
    labels : ndarray, shape (N,), int; our compartment codes
    step_um : ndarray, shape (N,); each node's edge to its parent, um
    dist_um : ndarray, shape (N,); path distance to the soma surface, um
    cell_type : str; ``pyramidal``, ``inhibitory`` or ``astrocyte``

    Returns
    -------
    dict of ndarray, shape (N,) each (``latent`` (N, 3))
        ``diameter_um``: the mean diameter profile, um (NaN where the generator's own taper is
        kept); ``synapses_per_um``: the mean input rate, per um (the final rates of
        interneurons); ``mito_um2_per_um``: the mean volume per um of cable the tiling plants,
        um^2 (NaN where mitochondria are placed at random); ``mito_order``: the latent value
        the tiling orders them by; ``latent``: the latent fields (that order, and two that
        :func:`coupled_rates` mixes with the realised volume).
    """
    n = len(parent)
    lab = np.asarray(labels)
    diam, rate, mvol, order = np.full(n, np.nan), np.zeros(n), np.full(n, np.nan), np.full(n, np.nan)
    out = {"diameter_um": diam, "synapses_per_um": rate, "mito_um2_per_um": mvol, "mito_order": order,
           "latent": np.zeros((n, 3))}  # fmt: skip
    dend = np.isin(_grown_labels(parent, lab), DENDRITE) & (lab != int(Compartment.SOMATIC))
    if cell_type == "inhibitory":
        rate[dend] = INTERNEURON_SYNAPSES_PER_UM
        return out
    if cell_type != "pyramidal":
        return out
    out["latent"] = z = latent_field(rng, parent, step_um)
    basal = dend & (lab != int(Compartment.APICAL))
    apical = lab == int(Compartment.APICAL)
    d = np.asarray(dist_um, np.float64)
    diam[basal] = profile(DIAMETER_UM, d[basal])
    rate[basal] = profile(SYNAPSES_PER_UM, d[basal])
    rate[apical] = APICAL["synapses_per_um"]
    mvol[basal] = profile(MITO_UM2_PER_UM, d[basal])
    mvol[apical] = APICAL["mito_um2_per_um"]
    order[np.isfinite(mvol)] = z[np.isfinite(mvol), 0]
    return out


def coupled_rates(planted: dict[str, np.ndarray], realised_um2_per_um: np.ndarray) -> dict[str, np.ndarray]:
    """The final diameter (um) and input rate (per um) of every node, shape (N,) each, drawn
    conditionally on the volume per um the mitochondria realise there.

    The volume component of the latent vector is the realised volume per um relative to its
    planted mean, ``(realised / mean - 1) / REALISED_CV`` (clipped to -2.5..3); the diameter and
    synapse components are mixed from it and two independent latent fields so that the three
    have the correlations :data:`LATENT_CORR`. Nodes without a realised volume keep the means
    (the rates of interneurons: no coupling).

    Parameters
    ----------
    planted : dict, from :func:`planted_rates`
    realised_um2_per_um : ndarray, shape (N,)
        Mitochondrial volume per um of cable realised around each node, um^2; NaN where none
        was planted.
    """
    mean = planted["mito_um2_per_um"]
    dev = np.clip((np.asarray(realised_um2_per_um, np.float64) / mean - 1) / REALISED_CV, -2.5, 3.0)
    have = np.isfinite(dev)
    perm = [1, 0, 2]  # volume first: the others conditional on it
    chol = np.linalg.cholesky(LATENT_CORR[np.ix_(perm, perm)])
    e = np.column_stack([np.where(have, dev, 0.0), planted["latent"][:, 1], planted["latent"][:, 2]])
    z = e @ chol.T  # columns: volume, diameter, synapses
    diam, rate = planted["diameter_um"].copy(), planted["synapses_per_um"].copy()
    for out, col, s in ((diam, 1, SIGMA_LOG["diameter"]), (rate, 2, SIGMA_LOG["synapse_density"])):
        out[have] *= np.exp(s * z[have, col] - s**2 / 2)  # mean-preserving for a standard normal z
    return {"diameter_um": diam, "synapses_per_um": rate}


def planted_record() -> dict:
    """The planted parameters, for ``demo_truth/planted.json``."""
    return {
        "profiles_basal": {
            "diameter_um": [list(p) for p in DIAMETER_UM],
            "synapses_per_um": [list(p) for p in SYNAPSES_PER_UM],
            "mito_um2_per_um": [list(p) for p in MITO_UM2_PER_UM],
            "about": "(distance to the soma surface um, value) control points, linear in between, flat beyond",
        },
        "apical": APICAL,
        "interneuron_synapses_per_um": INTERNEURON_SYNAPSES_PER_UM,
        "latent": {
            "names": list(LATENT_NAMES),
            "corr": LATENT_CORR.tolist(),
            "sigma_log": SIGMA_LOG,
            "realised_cv": REALISED_CV,
            "correlation_length_um": LATENT_UM,
        },  # fmt: skip
    }
