"""Meshes of mitochondria made from the mitochondria segmentation with zmesh (docs/volume.md).

When a VOLUME.toml's ``[mitochondria]`` gives a ``segmentation`` but no ``meshes`` layer, each
mitochondrion is meshed from the segmentation itself by marching cubes, with the field's mesher
(seung-lab's ``zmesh``, which Igneous uses to make the precomputed mesh layers):

1. the scan of the segmentations records, for every mitochondrion, its voxel box and the scan
   chunks holding its voxels (:func:`write_index`, a file next to the scan's chunks, read once per
   process by :func:`read_index`);
2. for the mitochondria of one cell, each scan chunk holding any of them is read once, with one
   voxel more on every side (the halo), cut to the union of their boxes padded by one voxel; a
   missing storage chunk reads as 0. Only these mitochondria are kept (every other label becomes
   background) and zmesh meshes each of them in voxel units (:func:`mesh_block`);
3. the pieces of a mitochondrion (one per chunk it crosses) are joined (:func:`stitch`): the
   blocks overlap by two voxels, so every marching cube touching the mitochondrion is made by
   at least one block, and a cube made by two blocks gives the same triangles, merged exactly
   (vertices lie on a half-voxel grid, exact in float32): the surface is closed, whatever the
   size of the mitochondrion (some of the demo's mitochondria span 88 um);
4. vertices become nm (voxel ``i`` covers ``[i, i + 1) x resolution_nm``, as in precomputed
   layers), and the staircase of the voxels is smoothed by :data:`SMOOTHING` (Taubin's
   lambda|mu filter, :func:`taubin_smooth`) on the meshes at least 4 voxels thick (thinner
   ones have too few voxels across: the filter shrinks them). zmesh's simplification is not
   used (no triangle is removed: it would move vertices by up to ``max_error`` and change the area).

What this does to the measures (the mesh's volume and area, and the complexity index MCI =
SA^3 / (16 pi^2 V^2), which takes V from the voxel count and SA from the mesh) is measured in
docs/volume.md, "Meshes from the segmentation".

A mitochondrion absent from the scan, or without a voxel where the scan found it, gets a reason
and no mesh, as does every mitochondrion of a chunk that cannot be read; the cell is never stopped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from builder.compute.meshes import MeshBatch
from builder.compute.smoothing import SMOOTHING, Smoothing, taubin_smooth, thickness_voxels
from builder.compute.volume_stats import ChunkStats
from builder.store.atomic import atomic_path

log = logging.getLogger(__name__)
#: The scan's boxes and chunks of every mitochondrion, in the scan's folder.
INDEX_FILE = "mito_index.npz"
_CHUNK_FILE = re.compile(r"chunk_-?\d+_-?\d+_-?\d+\.npz$")
Mesh = tuple[np.ndarray, np.ndarray]


def mesher_name(segmentation: str) -> str:
    """What the manifest records as the mesh source of meshes made here: ``zmesh:<layer>``."""
    return f"zmesh:{segmentation}"


@dataclass(frozen=True)
class MitoIndex:
    """Where the scan found each mitochondrion (global voxel indices of the layer, ends exclusive).

    Attributes
    ----------
    ids : ndarray, shape (n,), int64
        Sorted, unique.
    lo, hi : ndarray, shape (n, 3), int64
        Its voxel box ``[lo, hi)`` (x, y, z).
    chunk_lo, chunk_hi : ndarray, shape (k, 3), int64
        The scan's chunks ``[lo, hi)`` that hold a mitochondrion.
    pair_mito, pair_chunk : ndarray, shape (p,), int64
        Mitochondrion ``ids[pair_mito[j]]`` has voxels in chunk ``pair_chunk[j]``.
    """

    ids: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    chunk_lo: np.ndarray
    chunk_hi: np.ndarray
    pair_mito: np.ndarray
    pair_chunk: np.ndarray

    def find(self, ids: np.ndarray) -> np.ndarray:
        """Row of each of ``ids`` (m,), -1 where absent."""
        if len(self.ids) == 0:
            return np.full(len(ids), -1, np.int64)
        i = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[i] == ids, i, -1)


def write_index(work_dir: Path, stats: ChunkStats) -> Path:
    """Save the :class:`MitoIndex` of a scan (its merged ``stats`` and the chunk files in
    ``work_dir``) as :data:`INDEX_FILE` in ``work_dir``, atomically."""
    lo, hi, pm, pc = [], [], [], []
    for k, path in enumerate(sorted(p for p in Path(work_dir).iterdir() if _CHUNK_FILE.match(p.name))):
        with np.load(path, allow_pickle=False) as z:
            lo.append(np.asarray(z["lo"], np.int64))
            hi.append(np.asarray(z["hi"], np.int64))
            found = np.searchsorted(stats.mito_id, np.asarray(z["mito_id"], np.int64))
        pm.append(found)
        pc.append(np.full(len(found), k, np.int64))
    path = Path(work_dir) / INDEX_FILE
    arrays: dict[str, Any] = {"ids": stats.mito_id, "lo": stats.bbox_lo, "hi": stats.bbox_hi,
              "chunk_lo": np.reshape(lo, (-1, 3)), "chunk_hi": np.reshape(hi, (-1, 3)),
              "pair_mito": np.concatenate(pm or [np.zeros(0, np.int64)]),
              "pair_chunk": np.concatenate(pc or [np.zeros(0, np.int64)])}  # fmt: skip
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return path


@lru_cache(maxsize=4)
def _load_index(path: str, stamp: int) -> MitoIndex:
    with np.load(path, allow_pickle=False) as z:
        return MitoIndex(**{k: np.asarray(z[k], np.int64) for k in MitoIndex.__dataclass_fields__})


def read_index(work_dir: Path) -> MitoIndex | None:
    """The index :func:`write_index` saved in ``work_dir`` (read once per process and version of
    the file), None when it is absent or unreadable."""
    path = Path(work_dir) / INDEX_FILE
    try:
        return _load_index(str(path), path.stat().st_mtime_ns)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("no usable index of the scanned mitochondria in %s (%s)", path, exc)
        return None


@lru_cache(maxsize=4)
def _volume(layer: str) -> Any:
    """The layer's ``cloudvolume.CloudVolume`` at mip 0: a missing chunk, and any voxel outside the
    layer's bounds, reads as 0 (opened once per process)."""
    from cloudvolume import CloudVolume

    return CloudVolume(layer, mip=0, fill_missing=True, bounded=False, progress=False, use_https=True)


