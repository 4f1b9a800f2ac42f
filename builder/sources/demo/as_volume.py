"""The demo as a lab's volume: precomputed segmentations, meshes and skeletons, tables, VOLUME.toml.

``python -m builder demo --as-volume DIR`` writes (docs/volume.md)::

    DIR/cells/           uint64 cell segmentation (ids = the demo's int64 root ids) + skeletons/
                         (precomputed, vertex attributes radius and compartment, our codes 0-5)
    DIR/mitochondria/    uint64 mitochondria segmentation + mesh/ (legacy precomputed meshes, nm)
    DIR/somata.parquet   cell_id, x, y, z (nm), cell_type, cell_subtype
    DIR/synapses.parquet the release's synapse columns (positions in 3.58 x 3.58 x 40 nm voxels)
    DIR/VOLUME.toml      the description :func:`builder.sources.volume_config.load_volume_config` reads
    DIR/demo-raw/        the demo in the published layout it was made from (with its truth)
    DIR/demo_as_volume.json  the marker: only a folder holding it is ever cleared and rewritten

Both segmentations are written independently (as real data are: a mitochondrion's voxels are
not clipped to its cell's). A cell is the union of its skeleton's capsules (node spheres and
edge frustums, :mod:`builder.compute.voxelise`); a mitochondrion the voxels whose centres lie
in its mesh. Where two cells or two mitochondria overlap, the larger id (the later one) takes
the voxel; the contested voxels are counted. Chunks with no label are not written (cloud-volume
reads them as 0 with ``fill_missing=True``).

Voxelisation error of mitochondrial volume (voxels x voxel volume against the mesh volume),
measured on the 3-cell demo (seed 1, 942 meshes; ``python -m builder demo --as-volume DIR``):
at 16 x 16 x 40 nm median 0.23 %, 95th percentile 1.6 %, max 13.0 %; at 64 x 64 x 80 nm median
1.8 %, max 65 %. Every mitochondrion is within the first-order bound of
:func:`builder.compute.voxelise.volume_error_bound` (median bound 49 % of the volume at 16 x 16 x
40 nm: a worst case). The demo's meshes overlap: 775,609 of 11.65 M mitochondrion voxels (6.7 %)
lie in two meshes at 16 x 16 x 40 nm.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from builder.compute import voxelise as vx
from builder.compute.meshes import MeshBatch
from builder.config import DemoParams
from builder.errors import BuilderError, InputFileError
from builder.schema import DEMO_SEGMENT_ID_BASE, EM_VOXEL_NM, label_mapping
from builder.store.lock import folder_lock

log = logging.getLogger(__name__)
#: Storage chunk of both segmentations (voxels); also the block voxelised at a time.
CHUNK = (128, 128, 64)
DEFAULT_CELLS = 3
DEFAULT_RESOLUTION_NM = (16.0, 16.0, 40.0)
#: Voxel sides below this are refused (the demo's meshes are not finer).
MIN_SIDE_NM = 4.0
MAX_SIDE_NM = 1e5
#: Grids (the box holding every cell and mesh) above this many voxels are refused before any voxel is
#: written. The 3-cell demo's grid is 2.7e11 voxels at 16 x 16 x 40 nm (its empty blocks are never
#: computed); 1e12 allows about 4 times that, hours of work at the measured rate (docs/volume.md).
MAX_GRID_VOXELS = 10**12
#: Written first into the output folder: only a folder holding it is ever cleared and rewritten.
MARKER = "demo_as_volume.json"
UNLABELLED = 5  # astrocytes' nodes carry no label in the demo: written as Unknown
SKELETON_ATTRIBUTES = [
    {"id": "radius", "data_type": "float32", "num_components": 1},
    {"id": "compartment", "data_type": "uint8", "num_components": 1},
]


@dataclass
class VolumeSummary:
    """What :func:`write_demo_as_volume` wrote and measured (errors relative: |N v - V| / V)."""

    out: Path
    cell_ids: list[int]
    resolution_nm: tuple[float, float, float]
    n_mito: int = 0
    cell_voxels: int = 0
    mito_voxels: int = 0
    contested_cell_voxels: int = 0
    contested_mito_voxels: int = 0
    mitos_without_voxels: int = 0
    odd_columns: int = 0
    seconds_cells: float = 0.0
    seconds_mito: float = 0.0
    error_median: float = float("nan")
    error_max: float = float("nan")
    within_bound: int = 0
    per_mito: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class _Cell:
    cell_id: int
    vertices: np.ndarray
    edges: np.ndarray
    radius: np.ndarray
    labels: np.ndarray
    meshes: MeshBatch


def _load_demo(raw_dir: Path, seed: int, cells: int | tuple[int, ...]) -> tuple[list[_Cell], pd.DataFrame, Path]:
    """Generate (or reuse) the demo in the published layout and read the chosen cells from it."""
    from builder.sources.demo import generate_demo_volume

    n = cells if isinstance(cells, int) else DemoParams().cells
    src = generate_demo_volume(raw_dir, DemoParams(seed=seed, cells=n))
    tables = src.tables()
    have = tables.cells["cell_id"].to_numpy(np.int64)
    ids = have if isinstance(cells, int) else np.asarray(cells, np.int64)
    missing = sorted(set(ids.tolist()) - set(have.tolist()))
    if missing:
        raise InputFileError(
            raw_dir, f"cell {missing[0]} is not in the {n}-cell demo (seed {seed})", f"Its cells: {have.tolist()}"
        )
    lut = label_mapping(src.label_names)
    out = []
    for cid in sorted(int(i) for i in ids):
        sk = src.skeleton(cid)
        labels = np.full(len(sk.vertices), UNLABELLED, np.uint8)
        if sk.labels is not None:
            labels = np.vectorize(lut.get)(sk.labels).astype(np.uint8)
        mito_ids = tables.mitochondria.loc[tables.mitochondria["cellid"] == cid, "mito_id"].to_numpy(np.int64)
        batch, _ = src.meshes(cid, mito_ids)
        out.append(_Cell(cid, sk.vertices, sk.edges, np.asarray(sk.radius, np.float64), labels, batch))
    somata = tables.cells.loc[tables.cells["cell_id"].isin(ids)].reset_index(drop=True)
    return out, somata, raw_dir


def check_request(
    resolution_nm: str | tuple[float, float, float] | None, cells: str | int | tuple[int, ...] | None
) -> tuple[tuple[float, float, float], int | tuple[int, ...]]:
    """The voxel size and the cells of a request (``--resolution``, ``--volume-cells``; None = the
    defaults), checked before any file is touched.

    Returns
    -------
    ((x, y, z) nm, cells)
        ``cells`` is a number N (a demo of N cells, 1-40) or a tuple of ids of the 40-cell demo.

    Raises
    ------
    ValueError
        Naming the value and what to give instead.
    """
    return _resolution(DEFAULT_RESOLUTION_NM if resolution_nm is None else resolution_nm), _cells(
        DEFAULT_CELLS if cells is None else cells
    )


def _resolution(value: str | tuple[float, float, float]) -> tuple[float, float, float]:
    try:
        res = tuple(float(x) for x in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        res = ()
    if len(res) != 3 or not all(MIN_SIDE_NM <= x <= MAX_SIDE_NM for x in res):
        raise ValueError(
            f"--resolution {value!r}: give three voxel sides in nm, each from {MIN_SIDE_NM:g} to {MAX_SIDE_NM:g}, e.g. 16,16,40"
        )
    return (res[0], res[1], res[2])


def _cells(value: str | int | tuple[int, ...]) -> int | tuple[int, ...]:
    """A number of cells or a tuple of ids of the default demo (their ids do not depend on the seed)."""
    n_max = DemoParams().cells
    first, last = DEMO_SEGMENT_ID_BASE + 1, DEMO_SEGMENT_ID_BASE + n_max
    parts = value.split(",") if isinstance(value, str) else [value] if isinstance(value, int) else list(value)
    texts = [str(t).strip() for t in parts if not isinstance(t, bool)]
    nums = (
        [int(t) for t in texts] if parts and len(texts) == len(parts) and all(t.isascii() and t.isdigit() for t in texts) else []
    )
    if len(nums) == 1 and 1 <= nums[0] <= n_max:
        return nums[0]
    if not nums or not all(first <= i <= last for i in nums) or len(set(nums)) != len(nums):
        raise ValueError(
            f"--volume-cells {value!r}: give a number of cells from 1 to {n_max}, or ids of the {n_max}-cell demo "
            f"({first} to {last}) separated by commas, each once"
        )
    return tuple(nums)


def _new_layer(path: Path, res: np.ndarray, lo: np.ndarray, size: np.ndarray, extra: str):
    from cloudvolume import CloudVolume

    info = CloudVolume.create_new_info(
        num_channels=1, layer_type="segmentation", data_type="uint64", encoding="compressed_segmentation",
        resolution=res.tolist(), voxel_offset=lo.tolist(), volume_size=size.tolist(), chunk_size=list(CHUNK),
    )  # fmt: skip
    info[extra] = extra
    vol = CloudVolume(f"file://{path}", info=info, progress=False, fill_missing=True)
    vol.commit_info()
    return vol


def _write_block(vol, block: np.ndarray, lo: np.ndarray, vol_lo: np.ndarray, vol_hi: np.ndarray) -> None:
    """Write one block, cut at the volume's end (blocks are aligned to the storage chunks)."""
    hi = np.minimum(lo + np.asarray(block.shape), vol_hi)
    a = block[: hi[0] - lo[0], : hi[1] - lo[1], : hi[2] - lo[2]]
    vol[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = a


def _blocks_of(lo: np.ndarray, hi: np.ndarray, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(block index (P, 3), shape index (P,)) of every block each box ``[lo, hi)`` meets."""
    b = np.asarray(CHUNK)
    ok = (hi > lo).all(axis=1)
    s = np.flatnonzero(ok)
    b0 = (lo[s] - origin) // b
    b1 = (hi[s] - 1 - origin) // b + 1
    n = b1 - b0
    per = n.prod(axis=1)
    rep = np.repeat(np.arange(len(s)), per)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(per) - per, per)
    nn = n[rep]
    idx = b0[rep] + np.stack([k // (nn[:, 1] * nn[:, 2]), (k // nn[:, 2]) % nn[:, 1], k % nn[:, 2]], axis=1)
    return idx, s[rep]


def _write_cells(
    vol, cells: list[_Cell], res: np.ndarray, vol_lo: np.ndarray, vol_hi: np.ndarray, summary: VolumeSummary
) -> None:
    """Voxelise every cell block by block (the larger id takes a contested voxel)."""
    shapes = [vx.node_spheres_and_capsules(c.vertices, c.edges, c.radius) for c in cells]
    pairs = []
    for ci, (p0, p1, r0, r1) in enumerate(shapes):
        blk, s = _blocks_of(*vx.capsule_voxel_boxes(p0, p1, r0, r1, res), vol_lo)
        pairs.append(np.column_stack([blk, np.full(len(s), ci), s]))
    allp = np.concatenate(pairs)
    allp = allp[np.lexsort((allp[:, 4], allp[:, 3], allp[:, 2], allp[:, 1], allp[:, 0]))]
    starts = np.flatnonzero(np.r_[True, (np.diff(allp[:, :3], axis=0) != 0).any(axis=1)])
    log.info("cells: %d shapes in %d blocks of %s voxels", len(allp), len(starts), CHUNK)
    for g in np.split(allp, starts[1:]):
        lo = vol_lo + g[0, :3] * np.asarray(CHUNK)
        block = np.zeros(CHUNK, np.uint64)
        for ci in np.unique(g[:, 3]):
            s = g[g[:, 3] == ci, 4]
            p0, p1, r0, r1 = shapes[ci]
            mask = vx.capsules_mask(p0[s], p1[s], r0[s], r1[s], lo, CHUNK, res)
            summary.contested_cell_voxels += int(np.count_nonzero(mask & (block != 0)))
            block[mask] = cells[ci].cell_id
        summary.cell_voxels += int(np.count_nonzero(block))
        _write_block(vol, block, lo, vol_lo, vol_hi)


def _mito_voxels(batch: MeshBatch, res: np.ndarray, summary: VolumeSummary) -> tuple[np.ndarray, np.ndarray]:
    """Voxels (M, 3) and their label, one per voxel (the larger id wins); fills the error columns."""
    owner_f = batch.face_owner()
    vox, owner, odd = vx.mesh_voxels(batch.vertices, batch.global_faces(), owner_f, res)
    counts = np.bincount(owner, minlength=batch.n)
    volume = vx.mesh_volumes(batch.vertices, batch.global_faces(), owner_f, batch.n)
    bound = vx.volume_error_bound(batch.vertices, batch.global_faces(), owner_f, batch.n, res)
    err = counts * float(np.prod(res)) - volume
    summary.per_mito = pd.DataFrame(
        {"mito_id": batch.ids, "voxels": counts, "mesh_nm3": volume, "error_nm3": err, "bound_nm3": bound}
    )
    rel = np.abs(err) / volume
    summary.error_median, summary.error_max = float(np.median(rel)), float(np.max(rel))
    summary.within_bound = int(np.sum(np.abs(err) <= bound))
    summary.mitos_without_voxels, summary.odd_columns = int(np.sum(counts == 0)), odd
    key = np.ravel_multi_index((vox - vox.min(axis=0)).T, tuple(np.ptp(vox, axis=0) + 1)) if len(vox) else np.zeros(0, np.int64)
    order = np.lexsort((owner, key))  # ids ascending: the last of a voxel's run is the larger id
    key, vox, owner = key[order], vox[order], owner[order]
    last = np.r_[key[1:] != key[:-1], True]
    summary.contested_mito_voxels = int(np.count_nonzero(~np.r_[True, key[1:] != key[:-1]] & last))
    return vox[last], batch.ids[owner[last]]


def _write_mitochondria(
    vol, batch: MeshBatch, res: np.ndarray, vol_lo: np.ndarray, vol_hi: np.ndarray, summary: VolumeSummary
) -> None:
    from cloudvolume import Mesh

    vox, labels = _mito_voxels(batch, res, summary)
    summary.mito_voxels = len(vox)
    blk = (vox - vol_lo) // np.asarray(CHUNK)
    order = np.lexsort((blk[:, 2], blk[:, 1], blk[:, 0]))
    vox, labels, blk = vox[order], labels[order], blk[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(blk, axis=0) != 0).any(axis=1)])
    for a, b in zip(starts, np.r_[starts[1:], len(vox)]):
        lo = vol_lo + blk[a] * np.asarray(CHUNK)
        block = np.zeros(CHUNK, np.uint64)
        v = vox[a:b] - lo
        block[v[:, 0], v[:, 1], v[:, 2]] = labels[a:b].astype(np.uint64)
        _write_block(vol, block, lo, vol_lo, vol_hi)
    vol.mesh.put([Mesh(*batch.mesh(i), segid=int(batch.ids[i])) for i in range(batch.n)], compress=False)


def _write_skeletons(vol, cells: list[_Cell]) -> None:
    from cloudvolume import Skeleton

    vol.skeleton.meta.info["vertex_attributes"] = SKELETON_ATTRIBUTES
    vol.skeleton.meta.commit_info()
    for c in cells:
        sk = Skeleton(c.vertices, c.edges, segid=c.cell_id, space="physical", extra_attributes=SKELETON_ATTRIBUTES)
        sk.radius = c.radius.astype(np.float32)
        sk.compartment = c.labels
        vol.skeleton.upload(sk)


def _grid(cells: list[_Cell], batch: MeshBatch, res: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voxel box ``[lo, hi)`` holding every cell's capsules and every mesh."""
    los, his = [], []
    for c in cells:
        lo, hi = vx.capsule_voxel_boxes(*vx.node_spheres_and_capsules(c.vertices, c.edges, c.radius), res)
        los.append(lo.min(axis=0))
        his.append(hi.max(axis=0))
    if batch.n:
        mlo, mhi = batch.bounds()
        los.append(np.floor(np.nanmin(mlo, axis=0) / res).astype(np.int64))
        his.append(np.ceil(np.nanmax(mhi, axis=0) / res).astype(np.int64) + 1)
    return np.min(los, axis=0), np.max(his, axis=0)


def _write_tables(out: Path, raw_dir: Path, somata: pd.DataFrame, ids: list[int]) -> int:
    """somata.parquet (nm) and synapses.parquet (the release's rows of these cells, its columns)."""
    from builder.sources.published import SYNAPSE_TABLE

    somata[["cell_id", "x", "y", "z", "cell_type", "cell_subtype"]].to_parquet(out / "somata.parquet", index=False)
    id_cols = ["id", "pre_root_id", "post_root_id"]
    syn = pd.read_csv(raw_dir / SYNAPSE_TABLE, dtype=dict.fromkeys(id_cols, "int64"))  # ints parsed as int64, never float
    syn = syn.loc[syn["pre_root_id"].isin(ids) | syn["post_root_id"].isin(ids)].reset_index(drop=True)
    syn.to_parquet(out / "synapses.parquet", index=False)
    return len(syn)


def _fmt(res) -> str:
    return "[" + ", ".join(f"{x:g}" for x in res) + "]"


def volume_toml(res: np.ndarray, ids: list[int]) -> str:
    """The VOLUME.toml of a demo written by :func:`write_demo_as_volume` (docs/volume.md)."""
    cells = "[\n" + "".join(f"    {i},\n" for i in ids) + "]"
    return f"""# The demo written as a lab's volume (python -m builder demo --as-volume); docs/volume.md.
format = 1

[cells]
segmentation = "cells"               # a cloud-volume path, or a folder relative to this file
resolution_nm = {_fmt(res)}
build = {cells}                      # or "all"

[cells.somata]
table = "somata.parquet"
position_unit = "nm"

[cells.somata.columns]               # the project's name = the table's column
cell_id = "cell_id"
x = "x"
y = "y"
z = "z"
cell_type = "cell_type"
cell_subtype = "cell_subtype"

[mitochondria]
segmentation = "mitochondria"
resolution_nm = {_fmt(res)}
meshes = "mitochondria"              # the layer whose info names its mesh directory

[skeletons]
precomputed = "cells"                # the layer whose info names its skeleton directory
labels = "attribute"
attribute = "compartment"            # values are the project's codes 0-5

[synapses]
table = "synapses.parquet"
position_unit = "voxels"
position_resolution_nm = {_fmt(EM_VOXEL_NM)}

[synapses.columns]
synapse_id = "id"
pre_root_id = "pre_root_id"
post_root_id = "post_root_id"
x = "ctr_pos_x_vx"
y = "ctr_pos_y_vx"
z = "ctr_pos_z_vx"
size = "cleft_vx"
"""


def refuse_foreign_output(out: Path) -> None:
    """Raise unless ``out`` is new, empty (hidden files aside) or was written by this command (its
    marker :data:`MARKER` is there): the command deletes and rewrites ``cells/`` and
    ``mitochondria/``, so it must never touch a real volume, even one with a VOLUME.toml."""
    if not out.is_dir() or (out / MARKER).is_file():
        return
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    if names:
        raise InputFileError(
            out, f"holds files this command did not write ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}) "
            f"and no marker {MARKER}; demo --as-volume deletes and rewrites cells/ and mitochondria/, so it never "
            "writes into such a folder", "Give a new or empty folder to --as-volume",
        )  # fmt: skip


def _prepare(out: Path) -> None:
    """Check ``out`` again under the lock and mark it as this command's (before anything is written)."""
    refuse_foreign_output(out)
    (out / MARKER).write_text(json.dumps({"written_by": "python -m builder demo --as-volume"}) + "\n")


def _check_grid(shape: np.ndarray, res: np.ndarray) -> None:
    """Refuse a grid of more than :data:`MAX_GRID_VOXELS` voxels (the earlier run's layers are kept)."""
    n = int(np.prod(shape.astype(object)))
    if n > MAX_GRID_VOXELS:
        raise BuilderError(
            f"the grid would be {shape.tolist()} = {n:.3g} voxels of {_fmt(res)} nm, more than {MAX_GRID_VOXELS:.0e}; "
            "give a coarser --resolution or fewer --volume-cells"
        )


def write_demo_as_volume(
    out: Path,
    resolution_nm: tuple[float, float, float] = (16.0, 16.0, 40.0),
    cells: int | tuple[int, ...] = DEFAULT_CELLS,
    seed: int = 1,
    raw_dir: Path | None = None,
) -> VolumeSummary:
    """Write the demo as precomputed layers, tables and a VOLUME.toml (module docstring).

    Parameters
    ----------
    out : Path
        The folder to write (new, empty, or written by this function before).
    resolution_nm : (float, float, float)
        Voxel size of both segmentations, nm.
    cells : int or tuple of int
        A number N (a demo of N cells, all written) or cell ids of the default 40-cell demo.
    seed : int
        The demo's seed.
    raw_dir : Path, optional
        Where the demo's published layout is generated (default ``out/demo-raw``).

    Returns
    -------
    VolumeSummary
        Counts, timings and the voxelisation error of mitochondrial volume.
    """
    out = Path(out)
    resolution_nm, cells = check_request(resolution_nm, cells)
    res = np.asarray(resolution_nm, np.float64)
    refuse_foreign_output(out)  # before the lock: not even a lock file in someone's volume
    with folder_lock(out, f"python -m builder demo --as-volume {out}"):
        _prepare(out)
        loaded, somata, raw = _load_demo(Path(raw_dir or out / "demo-raw"), seed, cells)
        ids = [c.cell_id for c in loaded]
        batch = _concat([c.meshes for c in loaded])
        summary = VolumeSummary(out, ids, (float(res[0]), float(res[1]), float(res[2])), n_mito=batch.n)
        lo, hi = _grid(loaded, batch, res)
        _check_grid(hi - lo, res)
        log.info("grid %s voxels of %s nm from voxel %s", (hi - lo).tolist(), res.tolist(), lo.tolist())
        for name in ("cells", "mitochondria"):  # missing chunks read as 0: stale chunks must not survive
            shutil.rmtree(out / name, ignore_errors=True)
        t0 = time.perf_counter()
        cell_vol = _new_layer(out / "cells", res, lo, hi - lo, "skeletons")
        _write_cells(cell_vol, loaded, res, lo, hi, summary)
        _write_skeletons(cell_vol, loaded)
        t1 = time.perf_counter()
        _write_mitochondria(_new_layer(out / "mitochondria", res, lo, hi - lo, "mesh"), batch, res, lo, hi, summary)
        t2 = time.perf_counter()
        summary.seconds_cells, summary.seconds_mito = t1 - t0, t2 - t1
        n_syn = _write_tables(out, raw, somata, ids)
        (out / "VOLUME.toml").write_text(volume_toml(res, ids))
    log.info("%d cells, %d mitochondria, %d synapse rows written to %s", len(ids), batch.n, n_syn, out)
    return summary


def _concat(batches: list[MeshBatch]) -> MeshBatch:
    """One batch of all meshes, sorted by id (the larger id wins a contested voxel)."""
    meshes = [(int(b.ids[i]), b.mesh(i)) for b in batches for i in range(b.n)]
    meshes.sort(key=lambda m: m[0])
    return MeshBatch.from_meshes([m[0] for m in meshes], [m[1] for m in meshes])


def summary_text(s: VolumeSummary) -> str:
    """What the CLI prints at the end."""
    n = len(s.cell_ids)
    return (
        f"{s.out}: {n} cells, {s.n_mito} mitochondria at {_fmt(s.resolution_nm)} nm; VOLUME.toml written\n"
        f"  cells: {s.cell_voxels} voxels in {s.seconds_cells:.1f} s ({s.seconds_cells / max(n, 1):.1f} s per cell), "
        f"{s.contested_cell_voxels} voxels claimed by two cells (the larger id kept)\n"
        f"  mitochondria: {s.mito_voxels} voxels in {s.seconds_mito:.1f} s, {s.contested_mito_voxels} contested voxels "
        f"(the larger id kept), {s.mitos_without_voxels} without any voxel, {s.odd_columns} odd ray columns\n"
        f"  voxelisation error of mitochondrial volume (|voxels x voxel volume - mesh volume| / mesh volume): "
        f"median {100 * s.error_median:.2f} %, max {100 * s.error_max:.2f} %; "
        f"{s.within_bound} of {s.n_mito} within the first-order bound"
    )
