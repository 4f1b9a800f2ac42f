"""Mitochondria tiling the dendrites of the demo's pyramidal cells.

Along every branch whose nodes carry a planted mean volume per um ``M(d)`` (um^2) and a latent
value ``z`` (:func:`builder.sources.demo.profiles.planted_rates`), mitochondria are laid end to
end, one gap after each:

- the branch gets as many mitochondria as its planted volume holds on average (sum of ``M``
  over its cable / the model's mean volume), drawn independently from the shape model of the
  branch's compartment: volume and MCI keep the distributions fitted to the real rows;
- the gap after each is the same whatever its size, ``g = mean V / M(d) - mean span`` (span:
  length with the caps), so the volume per um of cable is ``M(d)`` on average;
- their order along the branch follows ``z``: ranked by the volume per um each gives with its
  gap, they are placed so that the highest sits where ``z`` is highest (rank matching, repeated
  :data:`ROUNDS` times because the positions move with the order). Large mitochondria sit where
  ``z`` is high, small ones where it is low: the volume per um follows the latent field, whose
  other components drive the diameter and the synapse density.

The linear coverage follows: the covered fraction is span / (span + gap), 0.6-0.8 on the
demo's basal dendrites (published 0.69-0.9).
"""

from __future__ import annotations

import numpy as np

from builder.sources.demo.mitos import SHAPE_MODEL, Placement, Shapes, tube_shapes
from builder.sources.demo.morphology import Morphology
from builder.sources.demo.profiles import chains

#: Rounds of rank matching (positions depend on the order).
ROUNDS = 3
#: A mitochondrion needs this much branch after its start, um (else it is left out).
MIN_ROOM_UM = 0.5
#: Weight of the latent value against the log of the planted profile when slots are ranked.
KEY_SIGMA = 1.0


def _model_mean_volume(code: int) -> float:
    median, sd = SHAPE_MODEL[code][0], SHAPE_MODEL[code][1]
    return float(median * np.exp(sd**2 / 2))


def _spans(sh: Shapes, rmax: float) -> np.ndarray:
    """Lengths with caps (um) once each radius is capped at ``rmax`` (volume kept)."""
    r0 = np.minimum(sh.r0, rmax)
    return np.maximum((sh.vol / (np.pi * r0**3) - 4 / 3) / sh.i2 * r0, 0.0) + 2 * r0


def _stretches(parent: np.ndarray, planted: np.ndarray) -> list[np.ndarray]:
    """The runs of each branch whose nodes have a planted volume per um."""
    out = []
    for run in chains(parent):
        ok = planted[run]
        cut = np.flatnonzero(np.diff(ok.astype(np.int8))) + 1
        out += [r for r, o in zip(np.split(run, cut), np.split(ok, cut)) if o[0] and len(r) >= 2]
    return out


