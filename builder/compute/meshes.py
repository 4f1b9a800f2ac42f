"""A batch of triangle meshes stored as concatenated arrays, and its integrity checks.

Many small meshes (one per mitochondrion) are processed together: vertices and faces of all
meshes are concatenated and ``*_offsets`` mark where each mesh starts, so every measure is a
handful of numpy calls over the whole batch instead of a Python loop per mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MeshBatch:
    """Concatenated triangle meshes.

    Attributes
    ----------
    ids : ndarray, shape (n,), int64
        Mesh (mitochondrion) ids.
    vertices : ndarray, shape (V, 3), float64
        Vertex positions in nm, all meshes concatenated.
    faces : ndarray, shape (F, 3), int64
        Triangles as indices *local to their mesh* (0-based per mesh).
    vertex_offsets : ndarray, shape (n + 1,), int64
        Mesh ``i`` owns ``vertices[vertex_offsets[i]:vertex_offsets[i + 1]]``.
    face_offsets : ndarray, shape (n + 1,), int64
        Mesh ``i`` owns ``faces[face_offsets[i]:face_offsets[i + 1]]``.
    """

    ids: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    vertex_offsets: np.ndarray
    face_offsets: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3:
            raise ValueError(f"vertices must have shape (V, 3), got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f"faces must have shape (F, 3), got {self.faces.shape}")
        if self.vertex_offsets.shape != (n + 1,) or self.face_offsets.shape != (n + 1,):
            raise ValueError("vertex_offsets and face_offsets must have shape (n + 1,)")
        if self.vertex_offsets[-1] != len(self.vertices) or self.face_offsets[-1] != len(self.faces):
            raise ValueError("offsets do not end at the number of vertices / faces")

    @property
    def n(self) -> int:
        """Number of meshes."""
        return len(self.ids)

    @property
    def n_vertices(self) -> np.ndarray:
        """Vertices per mesh, shape (n,)."""
        return np.diff(self.vertex_offsets)

    @property
    def n_faces(self) -> np.ndarray:
        """Faces per mesh, shape (n,)."""
        return np.diff(self.face_offsets)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners of each mesh's vertices, nm, two arrays of shape (n, 3)
        (NaN for a mesh without vertices)."""
        lo = np.full((self.n, 3), np.nan)
        hi = lo.copy()
        has = self.n_vertices > 0
        if has.any():
            starts = self.vertex_offsets[:-1][has]  # empty meshes add no vertices: segments stay right
            lo[has] = np.minimum.reduceat(self.vertices, starts, axis=0)
            hi[has] = np.maximum.reduceat(self.vertices, starts, axis=0)
        return lo, hi

    def vertex_owner(self) -> np.ndarray:
        """Index (0..n-1) of the mesh owning each vertex, shape (V,)."""
        return np.repeat(np.arange(self.n), self.n_vertices)

    def face_owner(self) -> np.ndarray:
        """Index (0..n-1) of the mesh owning each face, shape (F,)."""
        return np.repeat(np.arange(self.n), self.n_faces)

    def global_faces(self) -> np.ndarray:
        """Faces as indices into the concatenated ``vertices``, shape (F, 3)."""
        return self.faces + self.vertex_offsets[:-1][self.face_owner()][:, None]

    def subset(self, keep: np.ndarray) -> MeshBatch:
        """Meshes where boolean ``keep`` (shape (n,)) is true, in the same order."""
        keep = np.asarray(keep, dtype=bool)
        vkeep = np.repeat(keep, self.n_vertices)
        fkeep = np.repeat(keep, self.n_faces)
        return MeshBatch(
            ids=self.ids[keep],
            vertices=self.vertices[vkeep],
            faces=self.faces[fkeep],
            vertex_offsets=np.concatenate([[0], np.cumsum(self.n_vertices[keep])]).astype(np.int64),
            face_offsets=np.concatenate([[0], np.cumsum(self.n_faces[keep])]).astype(np.int64),
        )

    def mesh(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Vertices (nm) and local faces of mesh ``i``."""
        v0, v1 = self.vertex_offsets[i], self.vertex_offsets[i + 1]
        f0, f1 = self.face_offsets[i], self.face_offsets[i + 1]
        return self.vertices[v0:v1], self.faces[f0:f1]

    @classmethod
    def from_meshes(cls, ids: list[int] | np.ndarray, meshes: list[tuple[np.ndarray, np.ndarray]]) -> MeshBatch:
        """Concatenate ``(vertices (v, 3) nm, faces (f, 3) local)`` pairs into a batch."""
        nv = [len(v) for v, _ in meshes]
        nf = [len(f) for _, f in meshes]
        return cls(
            ids=np.asarray(ids, dtype=np.int64),
            vertices=np.concatenate([np.asarray(v, float).reshape(-1, 3) for v, _ in meshes]) if meshes else np.zeros((0, 3)),
            faces=np.concatenate([np.asarray(f, np.int64).reshape(-1, 3) for _, f in meshes])
            if meshes
            else np.zeros((0, 3), np.int64),
            vertex_offsets=np.concatenate([[0], np.cumsum(nv)]).astype(np.int64),
            face_offsets=np.concatenate([[0], np.cumsum(nf)]).astype(np.int64),
        )


def mesh_problems(batch: MeshBatch) -> np.ndarray:
    """Find the meshes whose geometry cannot be measured, all meshes at once.

    A mesh is rejected when it has fewer than 4 vertices or faces, a non-finite vertex, a face
    index outside its own vertices, a degenerate face (repeated index), or when it is not a
    closed, consistently oriented surface (every directed edge must have exactly one reverse).
    A closed mesh that encloses no volume is found from its morphometrics
    (:func:`builder.compute.mito_table.degenerate`).

    Parameters
    ----------
    batch : MeshBatch

    Returns
    -------
    ndarray, shape (n,), object
        ``""`` for a usable mesh, otherwise the reason (the first one found).
    """
    n = batch.n
    reasons = np.full(n, "", dtype=object)

    def flag(mask: np.ndarray, why: str) -> None:
        reasons[(reasons == "") & mask] = why

    flag((batch.n_vertices < 4) | (batch.n_faces < 4), "empty or too small mesh (< 4 vertices/faces)")
    bad_v = ~np.isfinite(batch.vertices).all(axis=1)
    flag(np.bincount(batch.vertex_owner()[bad_v], minlength=n) > 0, "non-finite vertex coordinates")

    owner = batch.face_owner()
    f = batch.faces
    out_of_range = ((f < 0) | (f >= batch.n_vertices[owner][:, None])).any(axis=1)
    flag(np.bincount(owner[out_of_range], minlength=n) > 0, "face index out of range")
    degenerate = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
    flag(np.bincount(owner[degenerate], minlength=n) > 0, "degenerate face (repeated vertex)")

    ok_faces = (reasons == "").astype(bool)[owner]
    if ok_faces.any():
        gf = batch.global_faces()[ok_faces]
        fo = owner[ok_faces]
        a, b = gf.ravel(), gf[:, [1, 2, 0]].ravel()  # directed edges a -> b
        eo = np.repeat(fo, 3)
        # closed and consistently oriented <=> every undirected edge occurs exactly twice, once
        # in each direction. One sort of the undirected keys (timsort: faces come in runs).
        key = np.minimum(a, b) * np.int64(len(batch.vertices) + 1) + np.maximum(a, b)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        start = np.empty(len(sk), bool)
        start[0] = True
        np.not_equal(sk[1:], sk[:-1], out=start[1:])
        group = np.cumsum(start) - 1
        size = np.bincount(group)
        forward = np.bincount(group, weights=(a < b)[order])
        bad_group = (size != 2) | (forward != 1)
        bad_edge = np.empty(len(sk), bool)
        bad_edge[order] = bad_group[group]
        flag(np.bincount(eo[bad_edge], minlength=n) > 0, "mesh not closed (not watertight)")
    return reasons


#: A mesh whose bounding box lies farther than this from its mitochondrion's centre in the table
#: (nm) is another object's mesh or in other units: set aside, never measured.
MESH_CENTRE_TOLERANCE_NM = 1000.0


def far_from_centre(batch: MeshBatch, centres: np.ndarray, tol_nm: float = MESH_CENTRE_TOLERANCE_NM) -> np.ndarray:
    """Meshes that lie away from their mitochondrion's centre, all meshes at once.

    Parameters
    ----------
    batch : MeshBatch
    centres : ndarray, shape (n, 3), nm
        Each mesh's mitochondrion centre from the mitochondria table (voxel centroid).
    tol_nm : float
        Largest distance (nm) from the centre to the mesh's bounding box that is accepted.

    Returns
    -------
    ndarray, shape (n,), object
        ``""`` for a mesh around its centre, otherwise the reason with the distance in um.
    """
    lo, hi = batch.bounds()
    c = np.asarray(centres, np.float64).reshape(batch.n, 3)
    with np.errstate(invalid="ignore"):
        gap = np.linalg.norm(np.maximum(0.0, np.maximum(lo - c, c - hi)), axis=1)
    reasons = np.full(batch.n, "", dtype=object)
    far = np.flatnonzero(gap > tol_nm)
    reasons[far] = [f"mesh lies {g / 1000:.1f} um from the mitochondrion's centre in the table (another object's mesh, or "
                    "other units)" for g in gap[far]]  # fmt: skip
    return reasons


def cluster_simplify(batch: MeshBatch, cells_across: float = 2.5, min_nm: float = 30.0, max_nm: float = 250.0) -> MeshBatch:
    """Simplify every mesh by vertex clustering, for display (Rossignac & Borrel 1993).

    Each mesh's vertices are snapped to a grid whose spacing is its smallest bounding-box
    extent divided by ``cells_across`` (clipped to ``[min_nm, max_nm]``); vertices in one grid
    cell merge into their mean, faces that collapse are dropped. Thin and small meshes keep
    proportionally fine grids, so no mesh disappears unless it is smaller than the grid.

    Parameters
    ----------
    batch : MeshBatch
        Vertices in nm.
    cells_across : float
        Grid cells across the smallest extent of each mesh.
    min_nm, max_nm : float
        Bounds of the grid spacing, nm.

    Returns
    -------
    MeshBatch
        Same ids and order; fewer vertices and faces.
    """
    n = batch.n
    if n == 0:
        return batch
    own = batch.vertex_owner()
    lo, hi = batch.bounds()
    h = np.clip((hi - lo).min(axis=1) / cells_across, min_nm, max_nm)
    q = np.floor((batch.vertices - lo[own]) / h[own, None]).astype(np.int64)
    if n < (1 << 15) and q.max(initial=0) < (1 << 16):  # pack (owner, qx, qy, qz) into one int64
        key = (own << 48) | (q[:, 0] << 32) | (q[:, 1] << 16) | q[:, 2]
        _, first, inv, cnt = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    else:
        cells = np.column_stack([own, q])
        _, first, inv, cnt = np.unique(cells, axis=0, return_index=True, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    new_v = np.stack([np.bincount(inv, weights=batch.vertices[:, j]) for j in range(3)], axis=1) / cnt[:, None]
    new_own = own[first]  # unique rows are sorted by owner first
    gf = inv[batch.global_faces()]
    keep = (gf[:, 0] != gf[:, 1]) & (gf[:, 1] != gf[:, 2]) & (gf[:, 0] != gf[:, 2])
    gf = gf[keep]
    _, uniq = np.unique(np.sort(gf, axis=1), axis=0, return_index=True)
    gf = gf[np.sort(uniq)]
    f_own = new_own[gf[:, 0]]
    order = np.argsort(f_own, kind="stable")
    gf, f_own = gf[order], f_own[order]
    voff = np.concatenate([[0], np.cumsum(np.bincount(new_own, minlength=n))]).astype(np.int64)
    foff = np.concatenate([[0], np.cumsum(np.bincount(f_own, minlength=n))]).astype(np.int64)
    return MeshBatch(ids=batch.ids, vertices=new_v, faces=gf - voff[f_own][:, None], vertex_offsets=voff, face_offsets=foff)
