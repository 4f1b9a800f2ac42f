"""Capped tube meshes along a centreline: the geometry of the demo's mitochondria
(:mod:`builder.sources.demo.mitos` places them along the skeleton and chooses their shapes).

A tube is ``k`` vertices around each ring along the centreline, :data:`CAP_RINGS` rings per
hemispherical cap and a pole vertex at each end: ``k (rings + 2 CAP_RINGS) + 2`` vertices, um.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from builder.compute.morphometrics import cross_columns
from builder.sources.demo.morphology import _unit

CAP_RINGS = 3


@cache
def tube_faces(k: int, rings: int) -> np.ndarray:
    """Faces of ``rings`` rings of ``k`` vertices closed by a pole at each end (poles last)."""
    j = np.arange(k)
    r = np.arange(rings - 1)[:, None] * k
    a, b = r + j, r + (j + 1) % k
    c, d = a + k, b + k
    side = np.concatenate([np.stack([a, b, d], -1), np.stack([a, d, c], -1)], axis=1).reshape(-1, 3)
    p0, p1 = rings * k, rings * k + 1
    first = np.stack([np.full(k, p0), (j + 1) % k, j], -1)
    last = np.stack([np.full(k, p1), (rings - 1) * k + j, (rings - 1) * k + (j + 1) % k], -1)
    return np.concatenate([side, first, last]).astype(np.int64)


def resample_polyline(pts: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points at arc lengths ``s`` (clipped to the polyline) along ``pts`` (m, 3)."""
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    return np.stack([np.interp(s, cum, pts[:, a]) for a in range(3)], axis=1)


def tube_vertices(centre_line: np.ndarray, radius: np.ndarray, k: int, ref: np.ndarray, rough: np.ndarray) -> np.ndarray:
    """Vertices (um) of a capped tube: rings along ``centre_line`` (m, 3) with ``radius`` (m,)."""
    t = _unit(np.gradient(centre_line, axis=0))
    u = _unit(cross_columns(t.T, np.broadcast_to(ref, t.shape).T).T)
    w = cross_columns(t.T, u.T).T
    ang = 2 * np.pi * np.arange(k) / k
    # a k-gon of circumradius r encloses k sin(2 pi / k) / (2 pi) of the circle's area: widen it
    radius = radius * np.sqrt(2 * np.pi / (k * np.sin(2 * np.pi / k)))
    circ = np.cos(ang)[None, :, None] * u[:, None, :] + np.sin(ang)[None, :, None] * w[:, None, :]
    phi = np.linspace(0, np.pi / 2, CAP_RINGS + 2)[1:-1]
    r_a, r_b = radius[0], radius[-1]
    cap_a = centre_line[0] - np.outer(r_a * np.sin(phi[::-1]), t[0])
    cap_b = centre_line[-1] + np.outer(r_b * np.sin(phi), t[-1])
    centres = np.concatenate([cap_a, centre_line, cap_b])
    radii = np.concatenate([r_a * np.cos(phi[::-1]), radius, r_b * np.cos(phi)])
    circ = np.concatenate([np.repeat(circ[:1], CAP_RINGS, 0), circ, np.repeat(circ[-1:], CAP_RINGS, 0)])
    rings = centres[:, None, :] + (radii[:, None] * rough)[:, :, None] * circ
    poles = np.stack([centre_line[0] - r_a * t[0], centre_line[-1] + r_b * t[-1]])
    return np.concatenate([rings.reshape(-1, 3), poles])
