"""Taubin smoothing of closed triangle meshes, batch by batch (the staircase of marching cubes).

Used on the meshes :mod:`builder.sources.volume_mesh` makes from a segmentation with zmesh;
docs/volume.md measures what it does to area, volume and the complexity index. Written here
rather than calling ``trimesh.smoothing.filter_taubin`` mesh by mesh or on a whole cell at once:
the same umbrella filter, with one sparse operator per few hundred thousand vertices (a whole
cell's operator took 3.4 GB for the demo's largest cell at 16 x 16 x 40 nm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from builder.compute.meshes import MeshBatch


@dataclass(frozen=True)
class Smoothing:
    """Taubin's lambda|mu smoothing (Taubin 1995), the defaults of ``trimesh.smoothing.filter_taubin``.

    Attributes
    ----------
    iterations : int
        Pairs of steps (0: the marching-cubes surface as it is).
    lamb, mu : float
        The shrinking step (> 0) and the inflating one (< -lamb).
    min_thickness_voxels : float
        Only meshes at least this thick are smoothed: thickness ``6 V / A`` of the marching-cubes
        mesh (the diameter of a sphere), in voxels of side ``(dx dy dz)^(1/3)``. A thinner mesh
        has too few voxels across for the filter, which then shrinks it (docs/volume.md).
    """

    iterations: int = 10
    lamb: float = 0.5
    mu: float = -0.53
    min_thickness_voxels: float = 4.0


#: The smoothing applied to every mesh (docs/volume.md: what it does to area, volume and MCI).
SMOOTHING = Smoothing()


def thickness_voxels(batch: MeshBatch, resolution_nm: Sequence[float] | np.ndarray) -> np.ndarray:
    """Thickness ``6 V / A`` of each closed mesh (n,), in voxels of side ``(dx dy dz)^(1/3)``
    (the diameter, for a sphere); 0 for a mesh without area. One mesh at a time (memory)."""
    out = np.zeros(batch.n)
    side = float(np.prod(resolution_nm)) ** (1 / 3)
    for k in range(batch.n):
        v, f = batch.mesh(k)
        v = v - v.mean(axis=0) if len(v) else v
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        vol = abs(float(np.einsum("ij,ij->", a, np.cross(b, c)))) / 6.0
        area = float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()) / 2.0
        out[k] = 6.0 * vol / area / side if area > 0 else 0.0
    return out


def taubin_smooth(batch: MeshBatch, smoothing: Smoothing = SMOOTHING, only: np.ndarray | None = None) -> MeshBatch:
    """Taubin's lambda|mu smoothing of the meshes of ``batch``, a few hundred thousand vertices at
    a time (one sparse operator each).

    Each step moves a vertex towards (``lamb``) or away from (``mu``) the mean of its neighbours
    (umbrella weights, as ``trimesh.smoothing.filter_taubin``); the pair removes the staircase
    of marching cubes while keeping the volume to first order. Faces are unchanged.

    Parameters
    ----------
    batch : MeshBatch
        Vertices in nm.
    smoothing : Smoothing
    only : ndarray, shape (n,), bool, optional
        The meshes to smooth (default all); the others are returned unchanged.

    Returns
    -------
    MeshBatch
        The same meshes with moved vertices (nm).
    """
    todo = np.ones(batch.n, bool) if only is None else np.asarray(only, bool)
    if smoothing.iterations <= 0 or not todo.any():
        return batch
    v = batch.vertices.copy()
    voff, foff = batch.vertex_offsets, batch.face_offsets
    for i0, i1 in _slices(voff, todo):
        f = batch.faces[foff[i0] : foff[i1]] + np.repeat(voff[i0:i1] - voff[i0], batch.n_faces[i0:i1])[:, None]
        v[voff[i0] : voff[i1]] = _taubin(v[voff[i0] : voff[i1]], f, smoothing)
    return MeshBatch(batch.ids, v, batch.faces, batch.vertex_offsets, batch.face_offsets)


def _slices(voff: np.ndarray, todo: np.ndarray, max_vertices: int = 1 << 19) -> list[tuple[int, int]]:
    """Runs ``[i0, i1)`` of consecutive meshes to smooth, each of at most ``max_vertices`` vertices
    (or one mesh)."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(todo):
        if not todo[i]:
            i += 1
            continue
        j = i + 1
        while j < len(todo) and todo[j] and voff[j + 1] - voff[i] <= max_vertices:
            j += 1
        out.append((i, j))
        i = j
    return out


def _taubin(v: np.ndarray, faces: np.ndarray, smoothing: Smoothing) -> np.ndarray:
    """Taubin smoothing of vertices (V, 3) of closed meshes with faces (F, 3) into them."""
    from scipy import sparse

    a = faces.reshape(-1).astype(np.int32)  # the half-edges a -> b: in a closed mesh each
    b = faces[:, [1, 2, 0]].reshape(-1).astype(np.int32)  # neighbour appears once as b of a
    adj = sparse.csr_matrix((np.ones(len(a), np.float32), (a, b)), shape=(len(v), len(v)))
    adj.data[:] = 1.0  # a repeated half-edge (an open mesh) counts once
    deg = np.asarray(adj.sum(axis=1), np.float64).ravel()
    mean = sparse.diags(1.0 / np.maximum(deg, 1.0)) @ adj
    v = v.copy()
    for _ in range(smoothing.iterations):
        v += smoothing.lamb * (mean @ v - v)
        v += smoothing.mu * (mean @ v - v)
    return v