def _relabel(labels: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """``labels`` (X, Y, Z) -> uint32 (C order): 1 + the index of its id in ``sorted_ids`` (m,), 0 for
    any other label. Only the nonzero voxels are looked up."""
    keys = sorted_ids.astype(labels.dtype)  # compared in the labels' own type, never through float
    flat = np.ascontiguousarray(labels).reshape(-1)
    nz = np.flatnonzero(flat)
    vals = flat[nz]
    idx = np.minimum(np.searchsorted(keys, vals), len(keys) - 1)
    hit = keys[idx] == vals
    out = np.zeros(flat.shape, np.uint32)
    out[nz[hit]] = idx[hit] + 1
    return out.reshape(labels.shape)


def mesh_block(labels: np.ndarray, ids: np.ndarray, origin: Sequence[int]) -> dict[int, Mesh]:
    """Marching cubes (zmesh) of each of ``ids`` in a block of labels, in global voxel units.

    Parameters
    ----------
    labels : ndarray, shape (X, Y, Z), integer
        Labels (0 = background); labels other than ``ids`` count as background. The cubes are
        those between the voxels' centres, so a surface reaching the block's side stays open
        there: pad the block with background, or join it to its neighbours' (:func:`stitch`).
    ids : ndarray, shape (m,), int64
        The ids to mesh (unique).
    origin : (int, int, int)
        Global voxel index of ``labels[0, 0, 0]``.

    Returns
    -------
    dict
        ``{id: (vertices (v, 3) float64, faces (f, 3) int64)}`` for the ids with a voxel in the
        block; a vertex at ``x`` lies ``x`` voxel sides from the corner of voxel 0 (voxel ``i``
        covers ``[i, i + 1)``), on the half-voxel grid; triangles oriented outwards.
    """
    import zmesh

    ids = np.asarray(ids, np.int64)
    order = np.argsort(ids)
    small = _relabel(labels, ids[order])  # 1 + index into the sorted ids, 0 elsewhere
    present = np.unique(small)
    mesher = zmesh.Mesher((1.0, 1.0, 1.0))  # voxel units: exact; scaled to nm once, after stitching
    mesher.mesh(small)
    shift = np.asarray(origin, np.float64)
    out: dict[int, Mesh] = {}
    for k in present[present > 0]:
        m = mesher.get(int(k), normals=False, reduction_factor=0, voxel_centered=True)
        if len(m.faces):
            out[int(ids[order[int(k) - 1]])] = (np.asarray(m.vertices, np.float64) + shift, np.asarray(m.faces, np.int64))
    mesher.clear()
    return out


def stitch(pieces: Sequence[Mesh]) -> Mesh:
    """One mesh from the pieces of a surface made by overlapping blocks: exactly coincident
    vertices merged, repeated triangles (a cube meshed by two blocks) and collapsed ones dropped.

    Parameters
    ----------
    pieces : sequence of (vertices (v, 3), faces (f, 3) local)
        Vertices on a common grid (exact coordinates).

    Returns
    -------
    vertices (V, 3) float64, faces (F, 3) int64
    """
    nv = np.cumsum([0] + [len(v) for v, _ in pieces])
    verts = np.concatenate([v for v, _ in pieces])
    faces = np.concatenate([f + nv[k] for k, (_, f) in enumerate(pieces)])
    uniq, inv = np.unique(verts, axis=0, return_inverse=True)
    faces = inv.reshape(-1)[faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    faces = faces[np.sort(first)]
    used = np.zeros(len(uniq), bool)
    used[faces.ravel()] = True
    renum = np.cumsum(used) - 1
    return uniq[used], renum[faces]


def _read(vol: Any, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Labels of the box ``[lo, hi)`` (global voxel indices), shape ``hi - lo``."""
    a = np.asarray(vol[int(lo[0]) : int(hi[0]), int(lo[1]) : int(hi[1]), int(lo[2]) : int(hi[2])])
    a = a.reshape(a.shape[:3])
    if a.shape != tuple(int(v) for v in hi - lo):
        raise ValueError(f"the cutout has shape {a.shape}, not {tuple(hi - lo)}")
    return a


def mesh_segmentation(
    layer: str, resolution_nm: Sequence[float], work_dir: Path, ids: np.ndarray, smoothing: Smoothing = SMOOTHING
) -> tuple[MeshBatch, dict[int, str]]:
    """Meshes of ``ids`` made from the segmentation ``layer`` (module docstring), and ``{id: reason}``
    for the others.

    Parameters
    ----------
    layer : str
        The mitochondria segmentation (a cloud-volume path), read at mip 0.
    resolution_nm : (float, float, float)
        Its voxel size, nm.
    work_dir : Path
        The scan's folder, holding :data:`INDEX_FILE`.
    ids : ndarray, shape (m,), int64
        The mitochondria to mesh.

    Returns
    -------
    MeshBatch
        Vertices in nm, sorted by id.
    dict
        Why each id without a mesh has none.
    """
    ids = np.unique(np.asarray(ids, np.int64))
    index = read_index(work_dir)
    if index is None:
        why = f"the scan's index {work_dir / INDEX_FILE} is gone: build again"
        return MeshBatch.from_meshes([], []), {int(m): why for m in ids}
    row = index.find(ids)
    reasons = {int(m): f"not in the scan of {layer} (no voxel)" for m in ids[row < 0]}
    sel = np.isin(index.pair_mito, row[row >= 0])
    order = np.argsort(index.pair_chunk[sel], kind="stable")
    pm, pc = index.pair_mito[sel][order], index.pair_chunk[sel][order]
    pieces: dict[int, list[Mesh]] = {}
    vol = _volume(layer)
    for start, members in _groups(pm, pc):
        k = int(pc[start])
        lo = np.maximum(index.chunk_lo[k] - 1, index.lo[members].min(axis=0) - 1)  # halo, cut to the boxes
        hi = np.minimum(index.chunk_hi[k] + 1, index.hi[members].max(axis=0) + 1)
        try:
            labels = _read(vol, lo, hi)
        except Exception as exc:  # cloud-volume raises many types for a damaged or unreachable chunk
            why = f"the cutout {lo.tolist()}..{hi.tolist()} of {layer} is unreadable ({type(exc).__name__}: {exc})"
            log.warning("%s: %d mitochondria without a mesh", why, len(members))
            reasons.update({int(m): why for m in index.ids[members]})
            continue
        for m, mesh in mesh_block(labels, index.ids[members], lo).items():
            pieces.setdefault(m, []).append(mesh)
    res = np.asarray(resolution_nm, np.float64)
    done = [int(m) for m in ids[row >= 0] if int(m) not in reasons and int(m) in pieces]
    reasons.update({int(m): f"no voxel of it in {layer} where the scan found it (changed since the scan?)"
                    for m in ids[row >= 0] if int(m) not in reasons and int(m) not in pieces})  # fmt: skip
    meshes = []
    for m in done:
        v, f = stitch(pieces.pop(m))
        meshes.append((v * res, f))
    batch = MeshBatch.from_meshes(done, meshes)
    return taubin_smooth(batch, smoothing, thickness_voxels(batch, res) >= smoothing.min_thickness_voxels), reasons


def _groups(pm: np.ndarray, pc: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(start, members)`` for each run of one chunk in ``pc`` (sorted), ``members`` its ``pm``."""
    if len(pc) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, pc[1:] != pc[:-1]])
    return [(int(s), pm[s:e]) for s, e in zip(starts, np.r_[starts[1:], len(pc)])]
