"""Mitochondria tiling the dendrites of the demo's pyramidal cells.

Every dendritic node of a pyramidal cell carries a planted mean volume per um of cable ``M``
(um^2, :data:`builder.sources.demo.profiles.MITO_UM2_PER_UM`) and a latent value that orders the
mitochondria (:func:`builder.sources.demo.profiles.planted_rates`). The branches of one
compartment of a cell (a run of a grown branch, :func:`_stretches`) are tiled together:

- the compartment gets as many mitochondria as its planted volume holds (the integral of ``M``
  over its cable / the model's mean volume), drawn from the compartment's shape model
  (:func:`builder.sources.demo.mitos.tube_shapes`, stratified): volume and MCI keep the
  distributions fitted to the real rows; a tube is at most :data:`RADIUS_CAP` of the
  dendrite's median radius thick (about 0.16 um: 1.5 % of the basal ones are capped, longer for
  the same volume);
- each owns a stretch of cable: its length plus a gap growing as the square root of its length
  (:data:`GAP_EXPONENT`), the gaps scaled so that the stretches fill the cable measured in a
  coordinate weighted by ``M`` / its mean: the covered fraction, hence the volume per um, is in
  proportion to ``M``;
- stretches are packed into branches, the longest first, each into the branch with the most
  room left (:func:`_pack`); within a branch they are ordered so that the thickest (volume /
  length) sit where the latent value is highest (rank matching, :func:`_order_in_branches`),
  except at the branch's two ends, where a branch cuts the sequence of mitochondria at a random
  point and meets a long one more often than a short one (drawn with weights length **
  :data:`END_BIAS`); the stretches are scaled to fill the branch, each mitochondrion centred in
  its own, and the whole spread so that the first and the last are :data:`END_GAP_UM` from the
  branch's ends.

On the default demo this covers 0.71-0.90 of the cable in the drawn bins of basal segments
(published 0.69-0.9; docs/demo.md). What it realises is then measured
(:func:`_smoothed_density`): the diameters and input rates are drawn given the volume per um the
mitochondria realise around each node (:func:`builder.sources.demo.profiles.coupled_rates`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from builder.sources.demo.mitos import (
    MITOS_PER_CELL,
    REAL_SHARES,
    SHAPE_MODEL,
    Placement,
    Shapes,
    concat_placements,
    model_mean_volume,
    place_mitochondria,
    tube_shapes,
)
from builder.sources.demo.morphology import Morphology
from builder.sources.demo.profiles import chains, coupled_rates, planted_rates

if TYPE_CHECKING:
    from builder.compute.skeleton import Tree

#: Rounds of rank matching (the stretches move with the order).
ROUNDS = 4
#: Half-width of the window over which the realised volume per um is taken, um (half a segment).
SMOOTH_UM = 5.0
#: A mitochondrion's gap grows as its length (with caps) to this power.
GAP_EXPONENT = 0.5
#: Gap left at each end of a branch, um.
END_GAP_UM = 0.3
#: The mitochondrion at each end of a branch is drawn with weights (its stretch) ** END_BIAS.
END_BIAS = 0.5
#: Tiled tubes are at most this fraction of their dendrites' median radius thick.
RADIUS_CAP = 0.45


def _capped(sh: Shapes, rmax: float) -> Shapes:
    """The tubes with their radius capped at ``rmax`` (um), longer for the same volume."""
    r0 = np.minimum(sh.r0, rmax)
    length = np.maximum((sh.vol / (np.pi * r0**3) - 4 / 3) / sh.i2 * r0, 0.0)
    return replace(sh, r0=r0, length=length)


def _stretches(parent: np.ndarray, planted: np.ndarray) -> list[np.ndarray]:
    """The runs of each branch whose nodes have a planted volume per um."""
    out = []
    for run in chains(parent):
        ok = planted[run]
        cut = np.flatnonzero(np.diff(ok.astype(np.int8))) + 1
        out += [r for r, o in zip(np.split(run, cut), np.split(ok, cut)) if o[0] and len(r) >= 2]
    return out


def _empty(rng: np.random.Generator) -> tuple[Placement, Shapes]:
    return Placement(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)), tube_shapes(rng, np.zeros(0, np.int64))


def tile_branches(
    rng: np.random.Generator, morph: Morphology, um2_per_um: np.ndarray, order_key: np.ndarray
) -> tuple[Placement, Shapes, np.ndarray]:
    """Place tiling mitochondria on every branch with a planted volume per um.

    Parameters
    ----------
    morph : Morphology
    um2_per_um : ndarray, shape (N,)
        Planted mean mitochondrial volume per um of cable at each node, um^2 (> 0); NaN where
        none.
    order_key : ndarray, shape (N,)
        Where it is highest the thickest mitochondria go (within each branch).

    Returns
    -------
    Placement, Shapes
        One entry per tiled mitochondrion, compartment by compartment.
    realised : ndarray, shape (N,)
        The volume per um of cable the mitochondria realise around each tiled node (over
        :data:`SMOOTH_UM` either side, within its branch), um^2; NaN elsewhere.
    """
    lab = morph.labels
    planted = np.asarray(um2_per_um, np.float64)
    runs = _stretches(morph.parent, np.isfinite(planted))
    codes = []
    for run in runs:
        own = lab[run][np.isin(lab[run], list(SHAPE_MODEL)) & (lab[run] != 0)]
        codes.append(int(np.bincount(own).argmax()) if len(own) else 2)
    places, shapes = [], []
    realised = np.full(len(planted), np.nan)
    for code in sorted(set(codes)):
        group = [r for r, c in zip(runs, codes) if c == code]
        place, sh, density = _tile_group(rng, morph, group, code, planted, np.asarray(order_key, np.float64))
        realised[np.concatenate(group)] = density
        if len(place.node):
            places.append(place)
            shapes.append(sh)
    if not places:
        return (*_empty(rng), realised)
    place = Placement(
        np.concatenate([p.node for p in places]), np.concatenate([p.intended for p in places]),
        np.concatenate([p.somatic for p in places]), tuple(c for p in places for c in p.chain),
        np.concatenate([p.start_um for p in places]),
    )  # fmt: skip
    shapes = Shapes(*(np.concatenate([getattr(s, f) for s in shapes]) for f in Shapes.__dataclass_fields__))
    return place, shapes, realised


def plant_cell(rng: np.random.Generator, rng_planted: np.random.Generator, m: Morphology, tree_nm: Tree, cell_type: str) -> tuple:
    """What is planted along the cell's dendrites (own random stream ``rng_planted``) and its
    mitochondria (``rng``): pyramidal dendrites tiled at the planted volume per um, soma and
    axon as before, and the diameters and input rates drawn given the volume per um the
    mitochondria realise (:mod:`builder.sources.demo.profiles`).

    Returns
    -------
    Morphology (with the planted radii), Placement, Shapes or None, dict of per-node rates
    """
    planted = planted_rates(
        rng_planted, m.parent, m.labels, tree_nm.edge_lengths_um(), tree_nm.distance_to_soma_um(m.labels), cell_type
    )
    has_d = np.isfinite(planted["diameter_um"])
    m = replace(m, radius_um=np.where(has_d, planted["diameter_um"] / 2, m.radius_um))  # the mean profile, for the tiling
    if cell_type == "pyramidal":
        tiled, tiled_shapes, realised = tile_branches(rng, m, planted["mito_um2_per_um"], planted["mito_order"])
        rest = {c: REAL_SHARES[c] for c in (0, 1)}
        n_rest = int(round(len(tiled.node) * sum(rest.values()) / (1 - sum(rest.values()))))
        others = place_mitochondria(rng, m, n_rest, cell_type, shares=rest)
        place = concat_placements(tiled, others)
        shapes = Shapes.concat(tiled_shapes, tube_shapes(rng, others.intended))
    else:
        n_mito = int(rng.integers(*MITOS_PER_CELL[cell_type], endpoint=True))
        place, shapes, realised = place_mitochondria(rng, m, n_mito, cell_type), None, np.full(len(m.parent), np.nan)
    rates = coupled_rates(planted, realised)
    return replace(m, radius_um=np.where(has_d, rates["diameter_um"] / 2, m.radius_um)), place, shapes, rates


class _Line(NamedTuple):
    """The branches of a group end to end. Per node (concatenated branch by branch): ``x``, the
    cable coordinate (um); ``u``, the coordinate weighted by the planted volume per um over its
    mean (um); ``run``, its branch. Per branch: offsets and lengths in both. ``volume``: the
    planted volume of the whole line, um^3."""

    x: np.ndarray
    u: np.ndarray
    run: np.ndarray
    x_off: np.ndarray
    x_len: np.ndarray
    u_off: np.ndarray
    u_len: np.ndarray
    volume: float


def _line(v: np.ndarray, runs: list[np.ndarray], planted: np.ndarray) -> _Line:
    """The branches ``runs`` end to end (:class:`_Line`), ``planted`` (N,) the mean volume per
    um of cable at each node, um^2."""
    nodes = np.concatenate(runs)
    node_run = np.repeat(np.arange(len(runs)), [len(r) for r in runs])
    step = np.linalg.norm(np.diff(v[nodes], axis=0), axis=1) * (np.diff(node_run) == 0)  # none between branches
    m = planted[nodes]
    m_edge = 0.5 * (m[1:] + m[:-1])
    weight = m_edge / (np.sum(step * m_edge) / max(step.sum(), 1e-12))
    x = np.concatenate([[0.0], np.cumsum(step)])
    u = np.concatenate([[0.0], np.cumsum(step * weight)])
    first = np.concatenate([[0], np.cumsum([len(r) for r in runs])[:-1]])
    last = first + np.array([len(r) for r in runs]) - 1
    return _Line(x, u, node_run, x[first], x[last] - x[first], u[first], u[last] - u[first], float(np.sum(step * m_edge)))


def _tile_group(rng, morph: Morphology, runs: list[np.ndarray], code: int, planted: np.ndarray, key: np.ndarray) -> tuple:
    """Tile the branches ``runs`` (one compartment) of a cell (module docstring)."""
    line = _line(morph.vertices_um, runs, planted)
    expected = line.volume / model_mean_volume(code)
    n = int(np.floor(expected) + (rng.uniform() < expected - np.floor(expected)))
    if n == 0:
        return (*_empty(rng), np.zeros(len(line.x)))
    sh = tube_shapes(rng, np.full(n, code, np.int64))
    nodes = np.concatenate(runs)
    sh = _capped(sh, RADIUS_CAP * max(float(np.median(morph.radius_um[nodes])), 0.05 / RADIUS_CAP))
    span = sh.length + 2 * sh.r0
    gap = span**GAP_EXPONENT
    stretch = span + gap * max(line.u[-1] - span.sum(), 0.0) / gap.sum()  # they fill the weighted line
    run = _pack(stretch, line.u_len)
    order, lo_u, hi_u = _order_in_branches(rng, run, np.log(sh.vol / span), stretch, line.u, line.u_off, line.u_len, key[nodes])
    run, s = run[order], span[order]
    lo, hi = (np.interp(line.u_off[run] + w, line.u, line.x) - line.x_off[run] for w in (lo_u, hi_u))
    start = _to_ends(run, (lo + hi) / 2, s, line.x_len) - s / 2
    start = np.maximum(np.minimum(start, line.x_len[run] - s), 0.0)  # inside its branch
    first = np.searchsorted(line.run, np.arange(len(runs)))
    at = np.searchsorted(line.x, line.x_off[run] + np.minimum(start + s / 2, line.x_len[run]))
    node = nodes[np.clip(at, first[run], first[run] + np.array([len(r) for r in runs])[run] - 1)]
    place = Placement(node, np.full(n, code, np.int64), np.zeros(n, bool), tuple(runs[j] for j in run), start)
    begin = line.x_off[run] + start
    end = line.x_off[run] + np.minimum(start + s, line.x_len[run])  # a tube longer than its branch is squeezed into it
    return place, sh.take(order), _smoothed_density(begin, end, sh.vol[order], line)


def _pack(stretch: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The branch of each stretch, shape (n,): the longest first, each into the branch with the
    most room left (``lens``, shape (R,), and ``stretch`` in um), so that the long
    mitochondria go to long branches and every branch gets a mixture."""
    room = np.asarray(lens, np.float64).copy()
    run = np.empty(len(stretch), np.int64)
    for i in np.argsort(-stretch, kind="stable"):  # sequential: each takes room from the next
        j = int(np.argmax(room))
        run[i] = j
        room[j] -= stretch[i]
    return run


