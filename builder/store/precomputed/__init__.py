"""The dataset as neuroglancer precomputed layers, under ``<dataset>/precomputed/``.

=================  =====================================================================
``skeletons/``     cells: ``neuroglancer_skeletons`` with ``radius`` and ``compartment``
                   vertex attributes, segment properties (label, cell type and subtype as
                   tags, counts and cable length as numbers); sharded above 64 cells
``mitochondria/``  mitochondrion meshes: ``neuroglancer_multilod_draco``, sharded, segment
                   properties (volume, MCI, distance to the soma; compartment as a tag)
``synapses/``      ``neuroglancer_annotations_v1`` points related to their ``pre`` and
                   ``post`` segments, cleft ``size`` as a property
``mito_centres/``  points at mitochondrion centres related to their ``cell``, compartment as
                   an enum property, volume and MCI
=================  =====================================================================

Written by the build before the manifest (so checksummed like every file) and by
``python -m builder neuroglancer DATASET``; every file atomically, files of an earlier run
that are not rewritten removed. Ids are the dataset's, so a real build's layers sit on the
real EM and segmentation (docs/neuroglancer.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builder.errors import DatasetError
from builder.schema import NAME_TO_CODE
from builder.store.atomic import atomic_folder
from builder.store.lock import folder_lock
from builder.store.manifest import check_format_version, read_manifest, refresh_checksums, verify_checksums
from builder.store.paths import DatasetPaths
from builder.store.precomputed.annotations import PointLayer, Property, write_points
from builder.store.precomputed.common import nm_to_release_vx
from builder.store.precomputed.meshes import encode_cell_meshes, write_meshes
from builder.store.precomputed.skeletons import write_skeletons

log = logging.getLogger(__name__)
LAYERS = ("skeletons", "mitochondria", "synapses", "mito_centres")
#: Enum of the ``compartment`` property of the centres: the dataset's codes, and 6 for the
#: astrocytes' ``Branch``.
CENTRE_COMPARTMENTS: dict[str, int] = {**NAME_TO_CODE, "Branch": 6}


def rewrite_layers(dataset: Path) -> dict:
    """``python -m builder neuroglancer DATASET``: check, then replace ``precomputed/`` whole.

    Under the dataset's lock: the manifest must be there, of this format version, and every file
    outside ``precomputed/`` must match its checksum (the layers are made from the tables, so
    layers are never rewritten from altered tables); the layers are then written into a new
    folder that replaces the old one in one rename, and the manifest is refreshed.

    Raises
    ------
    DatasetError
        Not a built dataset, another format version, or a file changed since the build; the
        message names it and the fix (rebuild).
    """
    paths = DatasetPaths(Path(dataset))
    with folder_lock(paths.root, f"python -m builder neuroglancer {paths.root}"):
        manifest = read_manifest(paths)
        if manifest is None:
            raise DatasetError(f"{paths.manifest}: missing or unreadable, so {paths.root} is not a built dataset; "
                               f"build it with python -m builder build --out {paths.root}")  # fmt: skip
        check_format_version(manifest, paths.manifest)
        changed = [p for p in verify_checksums(paths.root, manifest) if not p.startswith("precomputed/")]
        if changed:
            raise DatasetError(f"{paths.root}/{changed[0]}; the layers are made from the tables, so they were not "
                               f"rewritten: rebuild the dataset (python -m builder build --out {paths.root})")  # fmt: skip
        with atomic_folder(paths.precomputed) as tmp:
            summary = write_layers(paths, root=tmp)
        refresh_checksums(paths, "precomputed")
    return summary


def write_layers(paths: DatasetPaths, mesh_parts: Sequence[Path] | None = None, root: Path | None = None) -> dict:
    """Write every layer from the dataset's tables; returns per layer the files, bytes and
    seconds, and the legacy-format estimate of the meshes.

    Parameters
    ----------
    paths : the dataset (its tables written; the manifest is not needed)
    mesh_parts : the build's per-cell encoded meshes (:func:`encode_cell_meshes`, one Parquet
        file per cell); None encodes them here from ``tables/mito_meshes.parquet``, which gives
        the same bytes (the parts are encoded from the same quantised meshes).
    root : the folder to write (default ``paths.precomputed``)
    """
    from builder.store.meshes import decode_meshes
    from builder.store.reader import Dataset

    ds = Dataset(paths.root, layout="parquet", require_manifest=False)
    root = paths.precomputed if root is None else Path(root)
    summary: dict = {}
    written: list[Path] = []
    cells = ds.cells.sort_values("cell_id")
    ids = cells["cell_id"].to_numpy(np.int64)

    def timed(name: str, fn: Callable[[], dict]) -> None:
        t = time.perf_counter()
        res = fn()
        files = res.pop("files")
        written.extend(files)
        summary[name] = {**res, "files": len(files), "bytes": int(sum(f.stat().st_size for f in files)),
                         "seconds": round(time.perf_counter() - t, 3)}  # fmt: skip
        log.info("neuroglancer layer %s: %d files, %.1f MB", name, len(files), summary[name]["bytes"] / 1e6)

    timed("skeletons", lambda: write_skeletons(root / "skeletons", cells, ds.skeleton_nodes))
    if mesh_parts is not None:
        encoded: Iterable[pa.Table] = (pq.read_table(p) for p in mesh_parts)
    else:
        mesh_table = pq.read_table(paths.table("mito_meshes"))
        encoded = (encode_cell_meshes(decode_meshes(mesh_table.filter(pc.equal(mesh_table["cell_id"], int(c))))) for c in ids)
    timed("mitochondria", lambda: write_meshes(root / "mitochondria", ds.mitochondria, encoded))
    syn = ds.synapses.drop_duplicates("synapse_id").sort_values("synapse_id")
    timed("synapses", lambda: write_points(root / "synapses", PointLayer(
        positions=nm_to_release_vx(syn[["x", "y", "z"]].to_numpy()), ids=syn["synapse_id"].to_numpy(np.uint64),
        properties=[Property("size", "uint32", "cleft size, voxels")], values={"size": syn["size"].to_numpy(np.uint32)},
        relationships={"pre": syn["pre_root_id"].to_numpy(np.uint64), "post": syn["post_root_id"].to_numpy(np.uint64)},
    )))  # fmt: skip
    m = ds.mitochondria.sort_values("mito_id")
    names = list(CENTRE_COMPARTMENTS)
    timed("mito_centres", lambda: write_points(root / "mito_centres", PointLayer(
        positions=nm_to_release_vx(m[["x", "y", "z"]].to_numpy()), ids=m["mito_id"].to_numpy(np.uint64),
        properties=[Property("compartment", "uint8", "compartment", tuple(CENTRE_COMPARTMENTS.values()), tuple(names)),
                    Property("volume_um3", "float32", "volume, um^3"), Property("complexityindex", "float32", "MCI")],
        values={"compartment": m["compartment"].map(CENTRE_COMPARTMENTS).to_numpy(np.uint8),
                "volume_um3": m["volume_um3"].to_numpy(np.float32), "complexityindex": m["complexityindex"].to_numpy(np.float32)},
        relationships={"cell": m["cellid"].to_numpy(np.uint64)},
    )))  # fmt: skip
    keep = {p.resolve() for p in written}
    stale = [p for p in root.rglob("*") if p.is_file() and p.resolve() not in keep and ".tmp-" not in p.name]
    for p in stale:  # files of an earlier run that this one did not write
        p.unlink()
    return summary


def layers_text(summary: dict, root: Path) -> str:
    """What :func:`write_layers` wrote, one line per layer."""
    lines = [f"neuroglancer layers in {root}:"]
    for name, r in summary.items():
        lines.append(f"  {name:<13} {r['files']:>6} files {r['bytes'] / 1e6:>8.1f} MB {r['seconds']:>7.1f} s")
    m = summary.get("mitochondria", {})
    if m.get("legacy_files"):
        lines.append(f"  (legacy mesh format: {m['legacy_files']} files, {m['legacy_bytes'] / 1e6:.1f} MB)")
    return "\n".join(lines)
