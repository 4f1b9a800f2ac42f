"""Per-cell mitochondrion mesh bundles: all meshes of one cell in one HDF5 file.

This is the local mesh layout both sources read: the demo writes it directly, and a source
that fetches meshes one by one (cloud-volume) caches them in it, so that a cell's meshes are
read with a handful of reads instead of one file per mitochondrion.

Layout of ``{cell_id}.h5``: ``mito_id (n,) int64``, ``vertex_offsets (n+1,)``,
``face_offsets (n+1,)``, ``vertices (V, 3) float32`` in nm, ``faces (F, 3) uint32`` local to
each mesh; attribute ``units = "nm"``; optionally ``absent_mito_id (k,) int64``: ids the mesh
source was asked for and does not have (so that a cache does not ask again).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from builder.compute.meshes import MeshBatch

ABSENT_REASON = "no mesh for this mitochondrion in the mesh source"


def write_bundle(path: Path, batch: MeshBatch, absent: np.ndarray | None = None) -> None:
    """Write a mesh batch (and the ids known to have no mesh) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with h5py.File(tmp, "w") as f:
        f.attrs["units"] = "nm"
        f.create_dataset("mito_id", data=batch.ids.astype(np.int64))
        f.create_dataset("vertex_offsets", data=batch.vertex_offsets.astype(np.int64))
        f.create_dataset("face_offsets", data=batch.face_offsets.astype(np.int64))
        f.create_dataset("vertices", data=batch.vertices.astype(np.float32), compression="gzip", compression_opts=1)
        f.create_dataset("faces", data=batch.faces.astype(np.uint32), compression="gzip", compression_opts=1)
        if absent is not None:
            f.create_dataset("absent_mito_id", data=np.asarray(absent, np.int64))
    os.replace(tmp, path)


def read_bundle(path: Path, wanted: np.ndarray | None = None) -> tuple[MeshBatch, dict[int, str]]:
    """Read the meshes ``wanted`` (all when None) from a bundle.

    Parameters
    ----------
    path : Path
    wanted : ndarray of mito ids, optional

    Returns
    -------
    batch : MeshBatch
        The wanted meshes present in the file, in file order (align by ``batch.ids``).
    missing : dict int -> str
        Wanted ids that the file does not hold, with the reason.

    Raises
    ------
    OSError, KeyError, ValueError
        If the file is not a readable bundle (the caller names the cell).
    """
    with h5py.File(path, "r") as f:
        ids = f["mito_id"][()].astype(np.int64)
        voff = f["vertex_offsets"][()].astype(np.int64)
        foff = f["face_offsets"][()].astype(np.int64)
        vertices = f["vertices"][()].astype(np.float64)
        faces = f["faces"][()].astype(np.int64)
        absent = set(f["absent_mito_id"][()].tolist()) if "absent_mito_id" in f else set()
    full = MeshBatch(ids=ids, vertices=vertices, faces=faces, vertex_offsets=voff, face_offsets=foff)
    if wanted is None:
        return full, {}
    wanted = np.asarray(wanted, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], wanted)
    found = (pos < len(ids)) & (ids[order][np.minimum(pos, len(ids) - 1)] == wanted)
    missing = {
        int(m): ABSENT_REASON if int(m) in absent else f"no mesh for this mitochondrion in {Path(path).name}"
        for m in wanted[~found]
    }
    keep = np.zeros(len(ids), bool)
    keep[order[pos[found]]] = True
    return full.subset(keep), missing
