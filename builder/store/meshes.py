"""The compact mesh table (``tables/mito_meshes.parquet``) the explorer renders.

One row per mitochondrion: ``mito_id, cell_id``, an origin ``ox, oy, oz`` (nm, centre of the
mesh's bounding box), ``quantum_nm`` and the vertices as a flat list of int16 offsets
(``xyz xyz ...``; position = origin + offset * quantum), faces as a flat list of uint16 (or
uint32 when a mesh has more than 65,535 vertices) indices local to the mesh. About 4x smaller
than float32/uint32 arrays, and exact to within half a quantum (0.5 nm for meshes < 65 um).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from builder.compute.meshes import MeshBatch

INT16_MAX = 32767


def encode_meshes(batch: MeshBatch, cell_id: int) -> pa.Table:
    """Quantise a batch of meshes (nm) into the compact table of one cell."""
    n = batch.n
    owner = batch.vertex_owner()
    lo, hi = batch.bounds()
    origin = np.round((lo + hi) / 2.0)
    half = np.max(hi - lo, axis=1) / 2.0 if n else np.zeros(0)
    quantum = np.maximum(1.0, np.ceil(half / (INT16_MAX - 1)))
    q = np.round((batch.vertices - origin[owner]) / quantum[owner][:, None]).astype(np.int16)
    face_type = pa.uint16() if (n == 0 or batch.n_vertices.max() <= 65535) else pa.uint32()
    verts = pa.ListArray.from_arrays(pa.array(batch.vertex_offsets * 3, pa.int32()), pa.array(q.ravel(), pa.int16()))
    faces = pa.ListArray.from_arrays(pa.array(batch.face_offsets * 3, pa.int32()), pa.array(batch.faces.ravel(), face_type))
    return pa.table(
        {
            "mito_id": pa.array(batch.ids, pa.int64()),
            "cell_id": pa.array(np.full(n, cell_id, np.int64)),
            "ox": origin[:, 0],
            "oy": origin[:, 1],
            "oz": origin[:, 2],
            "quantum_nm": pa.array(quantum, pa.float32()),
            "vertices": verts,
            "faces": faces,
        }
    )


def decode_meshes(table: pa.Table) -> MeshBatch:
    """Meshes (vertices in nm) back from the compact table."""
    if table.num_rows == 0:
        return MeshBatch.from_meshes([], [])
    verts = table.column("vertices").combine_chunks()
    faces = table.column("faces").combine_chunks()
    voff = verts.offsets.to_numpy().astype(np.int64) // 3
    foff = faces.offsets.to_numpy().astype(np.int64) // 3
    voff, foff = voff - voff[0], foff - foff[0]
    q = verts.flatten().to_numpy().astype(np.float64).reshape(-1, 3)
    n = table.num_rows
    owner = np.repeat(np.arange(n), np.diff(voff))
    origin = np.stack([table.column(c).to_numpy() for c in ("ox", "oy", "oz")], axis=1)
    quantum = table.column("quantum_nm").to_numpy().astype(np.float64)
    return MeshBatch(
        ids=table.column("mito_id").to_numpy().astype(np.int64),
        vertices=origin[owner] + q * quantum[owner][:, None],
        faces=faces.flatten().to_numpy().astype(np.int64).reshape(-1, 3),
        vertex_offsets=voff,
        face_offsets=foff,
    )