def _to_ends(run: np.ndarray, centre: np.ndarray, span: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The centres (um) spread linearly within each branch so that its first mitochondrion
    starts and its last ends :data:`END_GAP_UM` from the branch's ends (a branch's ends are not
    left bare); a branch with one mitochondrion gets it centred.

    Parameters
    ----------
    run, centre, span : ndarray, shape (n,); branch, centre (um) and length (um) of each
    lens : ndarray, shape (R,); branch lengths, um
    """
    r = len(lens)
    lo, hi = np.full(r, np.inf), np.full(r, -np.inf)
    np.minimum.at(lo, run, centre)
    np.maximum.at(hi, run, centre)
    is_first, is_last = centre == lo[run], centre == hi[run]
    s_first, s_last = np.zeros(r), np.zeros(r)
    s_first[run[is_first]], s_last[run[is_last]] = span[is_first], span[is_last]
    many = hi > lo  # branches with more than one
    room = lens - 2 * END_GAP_UM - (s_first + s_last) / 2
    b = np.where(many, np.maximum(room, 0.0) / np.where(many, hi - lo, 1.0), 0.0)
    a = np.where(many, END_GAP_UM + s_first / 2 - b * np.where(many, lo, 0.0), lens / 2)
    return a[run] + b[run] * centre


def _length_biased_ends(rng: np.random.Generator, seq: np.ndarray, stretch: np.ndarray) -> np.ndarray:
    """``seq`` with its first and last mitochondria swapped for ones drawn in proportion to
    their stretch: a branch's end cuts the sequence at a random point, so the one it meets is
    drawn by length (not a typical, short one)."""
    seq = seq.copy()
    for end in (0, len(seq) - 1)[: max(len(seq) - 1, 0)]:  # one end of two, both of more
        w = stretch[seq] ** END_BIAS
        k = int(rng.choice(len(seq), p=w / w.sum()))
        seq[[end, k]] = seq[[k, end]]
    return seq


def _order_in_branches(
    rng: np.random.Generator,
    run: np.ndarray, key: np.ndarray, stretch: np.ndarray, cable: np.ndarray, off: np.ndarray, lens: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Order the stretches of every branch so that the highest ``key`` sits where ``target`` is
    highest (rank matching at the stretches' middles, :data:`ROUNDS` times), the stretches
    scaled to fill the branch.

    Parameters
    ----------
    run, key, stretch : ndarray, shape (n,); branch, ranking key and stretch (um) of each
    cable, target : ndarray, shape (N,); line coordinate (um) and target of each node
    off, lens : ndarray, shape (R,); each branch's offset and length on the line, um

    Returns
    -------
    order : ndarray, shape (n,), the mitochondria branch by branch, in their order along it
    lo, hi : ndarray, shape (n,), where each stretch of ``order`` starts and ends in its branch, um
    """
    order, lo, hi = [], [], []
    for j in np.unique(run):  # one rank matching per branch
        mine = np.flatnonzero(run == j)
        mine = mine[np.argsort(key[mine], kind="stable")]
        scale = lens[j] / stretch[mine].sum()
        seq = mine
        for _ in range(ROUNDS):
            mid = off[j] + scale * (np.cumsum(stretch[seq]) - stretch[seq] / 2)
            seq = mine[np.argsort(np.argsort(np.interp(mid, cable, target), kind="stable"))]
        seq = _length_biased_ends(rng, seq, stretch)
        end = scale * np.cumsum(stretch[seq])
        order.append(seq)
        lo.append(end - scale * stretch[seq])
        hi.append(end)
    return np.concatenate(order), np.concatenate(lo), np.concatenate(hi)


