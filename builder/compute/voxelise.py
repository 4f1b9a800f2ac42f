"""Voxelise skeletons (unions of capsules) and closed triangle meshes on a regular grid.

Grid convention (as precomputed volumes): voxel ``i`` of a grid of voxel size ``res`` (nm)
covers ``[i * res, (i + 1) * res)`` and is labelled when its centre ``(i + 0.5) * res`` lies
inside the shape.

A skeleton's body is the union of its edges' capsules: each node's sphere (its radius) and each
edge's frustum, the points whose projection on the edge ``a + t (b - a)`` has ``0 <= t <= 1`` and
that lie within ``r(t)`` of it, ``r`` interpolated linearly between the node radii. A mesh's voxels are found by ray
parity along z, all meshes at once: every (triangle, voxel column) crossing gives a height, and
the voxels between the 1st and 2nd, 3rd and 4th... crossing of a column are inside.

Voxelisation error of a volume. A voxel is counted wrongly only when its centre and part of it
lie on opposite sides of the surface; for a surface element with unit normal ``n`` that part
lies within ``w(n) = (|n_x| dx + |n_y| dy + |n_z| dz) / 2`` of the surface (the largest offset of
a point of the voxel from its centre along ``n``). The voxels over-counted outside and
under-counted inside each fill at most a shell of that width, so to first order in the voxel size
(a surface flat at the voxel's scale) ``|N v - V| <= sum_faces area_f * w(n_f)``
(:func:`volume_error_bound`). It is a worst case: the errors of the two sides mostly cancel,
and the measured errors are far smaller (docs/volume.md).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
#: Voxel columns (rays) are moved by this fraction of a voxel so that no ray meets a mesh edge or vertex exactly.
_RAY_NUDGE = (3.1e-7, 4.7e-7)


def node_spheres_and_capsules(vertices: F64, edges: I64, radius: F64) -> tuple[F64, F64, F64, F64]:
    """The skeleton's body as spheres and open frustums: one sphere per node, plus for each edge
    the part of its capsule that the spheres of its two nodes do not cover (none for most edges
    from a large soma node to a thin neurite: no soma-sized box to scan for them).

    Parameters
    ----------
    vertices : ndarray, shape (N, 3), nm
    edges : ndarray, shape (E, 2), node indices
    radius : ndarray, shape (N,), nm

    Returns
    -------
    p0, p1 : ndarray, shape (S, 3), nm
        Ends of the shapes: equal for a sphere; for a frustum, the ends of its axis (a point
        belongs to it when its projection falls between them, without end caps).
    r0, r1 : ndarray, shape (S,), nm
        Radii at ``p0`` and ``p1``.
    """
    v = np.asarray(vertices, np.float64)
    r = np.asarray(radius, np.float64)
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    a, b = v[e[:, 0]], v[e[:, 1]]
    ra, rb = r[e[:, 0]], r[e[:, 1]]
    # the capsule's disc at t (centre a + t (b - a), radius r(t)) lies in sphere a for t <= ta
    # and in sphere b for t >= tb (roots of |t L|^2 + r(t)^2 - ra^2 and of its mirror): only
    # the discs for t in (ta, tb) are left to draw
    d = rb - ra
    q = np.maximum(np.sum((b - a) ** 2, axis=1) + d**2, 1e-12)
    ta = np.clip(-2.0 * ra * d / q, 0.0, 1.0)
    tb = 1.0 - np.clip(2.0 * rb * d / q, 0.0, 1.0)
    keep = ta < tb
    ta, tb, a, b, ra, d = ta[keep], tb[keep], a[keep], b[keep], ra[keep], d[keep]
    p0, p1 = a + ta[:, None] * (b - a), a + tb[:, None] * (b - a)
    return np.concatenate([v, p0]), np.concatenate([v, p1]), np.concatenate([r, ra + ta * d]), np.concatenate([r, ra + tb * d])


def capsule_voxel_boxes(p0: F64, p1: F64, r0: F64, r1: F64, resolution_nm: F64) -> tuple[I64, I64]:
    """Voxel index ranges ``[lo, hi)`` holding every voxel centre inside each capsule.

    Parameters
    ----------
    p0, p1 : ndarray, shape (S, 3), nm
    r0, r1 : ndarray, shape (S,), nm
    resolution_nm : ndarray, shape (3,)

    Returns
    -------
    lo, hi : ndarray, shape (S, 3), int64 voxel indices (``hi <= lo`` on an axis: no voxel)
    """
    res = np.asarray(resolution_nm, np.float64)
    rad = np.maximum(r0, r1)[:, None]
    lo_nm = np.minimum(p0, p1) - rad
    hi_nm = np.maximum(p0, p1) + rad
    return np.ceil(lo_nm / res - 0.5).astype(np.int64), np.floor(hi_nm / res - 0.5).astype(np.int64) + 1


def capsules_mask(
    p0: F64, p1: F64, r0: F64, r1: F64, block_lo: I64, block_shape: tuple[int, int, int], resolution_nm: F64
) -> NDArray[np.bool_]:
    """Voxels of one block whose centres lie in the union of the shapes of
    :func:`node_spheres_and_capsules` (spheres where ``p0 == p1``, open frustums otherwise).

    One vectorised pass per shape over the part of its box inside the block (the caller
    passes the shapes that meet the block).

    Parameters
    ----------
    p0, p1 : ndarray, shape (S, 3), nm
    r0, r1 : ndarray, shape (S,), nm
    block_lo : ndarray, shape (3,), int64
        Global voxel index of the block's first voxel.
    block_shape : (int, int, int)
    resolution_nm : ndarray, shape (3,)

    Returns
    -------
    ndarray, shape ``block_shape``, bool
    """
    res = np.asarray(resolution_nm, np.float64)
    mask = np.zeros(block_shape, bool)
    lo, hi = capsule_voxel_boxes(p0, p1, r0, r1, res)
    lo = np.maximum(lo - block_lo, 0)
    hi = np.minimum(hi - block_lo, np.asarray(block_shape))
    for s in np.flatnonzero((hi > lo).all(axis=1)):
        ax = [(np.arange(lo[s, k], hi[s, k]) + block_lo[k] + 0.5) * res[k] - p0[s, k] for k in range(3)]
        dx, dy, dz = ax[0][:, None, None], ax[1][None, :, None], ax[2][None, None, :]
        u = p1[s] - p0[s]
        uu = float(u @ u)
        dot = dx * u[0] + dy * u[1] + dz * u[2]
        t = dot / uu if uu > 0 else np.zeros_like(dot)
        dist2 = dx**2 + dy**2 + dz**2 - 2.0 * t * dot + t**2 * uu
        rad = r0[s] + t * (r1[s] - r0[s])
        inside = (dist2 <= rad**2) & (t >= 0.0) & (t <= 1.0)
        mask[lo[s, 0] : hi[s, 0], lo[s, 1] : hi[s, 1], lo[s, 2] : hi[s, 2]] |= inside
    return mask


def mesh_voxels(vertices: F64, faces: I64, face_owner: I64, resolution_nm: F64) -> tuple[I64, I64, int]:
    """Voxels whose centres are inside closed meshes, all meshes at once (ray parity along z).

    Parameters
    ----------
    vertices : ndarray, shape (V, 3), nm
    faces : ndarray, shape (F, 3), indices into ``vertices``
    face_owner : ndarray, shape (F,), int64
        The mesh (0..n-1) of each face.
    resolution_nm : ndarray, shape (3,)

    Returns
    -------
    voxels : ndarray, shape (M, 3), int64
        Global voxel indices, grouped by mesh; a voxel inside two meshes appears twice.
    owner : ndarray, shape (M,), int64
        The mesh of each voxel.
    odd_columns : int
        Voxel columns with an odd number of crossings (an open mesh, or a ray through an edge): left empty.
    """
    res = np.asarray(resolution_nm, np.float64)
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]  # (F, 3 corners, 3)
    g = tri[:, :, :2] / res[:2]  # corners in xy voxel units
    lo = np.ceil(g.min(axis=1) - 0.5 - np.asarray(_RAY_NUDGE)).astype(np.int64)
    hi = np.floor(g.max(axis=1) - 0.5 - np.asarray(_RAY_NUDGE)).astype(np.int64) + 1
    n = np.maximum(hi - lo, 0)
    per_face = n[:, 0] * n[:, 1]
    f = np.repeat(np.arange(len(tri)), per_face)  # one row per (face, column under its xy box)
    k = np.arange(len(f)) - np.repeat(np.cumsum(per_face) - per_face, per_face)
    col = lo[f] + np.stack([k // np.maximum(n[f, 1], 1), k % np.maximum(n[f, 1], 1)], axis=1)
    c = col + 0.5 + np.asarray(_RAY_NUDGE)  # ray position, voxel units
    a, b, e = g[f, 0], g[f, 1], g[f, 2]
    det = (b[:, 0] - a[:, 0]) * (e[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (e[:, 0] - a[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        w1 = ((c[:, 0] - a[:, 0]) * (e[:, 1] - a[:, 1]) - (c[:, 1] - a[:, 1]) * (e[:, 0] - a[:, 0])) / det
        w2 = ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) / det
        hit = (det != 0) & (w1 >= 0) & (w2 >= 0) & (w1 + w2 <= 1)
    f, col, w1, w2 = f[hit], col[hit], w1[hit], w2[hit]
    z = (tri[f, 0, 2] * (1 - w1 - w2) + tri[f, 1, 2] * w1 + tri[f, 2, 2] * w2) / res[2]
    kz = np.ceil(z - 0.5).astype(np.int64)  # first voxel whose centre is above the crossing
    owner = np.asarray(face_owner, np.int64)[f]
    order = np.lexsort((kz, col[:, 1], col[:, 0], owner))
    owner, col, kz = owner[order], col[order], kz[order]
    key = np.stack([owner, col[:, 0], col[:, 1]], axis=1)
    start = np.flatnonzero(np.r_[True, (np.diff(key, axis=0) != 0).any(axis=1)])
    count = np.diff(np.r_[start, len(key)])
    even = np.repeat(count % 2 == 0, count)
    odd_columns = int(np.sum(count % 2))
    owner, col, kz = owner[even], col[even], kz[even]
    enter, leave = kz[0::2], kz[1::2]  # crossings pair up within each column (even counts)
    span = np.maximum(leave - enter, 0)
    rows = np.repeat(np.arange(len(enter)), span)
    zk = enter[rows] + np.arange(len(rows)) - np.repeat(np.cumsum(span) - span, span)
    vox = np.concatenate([col[0::2][rows], zk[:, None]], axis=1)
    return vox, owner[0::2][rows], odd_columns


def mesh_volumes(vertices: F64, faces: I64, face_owner: I64, n: int) -> F64:
    """Enclosed volume of each closed mesh (divergence theorem), nm^3, shape (n,)."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    six = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2]))
    return np.abs(np.bincount(face_owner, weights=six, minlength=n) / 6.0).astype(np.float64)


def volume_error_bound(vertices: F64, faces: I64, face_owner: I64, n: int, resolution_nm: F64) -> F64:
    """First-order worst case of ``|voxel count * voxel volume - mesh volume|`` per mesh, nm^3.

    ``sum_faces area_f * (|n_x| dx + |n_y| dy + |n_z| dz) / 2`` over each mesh's faces (module
    docstring); shape (n,).
    """
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # |cross| = 2 area, along the normal
    width = np.abs(cross) @ np.asarray(resolution_nm, np.float64) / 4.0  # area * w(n)
    return np.bincount(face_owner, weights=width, minlength=n).astype(np.float64)
