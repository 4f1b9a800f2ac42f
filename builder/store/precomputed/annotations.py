"""Point annotations in the ``neuroglancer_annotations_v1`` format, written for all points at
once (numpy structured arrays), with sharded ``by_id`` and relationship indices.

Why not neuroglancer's own ``write_annotations.AnnotationWriter``: (a) its property table gives
``uint32`` an alignment of 3 bytes instead of 4, so a ``uint32`` property that follows a smaller
one is written at an offset the client does not read from (``tests/store/test_precomputed.py``
shows it); (b) it writes one file per annotation and per related segment, unsharded (a million
files for the Phase 1 synapses) from a Python loop per annotation. The encoding here follows the
format as the client decodes it (``src/annotation/index.ts`` ``getPropertyOffsets``: properties
sorted by decreasing alignment, each at a multiple of its alignment, the record padded to 4
bytes), and the indices are sharded with cloud-volume's ``synthesize_shard_files``.

Layout written (``spatial0`` is one level of a grid of cells over the bounds, each cell holding
all its points, so the viewer fetches only the cells in view):

- ``info``; ``by_id/``: per annotation, its record and its related segment ids;
- ``rel_<relationship>/``: per segment, the records of its related annotations and their ids;
- ``spatial0/<i>_<j>_<k>``: per grid cell, its records and ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from builder.store.atomic import write_bytes
from builder.store.precomputed.common import ANNOTATION_DIMENSIONS, sharding_spec, spec_json, write_json, write_objects

_ALIGN = {"float32": 4, "uint32": 4, "int32": 4, "uint16": 2, "int16": 2, "uint8": 1, "int8": 1}
_DTYPE = {"float32": "<f4", "uint32": "<u4", "int32": "<i4", "uint16": "<u2", "int16": "<i2", "uint8": "u1", "int8": "i1"}


@dataclass(frozen=True)
class Property:
    """An annotation property: ``id``, numeric ``type``, optional description and enum."""

    id: str
    type: str
    description: str = ""
    enum_values: tuple[int, ...] = ()
    enum_labels: tuple[str, ...] = ()

    def to_json(self) -> dict:
        out: dict = {"id": self.id, "type": self.type}
        if self.description:
            out["description"] = self.description
        if self.enum_values:
            out["enum_values"] = list(self.enum_values)
            out["enum_labels"] = list(self.enum_labels)
        return out


def record_dtype(rank: int, properties: list[Property]) -> tuple[np.dtype, list[Property]]:
    """The record of a point annotation (geometry, then properties by decreasing alignment,
    each aligned, padded to 4 bytes) and the properties in stored order."""
    ordered = sorted(properties, key=lambda p: -_ALIGN[p.type])  # stable, as the client's sort
    names: list[str] = ["geometry"]
    formats: list[Any] = [("<f4", (rank,))]
    offsets = [0]
    off = 4 * rank
    for p in ordered:
        a = _ALIGN[p.type]
        off += (-off) % a
        names.append(p.id)
        formats.append(_DTYPE[p.type])
        offsets.append(off)
        off += np.dtype(_DTYPE[p.type]).itemsize
    size = off + (-off) % 4
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": size}), ordered


@dataclass
class PointLayer:
    """Points to write: ``positions`` (n, 3) in release voxels, uint64 ``ids``, property
    columns, and per relationship the related segment ids (one uint64 per point, 0 for none)."""

    positions: np.ndarray
    ids: np.ndarray
    properties: list[Property]
    values: dict[str, np.ndarray]
    relationships: dict[str, np.ndarray] = field(default_factory=dict)

    def records(self) -> tuple[np.ndarray, list[Property]]:
        dtype, ordered = record_dtype(3, self.properties)
        rec = np.zeros(len(self.ids), dtype)
        rec["geometry"] = self.positions.astype(np.float32)
        for p in ordered:
            rec[p.id] = self.values[p.id]
        return rec, ordered


def _with_ids(rec: np.ndarray, ids: np.ndarray) -> bytes:
    """count (uint64), the records, then their ids (uint64): a multiple-annotation block.

    The records are copied into zeros: numpy copies a padded record field by field (a
    fancy-indexed selection leaves its padding uninitialised), and the same dataset must give
    the same bytes."""
    out = np.zeros(len(rec), rec.dtype)
    out[...] = rec
    return np.uint64(len(rec)).tobytes() + out.tobytes() + np.asarray(ids, "<u8").tobytes()


def write_points(folder: Path, layer: PointLayer, grid: tuple[int, int, int] = (8, 4, 2)) -> dict:
    """Write a point annotation layer into ``folder``; returns ``files`` and ``points``."""
    rec, ordered = layer.records()
    n = len(rec)
    ids = np.asarray(layer.ids, np.uint64)
    pos = np.asarray(layer.positions, np.float64)
    lo = pos.min(axis=0) if n else np.zeros(3)
    hi = pos.max(axis=0) + 1.0 if n else np.ones(3)
    gshape = np.asarray(grid, np.int64)
    chunk = np.maximum((hi - lo) / gshape, 1.0)
    cell = np.minimum(np.floor((pos - lo) / chunk).astype(np.int64), gshape - 1) if n else np.zeros((0, 3), np.int64)
    files: list[Path] = []
    # spatial index: one file per non-empty grid cell
    key = (cell[:, 0] * gshape[1] + cell[:, 1]) * gshape[2] + cell[:, 2]
    order = np.argsort(key, kind="stable")
    limit = 0
    for k, start, stop in _runs(key[order]):
        i, j, m = k // (gshape[1] * gshape[2]), (k // gshape[2]) % gshape[1], k % gshape[2]
        sel = order[start:stop]
        write_bytes(folder / "spatial0" / f"{i}_{j}_{m}", _with_ids(rec[sel], ids[sel]))
        files.append(folder / "spatial0" / f"{i}_{j}_{m}")
        limit = max(limit, stop - start)
    # by id: the record, then per relationship the count (uint32) and ids (uint64) of the related
    # segments: one, or none where the id is 0; entries of one pattern packed at once
    rels = list(layer.relationships)
    seg_ids = {r: np.asarray(layer.relationships[r], np.uint64) for r in rels}
    present = np.stack([seg_ids[r] > 0 for r in rels], axis=1) if rels else np.zeros((n, 0), bool)
    by_id: dict[int, bytes] = {}
    for pattern in np.unique(present, axis=0) if n else []:
        rows = np.flatnonzero((present == pattern).all(axis=1))
        fields: list[tuple[str, Any]] = [("rec", rec.dtype)]
        for r, has in zip(rels, pattern):
            fields += [(f"n_{r}", "<u4")] + ([(f"id_{r}", "<u8")] if has else [])
        entries = np.zeros(len(rows), np.dtype(fields))  # packed: no padding between the fields
        entries["rec"] = rec[rows]
        for r, has in zip(rels, pattern):
            if has:
                entries[f"n_{r}"] = 1
                entries[f"id_{r}"] = seg_ids[r][rows]
        blob, size = entries.tobytes(), entries.dtype.itemsize
        by_id.update({int(i): blob[t * size : (t + 1) * size] for t, i in enumerate(ids[rows])})
    spec = sharding_spec(len(by_id), data_encoding="raw")  # entries of tens of bytes: gzip would grow them
    files += write_objects(folder / "by_id", by_id, spec)
    info_rels = []
    for r in rels:
        seg = np.asarray(layer.relationships[r], np.uint64)
        has = np.flatnonzero(seg > 0)
        o = has[np.argsort(seg[has], kind="stable")]
        blocks = {int(s): _with_ids(rec[o[a:b]], ids[o[a:b]]) for s, a, b in _runs(seg[o])}
        rspec = sharding_spec(len(blocks))
        files += write_objects(folder / f"rel_{r}", blocks, rspec)
        info_rels.append({"id": r, "key": f"rel_{r}", **({"sharding": spec_json(rspec)} if rspec else {})})
    info = {
        "@type": "neuroglancer_annotations_v1", "dimensions": ANNOTATION_DIMENSIONS, "annotation_type": "point",
        "lower_bound": [float(x) for x in lo], "upper_bound": [float(x) for x in hi],
        "properties": [p.to_json() for p in ordered], "relationships": info_rels,
        "by_id": {"key": "by_id", **({"sharding": spec_json(spec)} if spec else {})},
        "spatial": [{"key": "spatial0", "grid_shape": [int(g) for g in gshape], "chunk_size": [float(c) for c in chunk],
                     "limit": int(max(limit, 1))}],
    }  # fmt: skip
    write_json(folder / "info", info)
    return {"files": [*files, folder / "info"], "points": n}


def _runs(sorted_keys: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(key, start, stop) of each run of equal values in a sorted array."""
    if not len(sorted_keys):
        return
    start = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    stop = np.r_[start[1:], len(sorted_keys)]
    for a, b in zip(start, stop):
        yield int(sorted_keys[a]), int(a), int(b)