def _smoothed_density(begin: np.ndarray, end: np.ndarray, vol: np.ndarray, line: _Line) -> np.ndarray:
    """Volume per um of cable (um^2) around each node of ``line``, over :data:`SMOOTH_UM` either
    side within its branch, each mitochondrion's volume ``vol`` (um^3) spread evenly from
    ``begin`` to ``end`` (cable coordinates of the line, um), shape (N,)."""
    a = vol / np.maximum(end - begin, 1e-6)  # volume per um along each, um^2
    ob, oe = np.argsort(begin), np.argsort(end)
    sum_b = np.concatenate([[0.0], np.cumsum(a[ob])]), np.concatenate([[0.0], np.cumsum((a * begin)[ob])])
    sum_e = np.concatenate([[0.0], np.cumsum(a[oe])]), np.concatenate([[0.0], np.cumsum((a * end)[oe])])

    def cum(x: np.ndarray) -> np.ndarray:  # volume before x: the sum of a (clip(x, begin, end) - begin)
        ib, ie = np.searchsorted(begin[ob], x, side="right"), np.searchsorted(end[oe], x, side="right")
        return (x * sum_b[0][ib] - sum_b[1][ib]) - (x * sum_e[0][ie] - sum_e[1][ie])

    lo = np.maximum(line.x - SMOOTH_UM, line.x_off[line.run])
    hi = np.minimum(line.x + SMOOTH_UM, line.x_off[line.run] + line.x_len[line.run])
    return (cum(hi) - cum(lo)) / np.maximum(hi - lo, 1e-6)
