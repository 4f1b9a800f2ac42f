"""Mitochondrion meshes as a ``neuroglancer_multilod_draco`` layer (sharded), with segment
properties per mitochondrion.

Why the multi-resolution format with one level of detail rather than the legacy format: the
legacy format is two files per mitochondrion (a JSON manifest and a fragment) and cannot be
sharded, so a 450-cell demo would be about 290,000 files (docs/neuroglancer.md gives the
measured counts and bytes). The multi-resolution format stores each mitochondrion as one Draco
fragment (16-bit positions on its own bounding box: 1/65535 of a mitochondrion's extent, under
a nanometre) behind a small binary manifest, and shards: a handful of files, read with HTTP
Range requests.

The encoders are the field's: DracoPy for the fragments, cloud-volume's
``MultiLevelPrecomputedMeshManifest`` for the manifests and its ``synthesize_shard_files``
(with ``data_offset``, which puts each manifest right after its fragment data, as the format
requires) for the shards.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from builder.compute.meshes import MeshBatch
from builder.store.atomic import write_bytes
from builder.store.precomputed.common import (
    TO_NOMINAL_NM,
    segment_properties,
    sharding_spec,
    spec_json,
    write_json,
    write_objects,
)

QUANTIZATION_BITS = 16
_QMAX = 2**QUANTIZATION_BITS - 1


def manifest_bytes(chunk_shape: np.ndarray, grid_origin: np.ndarray, fragment_bytes: int) -> bytes:
    """The manifest of a mesh of one level of detail and one fragment at grid position 0:
    chunk_shape (3 float32), grid_origin (3 float32), num_lods = 1 (uint32), lod_scales = 1
    (float32), vertex_offsets = 0 (3 float32), num_fragments_per_lod = 1 (uint32), the fragment's
    position 0 (3 uint32) and byte size (uint32), little-endian: 64 bytes. Written here for speed
    (cloud-volume's ``MultiLevelPrecomputedMeshManifest.to_binary``, the reference the tests
    compare with, costs milliseconds per mitochondrion)."""
    head = np.asarray(chunk_shape, "<f4").tobytes() + np.asarray(grid_origin, "<f4").tobytes()
    return head + struct.pack("<If3fI3II", 1, 1.0, 0.0, 0.0, 0.0, 1, 0, 0, 0, int(fragment_bytes))


def encode_mesh(vertices_nm: np.ndarray, faces: np.ndarray) -> tuple[bytes, bytes]:
    """One mitochondrion as (Draco fragment, manifest) of a single level of detail.

    The fragment's integer positions in ``[0, 2**16)`` span the mesh's bounding box (the
    manifest's ``grid_origin`` and ``chunk_shape``), Draco's own quantization set to exactly
    that grid so that the decoded values are the integers (neuroglancer reads them without
    Draco's dequantization).
    """
    import DracoPy

    v = np.asarray(vertices_nm, np.float64)
    origin = v.min(axis=0)
    shape = np.maximum(v.max(axis=0) - origin, 1.0)
    q = np.clip(np.round((v - origin) / shape * _QMAX), 0, _QMAX).astype(np.float32)
    frag = DracoPy.encode(q, np.asarray(faces, np.uint32), quantization_bits=QUANTIZATION_BITS, quantization_range=_QMAX,
                          quantization_origin=[0.0, 0.0, 0.0], compression_level=7)  # fmt: skip
    return frag, manifest_bytes(shape, origin, len(frag))


def encode_cell_meshes(batch: MeshBatch) -> pa.Table:
    """Every mesh of a cell encoded: ``mito_id``, ``data`` (Draco fragment then manifest),
    ``manifest_bytes`` and the mesh's ``n_vertices``, ``n_faces``; one row per mesh. The build's
    workers write it as a part of each cell, so the layer's shards are assembled, not encoded,
    at the end."""
    blobs, sizes = [], []
    for i in range(batch.n):
        frag, manifest = encode_mesh(*batch.mesh(i))
        blobs.append(frag + manifest)
        sizes.append(len(manifest))
    return pa.table({
        "mito_id": pa.array(batch.ids, pa.int64()), "data": pa.array(blobs, pa.binary()),
        "manifest_bytes": pa.array(sizes, pa.int32()), "n_vertices": pa.array(batch.n_vertices, pa.int32()),
        "n_faces": pa.array(batch.n_faces, pa.int32()),
    })  # fmt: skip


def tag(name: str) -> str:
    """A compartment as a segment-property tag (no spaces: ``#Unknown_dendritic`` in a query)."""
    return name.replace(" ", "_")


def write_meshes(folder: Path, mitos: pd.DataFrame, encoded: Iterable[pa.Table]) -> dict:
    """Write the mitochondria mesh layer into ``folder``.

    Parameters
    ----------
    mitos : DataFrame
        The dataset's mitochondria (``mito_id, cellid, compartment, volume_um3,
        complexityindex, path_dist_to_soma_um``).
    encoded : iterable of Table
        Per cell, its meshes as :func:`encode_cell_meshes` gives them.

    Returns
    -------
    dict
        ``files``, ``mitochondria`` (with a mesh), ``vertices``, ``faces``, and ``legacy_bytes``
        / ``legacy_files``: what the legacy format would have taken for the same meshes.
    """
    data: dict[int, bytes] = {}
    offsets: dict[int, int] = {}
    n_vert = n_face = legacy = 0
    for table in encoded:
        ids = table.column("mito_id").to_numpy()
        sizes = table.column("manifest_bytes").to_numpy()
        data.update(zip(ids.tolist(), table.column("data").to_pylist()))
        offsets.update(zip(ids.tolist(), sizes.tolist()))
        nv = table.column("n_vertices").to_numpy().astype(np.int64)
        nf = table.column("n_faces").to_numpy().astype(np.int64)
        n_vert, n_face = n_vert + int(nv.sum()), n_face + int(nf.sum())
        # legacy: one fragment file (vertex count, float32 xyz, uint32 faces) + one manifest each
        legacy += int(np.sum(4 + 12 * nv + 12 * nf)) + sum(len(f'{{"fragments": ["{int(m)}:0:1"]}}') for m in ids)
    spec = sharding_spec(len(data), data_encoding="raw")  # fragment data is never compressed
    info = {"@type": "neuroglancer_multilod_draco", "vertex_quantization_bits": QUANTIZATION_BITS, "transform": TO_NOMINAL_NM,
            "lod_scale_multiplier": 1.0, "segment_properties": "segment_properties"}  # fmt: skip
    if spec is not None:
        info["sharding"] = spec_json(spec)
        files = write_objects(folder, data, spec, data_offset=offsets)
    else:  # unsharded: <id>.index holds the manifest, <id> the fragment data
        files = write_objects(folder, {k: b[: len(b) - offsets[k]] for k, b in data.items()}, None)
        for k, b in data.items():
            write_bytes(folder / f"{k}.index", b[len(b) - offsets[k] :])
            files.append(folder / f"{k}.index")
    m = mitos.set_index("mito_id").loc[sorted(data)]
    names = sorted(set(m["compartment"]))
    tag_names = [tag(n) for n in names]
    labels = [f"mito {i} · cell {c} · {comp}" for i, c, comp in zip(m.index, m["cellid"], m["compartment"])]
    numbers = {
        "volume_um3": m["volume_um3"],
        "complexityindex": m["complexityindex"],
        "path_dist_to_soma_um": m["path_dist_to_soma_um"],
    }
    write_json(folder / "segment_properties" / "info",
               segment_properties(m.index, labels, tag_names, [[names.index(c)] for c in m["compartment"]], numbers))  # fmt: skip
    write_json(folder / "info", info)
    return {"files": [*files, folder / "segment_properties" / "info", folder / "info"], "mitochondria": len(data),
            "vertices": n_vert, "faces": n_face, "legacy_bytes": legacy, "legacy_files": 2 * len(data) + 1}  # fmt: skip