def tile_branches(
    rng: np.random.Generator, morph: Morphology, mean_um2: np.ndarray, latent: np.ndarray
) -> tuple[Placement, Shapes]:
    """Place tiling mitochondria on every branch with a planted mean volume per um.

    Parameters
    ----------
    morph : Morphology
    mean_um2 : ndarray, shape (N,)
        Planted mean mitochondrial volume per um of cable at each node, um^2; NaN where none.
    latent : ndarray, shape (N,)
        Standard-normal latent value of the volume per um at each node.

    Returns
    -------
    Placement, Shapes
        One entry per tiled mitochondrion, branch by branch.
    """
    v, lab, rad = morph.vertices_um, morph.labels, morph.radius_um
    mean = np.asarray(mean_um2, np.float64)
    runs = _stretches(morph.parent, np.isfinite(mean))
    codes = []
    for run in runs:
        own = lab[run][np.isin(lab[run], list(SHAPE_MODEL)) & (lab[run] != 0)]
        codes.append(int(np.bincount(own).argmax()) if len(own) else 2)
    places, shapes = [], []
    for code in sorted(set(codes)):
        group = [r for r, c in zip(runs, codes) if c == code]
        place, sh = _tile_group(rng, v, rad, group, code, mean, latent)
        if len(place.node):
            places.append(place)
            shapes.append(sh)
    if not places:
        empty = Placement(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
        return empty, tube_shapes(rng, np.zeros(0, np.int64))
    place = Placement(
        np.concatenate([p.node for p in places]), np.concatenate([p.intended for p in places]),
        np.concatenate([p.somatic for p in places]), tuple(c for p in places for c in p.chain),
        np.concatenate([p.start_um for p in places]),
    )  # fmt: skip
    return place, Shapes(*(np.concatenate([getattr(s, f) for s in shapes]) for f in Shapes.__dataclass_fields__))


def _tile_group(rng, v, rad, runs, code, mean, latent) -> tuple[Placement, Shapes]:
    """Tile the branches ``runs`` (one compartment) of a cell: counts per branch from the planted
    volume, one set of mitochondria for them all, ordered across branches by the local target."""
    mv = _model_mean_volume(code)
    arcs = [np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(v[r], axis=0), axis=1))]) for r in runs]
    expected = np.array([np.sum(np.diff(a) * 0.5 * (mean[r][1:] + mean[r][:-1])) / mv for r, a in zip(runs, arcs)])
    counts = np.floor(expected).astype(int) + (rng.uniform(size=len(runs)) < expected - np.floor(expected))
    n = int(counts.sum())
    if n == 0:
        return Placement(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)), tube_shapes(rng, np.zeros(0, np.int64))
    sh = tube_shapes(rng, np.full(n, code, np.int64))
    rmax = 0.7 * max(float(np.median(np.concatenate([rad[r] for r in runs]))), 0.05 / 0.7)
    span = _spans(sh, rmax)
    slot_run = np.repeat(np.arange(len(runs)), counts)
    key = np.argsort(np.argsort(sh.vol / (span + span.mean())))  # rank by volume per um of cable
    phases = rng.uniform(size=len(runs))
    order = rng.permutation(n)  # slot k holds mitochondrion order[k]

    def layout(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, target = np.empty(n), np.empty(n)
        for j, (r, a) in enumerate(zip(runs, arcs)):
            k = np.flatnonzero(slot_run == j)
            if not len(k):
                continue
            s = span[order[k]]
            gap = max((a[-1] - s.sum()) / len(k), -0.5 * s.mean())  # the branch filled end to end
            start = np.concatenate([[0.0], np.cumsum(s + gap)[:-1]]) + phases[j] * max(gap, 0.0)
            pos[k] = start
            mid = np.clip(start + s / 2, 0.0, a[-1])
            # the local target: planted mean (its distance profile) times the latent factor
            target[k] = np.log(np.interp(mid, a, mean[r])) + KEY_SIGMA * np.interp(mid, a, latent[r])
        return pos, target

    for _ in range(ROUNDS):
        _, target = layout(order)
        slot_rank = np.argsort(np.argsort(target))
        order = np.argsort(key)[slot_rank]  # the slot of rank q gets the mitochondrion of rank q
    pos, _ = layout(order)
    nodes = np.empty(n, np.int64)
    keep = np.ones(n, bool)
    for j, (r, a) in enumerate(zip(runs, arcs)):
        k = np.flatnonzero(slot_run == j)
        keep[k] = pos[k] < a[-1] - MIN_ROOM_UM  # a branch too full: the last ones do not fit
        pos[k] = np.clip(pos[k], 0.0, a[-1])
        nodes[k] = r[np.minimum(np.searchsorted(a, pos[k] + span[order[k]] / 2), len(r) - 1)]
    k = np.flatnonzero(keep)
    place = Placement(
        nodes[k], np.full(len(k), code, np.int64), np.zeros(len(k), bool), tuple(runs[j] for j in slot_run[k]), pos[k]
    )
    return place, sh.take(order[k])
