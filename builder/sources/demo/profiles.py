"""What the demo plants along dendrites: the published profiles and their segment-level coupling.

The demo is the positive control of the analysis (``python -m builder analyze``). Along the
dendrites of pyramidal cells it plants, as functions of the path distance ``d`` to the soma
surface (um), the published relationships of Turner et al. 2022, Fig. 5 (real basal dendrites,
MicronsBinder ``distance_to_soma.ipynb``):

- median dendrite diameter ``D(d)``: about 0.84 um near the soma tapering to 0.48 um at 150 um;
- input synapse density ``S(d)``: 0.8 per um near the soma, 1.85 at 55-65 um, about 1.5 at
  145 um (a real pinky100 pyramidal cell has about 1.4 inputs per um of all its cable);
- mitochondrial volume per um ``M(d)``: 0.021 um^2 rising to 0.031 um^2; the mitochondria tile
  the cable (each is followed by a gap so that the volume per um follows ``M``: linear coverage
  0.7-1, published 0.69-0.9).

Around these means, every dendritic node carries a latent vector ``z`` (diameter, volume per
um, synapse density) that varies smoothly along the tree: an AR(1) process of correlation
length :data:`LATENT_UM` along each branch, a child branch starting from its parent's value,
with correlations :data:`LATENT_CORR`. The node's diameter and synapse rate are the means
times ``exp(sigma z - sigma^2 / 2)`` (mean-preserving); the volume component chooses which
mitochondria sit there: at a node with latent value z, the tiling takes a mitochondrion at the
quantile Phi(z) of its compartment's cross-sections (volume / length), so the drawn shapes keep
their fitted distribution while thick mitochondria sit where the latent field is high
(:mod:`builder.sources.demo.tiling`). Poisson synapse counts and whole mitochondria add their own
noise; the correlations were tuned so that the segment-level correlations beyond 60 um come out
near the published r (0.51, 0.37, 0.40; 0.18 after diameter). ``demo_truth/`` records both the latent parameters and the
segments measured on the generator's own geometry (see :mod:`builder.sources.demo.truth`).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from builder.schema import Compartment

#: Control points (distance to the soma surface um, value), linear in between, flat beyond.
DIAMETER_UM: tuple[tuple[float, float], ...] = ((0.0, 0.84), (150.0, 0.48), (300.0, 0.42))
SYNAPSES_PER_UM: tuple[tuple[float, float], ...] = ((0.0, 0.8), (60.0, 1.85), (145.0, 1.5), (300.0, 1.4))
MITO_UM2_PER_UM: tuple[tuple[float, float], ...] = ((0.0, 0.021), (150.0, 0.031), (300.0, 0.031))
#: Apical dendrites and their branches: flat profiles (the published figure is of basal ones).
APICAL = {"diameter_um": None, "synapses_per_um": 1.5, "mito_um2_per_um": 0.026}
#: Dendrites of interneurons: a flat input density and no planted coupling (a negative control).
INTERNEURON_SYNAPSES_PER_UM = 1.0

#: Order of the latent components.
LATENT_NAMES: tuple[str, str, str] = ("diameter", "mito_volume_per_um", "synapse_density")
#: Correlation of the latent components (diameter, volume per um, synapse density).
LATENT_CORR = np.array([[1.0, 0.92, 0.5], [0.92, 1.0, 0.62], [0.5, 0.62, 1.0]])
#: SD in log space of the diameter and synapse-rate components (the volume component picks a
#: quantile of the mitochondria's cross-sections instead: no SD of its own).
LATENT_SIGMA = np.array([0.16, 0.0, 0.35])
#: Correlation length of the latent field along the cable, um.
LATENT_UM = 40.0

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
    """The latent vectors of every node, shape (N, 3), standard normal marginals.

    One AR(1) filter per branch (vectorised along it), started from the parent node's value.

    Parameters
    ----------
    parent : ndarray, shape (N,), int; parents precede children
    step_um : ndarray, shape (N,); length of each node's edge to its parent, um
    """
    n = len(parent)
    chol = np.linalg.cholesky(LATENT_CORR)
    z = np.zeros((n, 3))
    eps = rng.normal(size=(n, 3)) @ chol.T
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
    """Per-node planted diameter (um, NaN where the generator's own taper is kept), input
    synapse rate (per um), mean mitochondrial volume per um (um^2, NaN where mitochondria are
    placed at random) and the latent component of the volume per um (standard normal; the
    tiling picks mitochondria of a cross-section at that quantile), shape (N,) each."""
    n = len(parent)
    lab = np.asarray(labels)
    diam, rate, mvol, zm = np.full(n, np.nan), np.zeros(n), np.full(n, np.nan), np.zeros(n)
    out = {"diameter_um": diam, "synapses_per_um": rate, "mito_um2_per_um": mvol, "mito_latent": zm}
    dend = np.isin(_grown_labels(parent, lab), DENDRITE) & (lab != int(Compartment.SOMATIC))
    if cell_type == "inhibitory":
        rate[dend] = INTERNEURON_SYNAPSES_PER_UM
        return out
    if cell_type != "pyramidal":
        return out
    z = latent_field(rng, parent, step_um)
    zm[:] = z[:, 1]
    mult = np.exp(LATENT_SIGMA[None, :] * z - LATENT_SIGMA[None, :] ** 2 / 2)
    basal = dend & (lab != int(Compartment.APICAL))
    apical = lab == int(Compartment.APICAL)
    d = np.asarray(dist_um, np.float64)
    diam[basal] = profile(DIAMETER_UM, d[basal]) * mult[basal, 0]
    mvol[basal] = profile(MITO_UM2_PER_UM, d[basal])
    rate[basal] = profile(SYNAPSES_PER_UM, d[basal]) * mult[basal, 2]
    mvol[apical] = APICAL["mito_um2_per_um"]
    rate[apical] = APICAL["synapses_per_um"] * mult[apical, 2]
    return out


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
            "sigma_log": LATENT_SIGMA.tolist(),
            "correlation_length_um": LATENT_UM,
        },  # fmt: skip
    }
