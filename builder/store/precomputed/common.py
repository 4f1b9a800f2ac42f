"""Shared pieces of the neuroglancer precomputed writers: the coordinate transform, sharding
through cloud-volume, atomic file writes, and segment properties.

Space. The dataset's positions are nm at the EM resolution (3.58 x 3.58 x 40 nm per release
voxel). The public Phase 1 layers (EM, segmentation, mitochondria) declare the nominal 4 x 4 x
40 nm voxel, so their "model" nm are the release voxels times (4, 4, 40). Skeletons and meshes
are stored in the dataset's nm and their info ``transform`` scales x and y by 1 / 0.895 into
that nominal space (the precomputed skeleton and mesh ``transform``: stored model space to
model space, nm); annotations are stored in release voxels with dimensions 4 x 4 x 40 nm. So
every layer lands on the public EM, as the explorer's points always have.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from builder.schema import EM_VOXEL_NM, LAYER_VOXEL_NM, NOMINAL_TO_EM
from builder.store.atomic import write_bytes

#: The 3x4 row-major transform from the dataset's nm to the layers' nominal nm.
TO_NOMINAL_NM: list[float] = [
    1 / NOMINAL_TO_EM[0], 0, 0, 0,
    0, 1 / NOMINAL_TO_EM[1], 0, 0,
    0, 0, 1 / NOMINAL_TO_EM[2], 0,
]  # fmt: skip
#: Annotation dimensions: the release's voxels, declared as the layers declare them.
ANNOTATION_DIMENSIONS: dict = {axis: [s * 1e-9, "m"] for axis, s in zip("xyz", LAYER_VOXEL_NM)}
#: Shard above this many objects (fewer: one file per object is fine, and simpler to inspect).
SHARD_ABOVE = 64


def nm_to_release_vx(nm: np.ndarray) -> np.ndarray:
    """Dataset nm -> release voxels (the annotation coordinates), shape kept, float64."""
    return np.asarray(nm, np.float64) / np.asarray(EM_VOXEL_NM)


def write_json(path: Path, obj: dict) -> None:
    write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def sharding_spec(n_objects: int, data_encoding: str = "gzip") -> Any:
    """A ``neuroglancer_uint64_sharded_v1`` specification for ``n_objects`` hashed keys
    (cloud-volume's ``compute_shard_params_for_hashed``), or None for fewer than
    :data:`SHARD_ABOVE` objects (unsharded)."""
    if n_objects <= SHARD_ABOVE:
        return None
    from cloudvolume.datasource.precomputed.sharding import ShardingSpecification, compute_shard_params_for_hashed

    shard_bits, minishard_bits, preshift_bits = compute_shard_params_for_hashed(n_objects)
    return ShardingSpecification(
        type="neuroglancer_uint64_sharded_v1", preshift_bits=preshift_bits, hash="murmurhash3_x86_128",
        minishard_bits=minishard_bits, shard_bits=shard_bits, minishard_index_encoding="gzip", data_encoding=data_encoding,
    )  # fmt: skip


def spec_json(spec: Any) -> dict:
    """A sharding specification as plain JSON values (cloud-volume's dict holds numpy ints)."""
    return json.loads(spec.to_json())


def shard_locations(spec: Any, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(shard number, minishard number) of each uint64 key, as cloud-volume's
    ``ShardingSpecification.compute_shard_location`` computes them (murmurhash3_x86_128, low
    64 bits, of the key shifted by ``preshift_bits``), but with the bit arithmetic on arrays:
    cloud-volume's per-key numpy scalars cost 50 us a key, a million synapses nearly a minute."""
    import mmh3

    k = np.asarray(keys, np.uint64) >> np.uint64(spec.preshift_bits)
    if spec.hash == "identity":
        h = k
    else:
        h = np.fromiter((mmh3.hash64(x.tobytes(), x64arch=False)[0] for x in k), np.int64, len(k)).view(np.uint64)
    minishard = h & np.uint64(spec.minishard_mask)
    shard = (h & np.uint64(spec.shard_mask)) >> np.uint64(spec.minishard_bits)
    return shard, minishard


def write_objects(folder: Path, data: Mapping[int, bytes], spec: Any, data_offset: Mapping[int, int] | None = None) -> list[Path]:
    """Write ``{key: bytes}`` under ``folder``: as shard files when ``spec`` is given (each
    assembled by cloud-volume's ``synthesize_shard_file`` from the keys :func:`shard_locations`
    puts in it; the files are those of its ``synthesize_shard_files``), else one file per key
    named by the key; returns the files written."""
    if spec is None:
        out = []
        for key, blob in data.items():
            write_bytes(folder / str(int(key)), blob)
            out.append(folder / str(int(key)))
        return out
    from cloudvolume.datasource.precomputed.sharding import synthesize_shard_file

    keys = np.fromiter(data.keys(), np.uint64, len(data))
    shard, minishard = shard_locations(spec, keys)
    width = int(np.ceil(spec.shard_bits / 4.0))
    order = np.argsort(shard, kind="stable")  # keys in given order within a shard, as cloud-volume
    files = []
    bounds = np.flatnonzero(np.r_[True, shard[order][1:] != shard[order][:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        group: dict = {}
        for i in order[a:b]:
            group.setdefault(np.uint64(minishard[i]), {})[int(keys[i])] = data[int(keys[i])]
        name = format(int(shard[order[a]]), "x").zfill(width) + ".shard"
        write_bytes(folder / name, synthesize_shard_file(spec, group, data_offset, presorted=True))
        files.append(folder / name)
    return files


def segment_properties(ids: Iterable[int], labels: Iterable[str], tag_names: list[str], tags: list[list[int]] | None,
                       numbers: Mapping[str, np.ndarray]) -> dict:  # fmt: skip
    """A ``neuroglancer_segment_properties`` info with inline properties.

    Parameters
    ----------
    ids : segment ids (uint64), n of them
    labels : one label per id
    tag_names : the tags' names; ``tags`` gives each id's tag indices into it (None: no tags)
    numbers : ``{property id: array of n}`` written as float32; a value that is not finite is
        written as -1 (JSON has no NaN)
    """
    id_strings = [str(int(i)) for i in ids]
    props: list[dict] = [{"id": "label", "type": "label", "values": [str(v) for v in labels]}]
    if tags is not None:
        props.append({"id": "tags", "type": "tags", "tags": list(tag_names), "values": [sorted(map(int, t)) for t in tags]})
    for name, values in numbers.items():
        v = np.asarray(values, np.float64)
        v = np.where(np.isfinite(v), v, -1.0).astype(np.float32)
        props.append({"id": name, "type": "number", "data_type": "float32", "values": [float(x) for x in v]})
    return {"@type": "neuroglancer_segment_properties", "inline": {"ids": id_strings, "properties": props}}
