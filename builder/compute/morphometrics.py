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


def _segment_sum(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Sum rows of ``values`` (shape (m,) or (m, k)) per owner index -> (n,) or (n, k)."""
    if values.ndim == 1:
        return np.bincount(owner, weights=values, minlength=n)
    return np.stack([np.bincount(owner, weights=values[:, j], minlength=n) for j in range(values.shape[1])], axis=1)


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
    fowner = batch.face_owner()
    v_um = batch.vertices / NM_PER_UM
    counts = np.maximum(batch.n_vertices, 1)
    shift = _segment_sum(v_um, vowner, n) / counts[:, None]  # per-mesh origin for precision
    local = v_um - shift[vowner]

    gf = batch.global_faces()
    a, b, c = local[gf[:, 0]], local[gf[:, 1]], local[gf[:, 2]]
    tet_vol = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    area_f = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)

    vol = _segment_sum(tet_vol, fowner, n)
    area = _segment_sum(area_f, fowner, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = a + b + c
        centroid = _segment_sum(tet_vol[:, None] * s / 4.0, fowner, n) / vol[:, None]
        # second moment of each tetrahedron (0, a, b, c) about the origin
        outer = (
            np.einsum("fi,fj->fij", a, a)
            + np.einsum("fi,fj->fij", b, b)
            + np.einsum("fi,fj->fij", c, c)
            + np.einsum("fi,fj->fij", s, s)
        ) * (tet_vol / 20.0)[:, None, None]
        m2 = _segment_sum(outer.reshape(-1, 9), fowner, n).reshape(n, 3, 3) / vol[:, None, None]
    cov = m2 - np.einsum("ni,nj->nij", centroid, centroid)
    cov = np.nan_to_num(cov)
    _, vecs = np.linalg.eigh(cov)  # ascending eigenvalues
    axes = vecs[:, :, ::-1]  # columns: PC1, PC2, PC3

    d = local - centroid[vowner]
    proj = np.einsum("vi,vij->vj", d, axes[vowner])
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

