"""Publish a demo volume the way the Phase 1 release is published, for the real-source tests.

Tables and the skeleton archive go into Zenodo-like records where the release has them (the
archive, with its inner folder ``smoothed_skeletons_v185/``, in 6363348; no overlap table, which
is in no record); the meshes, in the layer's nominal 4-nm space, become a precomputed
legacy mesh layer (``info``, ``mesh/{id}:0`` manifests, binary fragments) that cloud-volume
reads over HTTP. Each mesh is split into two fragments sharing vertices, as chunked meshing
produces, so the source has to merge the seam.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from builder.sources.mesh_bundle import read_bundle
from builder.sources.published import (
    CELL_TYPE_TABLE,
    MESH_DIR,
    MITO_TABLE,
    SKELETON_ARCHIVE,
    SOMA_TABLE,
    SYNAPSE_TABLE,
)


def _fragment(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    return struct.pack("<I", len(vertices)) + np.asarray(vertices, "<f4").tobytes() + np.asarray(faces, "<u4").tobytes()


def write_mesh_layer(raw: Path, layer: Path, drop: set[int] = frozenset()) -> int:
    """Write every bundled mesh of ``raw`` (except ids in ``drop``) as a legacy mesh layer."""
    (layer / "mesh").mkdir(parents=True, exist_ok=True)
    info = {
        "@type": "neuroglancer_multiscale_volume", "type": "segmentation", "data_type": "uint64",
        "num_channels": 1, "mesh": "mesh",
        "scales": [{"key": "4_4_40", "resolution": [4, 4, 40], "size": [200000, 200000, 4000],
                    "voxel_offset": [0, 0, 0], "chunk_sizes": [[256, 256, 32]], "encoding": "raw"}],
    }  # fmt: skip
    (layer / "info").write_text(json.dumps(info))
    (layer / "mesh" / "info").write_text(json.dumps({"@type": "neuroglancer_legacy_mesh"}))
    n = 0
    for bundle in sorted((raw / MESH_DIR).glob("*.h5")):
        batch, _ = read_bundle(bundle)
        for i, mid in enumerate(batch.ids):
            if int(mid) in drop:
                continue
            v, f = batch.mesh(i)
            half = len(f) // 2
            names = [f"{mid}:0:a", f"{mid}:0:b"]
            (layer / "mesh" / names[0]).write_bytes(_fragment(v, f[:half]))
            (layer / "mesh" / names[1]).write_bytes(_fragment(v, f[half:]))
            (layer / "mesh" / f"{mid}:0").write_text(json.dumps({"fragments": names}))
            n += 1
    return n


def published_records(raw: Path) -> dict[int, dict[str, bytes]]:
    """The raw demo files arranged in the three Phase 1 records, as the release has them."""
    read = lambda name: (raw / name).read_bytes()  # noqa: E731
    return {
        3710459: {SOMA_TABLE: read(SOMA_TABLE), SYNAPSE_TABLE: read(SYNAPSE_TABLE)},
        5579388: {MITO_TABLE: read(MITO_TABLE)},
        6363348: {SKELETON_ARCHIVE: read(SKELETON_ARCHIVE), CELL_TYPE_TABLE: read(CELL_TYPE_TABLE)},
    }
