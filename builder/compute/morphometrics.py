"""Mesh morphometrics of mitochondria, computed for a whole :class:`MeshBatch` at once.

Volume, centroid and second moments are integrals over the solid, summed over the signed
tetrahedra that each face spans with the mesh centre (divergence theorem), so they do not
depend on how densely the surface is sampled. Principal axes are the eigenvectors of the
solid's covariance; the PC lengths are the mesh's extents along those axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from builder.compute.meshes import MeshBatch
from builder.schema import MESH_SHAPE_COLUMNS, NM_PER_UM

MORPHOMETRIC_COLUMNS: tuple[str, ...] = (
    ("cx", "cy", "cz") + tuple(c for c in MESH_SHAPE_COLUMNS if c != "complexityindex") + ("n_vertices",)
)


def _segment_sum(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum the columns of ``values`` (shape (k, m)) over contiguous segments -> (n, k).

    ``offsets`` (shape (n + 1,)) marks where each segment starts; empty segments sum to 0.
    One ``np.add.reduceat`` for all rows (the items of a batch are in mesh order).
    """
    n = len(offsets) - 1
    out = np.zeros((n, values.shape[0]))
    nonempty = offsets[1:] > offsets[:-1]
    if nonempty.any():
        out[nonempty] = np.add.reduceat(values, offsets[:-1][nonempty], axis=1).T
    return out


def cross_columns(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Cross products of the columns of (3, m) arrays, (3, m): faster than ``np.cross`` on
    (m, 3) rows, whose axis handling costs more than the arithmetic for short inputs."""
    return np.stack([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])


# the 6 distinct entries of a symmetric 3x3 matrix
_SYM = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def mesh_morphometrics(batch: MeshBatch) -> pd.DataFrame:
    """Volume, area, centroid, principal axes and shape measures of every mesh in a batch.

    The meshes must be closed and consistently oriented (check with
    :func:`builder.compute.meshes.mesh_problems` first); inward-facing meshes are accepted
    (the volume's sign is dropped).

    Parameters
    ----------
    batch : MeshBatch
        n meshes, vertices in nm.

    Returns
    -------
    DataFrame, n rows, index = mesh ids
        ``cx, cy, cz``: centroid of the solid (nm); ``mesh_volume_um3`` (um^3);
        ``surface_area`` (um^2); ``pc1_um >= pc2_um >= pc3_um``: extents of the solid along its
        three principal axes, longest first (um); ``elongation = pc1/pc2`` and ``flatness = pc2/pc3`` (>= 1);
        ``sphericity = pi^(1/3) (6V)^(2/3) / A`` (1 for a sphere); ``n_vertices``.
    """
    n = batch.n
    vowner = batch.vertex_owner()
    voff, foff = batch.vertex_offsets, batch.face_offsets
    # coordinates as rows (3, V): every per-face product below is a contiguous vector operation
    v_um = np.ascontiguousarray(batch.vertices.T) / NM_PER_UM
    counts = np.maximum(batch.n_vertices, 1)
    shift = _segment_sum(v_um, voff) / counts[:, None]  # per-mesh origin for precision
    local = v_um - shift[vowner].T

    gf = batch.global_faces()
    a, b, c = local[:, gf[:, 0]], local[:, gf[:, 1]], local[:, gf[:, 2]]
    # per face, in one preallocated (11, F) block summed per mesh in one pass: volume, area,
    # first moments (3) and the 6 distinct second moments of the tetrahedron (0, a, b, c)
    rows = np.empty((11, len(gf)))
    tet_vol, area_f = rows[0], rows[1]
    np.einsum("ij,ij->j", a, cross_columns(b, c), out=tet_vol)
    tet_vol /= 6.0
    nrm = cross_columns(b - a, c - a)
    np.einsum("ij,ij->j", nrm, nrm, out=area_f)
    np.sqrt(area_f, out=area_f)
    area_f *= 0.5
    s = a + b + c
    np.multiply(s, tet_vol / 4.0, out=rows[2:5])
    w = tet_vol / 20.0
    tmp = np.empty(len(gf))
    for k, (i, j) in enumerate(_SYM):
        out = rows[5 + k]
        np.multiply(a[i], a[j], out=out)
        for p in (b, c, s):
            np.multiply(p[i], p[j], out=tmp)
            out += tmp
        out *= w
    sums = _segment_sum(rows, foff)
    vol, area = sums[:, 0], sums[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        centroid = sums[:, 2:5] / vol[:, None]
        m2 = np.empty((n, 3, 3))
        for k, (i, j) in enumerate(_SYM):
            m2[:, i, j] = m2[:, j, i] = sums[:, 5 + k]
        m2 /= vol[:, None, None]
    cov = m2 - np.einsum("ni,nj->nij", centroid, centroid)
    cov = np.nan_to_num(cov)
    _, vecs = np.linalg.eigh(cov)  # ascending eigenvalues
    axes = vecs[:, :, ::-1]  # columns: PC1, PC2, PC3

    d = local - centroid[vowner].T
    ax = np.repeat(axes, batch.n_vertices, axis=0)
    proj = d[0][:, None] * ax[:, 0] + d[1][:, None] * ax[:, 1] + d[2][:, None] * ax[:, 2]
    starts = batch.vertex_offsets[:-1]
    nonempty = batch.n_vertices > 0
    ext = np.full((n, 3), np.nan)
    if nonempty.any():
        st = starts[nonempty]
        ext[nonempty] = np.maximum.reduceat(proj, st, axis=0) - np.minimum.reduceat(proj, st, axis=0)
    # The axes are ordered by variance, but an extent along an axis of lower variance can be the
    # larger one (found by the property tests): sort, so that pc1 >= pc2 >= pc3 always holds.
    ext = -np.sort(-ext, axis=1)

    volume = np.abs(vol)
    with np.errstate(divide="ignore", invalid="ignore"):
        sphericity = np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area
        elongation = ext[:, 0] / ext[:, 1]
        flatness = ext[:, 1] / ext[:, 2]
    centroid_nm = (centroid + shift) * NM_PER_UM
    return pd.DataFrame(
        {
            "cx": centroid_nm[:, 0],
            "cy": centroid_nm[:, 1],
            "cz": centroid_nm[:, 2],
            "mesh_volume_um3": volume,
            "surface_area": area,
            "pc1_um": ext[:, 0],
            "pc2_um": ext[:, 1],
            "pc3_um": ext[:, 2],
            "elongation": elongation,
            "flatness": flatness,
            "sphericity": sphericity,
            "n_vertices": batch.n_vertices.astype(np.int64),
        },
        index=pd.Index(batch.ids, name="mito_id"),
    )
