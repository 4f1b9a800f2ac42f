"""The demo as a lab's volume: precomputed segmentations, meshes and skeletons, tables, VOLUME.toml.

``python -m builder demo --as-volume DIR`` writes (docs/volume.md)::

    DIR/cells/           uint64 cell segmentation (ids = the demo's int64 root ids) + skeletons/
                         (precomputed, vertex attributes radius and compartment, our codes 0-5)
    DIR/skeletons_swc/   with --skeletons swc (h5): the same skeletons as SWC files (skeletons_h5/:
                         MeshParty h5 files); :mod:`builder.sources.demo.as_volume_skeletons`
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
the voxel; the contested voxels are counted. :func:`summary_text` reports the counts, the sizes
and the voxelisation error of mitochondrial volume against the first-order bound of
:func:`builder.compute.voxelise.volume_error_bound`; docs/volume.md gives measured values.
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
from builder.errors import InputFileError
from builder.schema import label_mapping
from builder.sources.demo.as_volume_request import check_grid, check_request
from builder.sources.demo.as_volume_skeletons import SKELETON_FOLDERS, check_forms, write_skeletons
from builder.sources.demo.as_volume_toml import fmt_triple, volume_toml
from builder.store.lock import folder_lock, refuse_unmarked_folder

log = logging.getLogger(__name__)
#: Storage chunk of both segmentations (voxels); also the block voxelised at a time.
CHUNK = (128, 128, 64)
#: Written first into the output folder: only a folder holding it is ever cleared and rewritten.
MARKER = "demo_as_volume.json"
UNLABELLED = 5  # astrocytes' nodes carry no label in the demo: written as Unknown


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
    written_mito_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # >= 1 voxel kept
    odd_columns: int = 0
    seconds_cells: float = 0.0
    seconds_mito: float = 0.0
    error_median: float = float("nan")
    error_p95: float = float("nan")
    error_max: float = float("nan")
    bound_median: float = float("nan")  # the first-order bound relative to the mesh volume, median
    meshless: tuple[int, ...] = ()  # mitochondria of the chosen cells without a mesh (not written)
    bytes_cells: int = 0  # on disk, skeletons included
    bytes_mito: int = 0  # on disk, meshes included
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
    meshless: tuple[int, ...]  # the cell's mitochondria (table rows) without a mesh: not written
    root: int = 0  # the soma node


def _codes_of(labels: np.ndarray, keys: np.ndarray, codes: np.ndarray, cell_id: int) -> np.ndarray:
    """The source's labels -> our codes (``keys`` sorted, ``codes`` aligned); unknown values -> Unknown."""
    i = np.minimum(np.searchsorted(keys, labels), len(keys) - 1)
    known = keys[i] == labels if len(keys) else np.zeros(len(labels), bool)
    if not known.all():
        log.warning("cell %d: %d nodes carry a label not in the vocabulary; written as Unknown", cell_id, int((~known).sum()))
    return np.where(known, codes[i] if len(keys) else UNLABELLED, UNLABELLED).astype(np.uint8)


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
    keys = np.array(sorted(lut), np.int64)
    codes = np.array([lut[k] for k in keys], np.uint8)
    out = []
    for cid in sorted(int(i) for i in ids):
        sk = src.skeleton(cid)
        labels = np.full(len(sk.vertices), UNLABELLED, np.uint8)
        if sk.labels is not None:
            labels = _codes_of(np.asarray(sk.labels, np.int64), keys, codes, cid)
        mito_ids = tables.mitochondria.loc[tables.mitochondria["cellid"] == cid, "mito_id"].to_numpy(np.int64)
        batch, meshless = src.meshes(cid, mito_ids)
        cell = _Cell(cid, sk.vertices, sk.edges, np.asarray(sk.radius, np.float64), labels, batch, tuple(sorted(meshless)),
                     root=sk.root)  # fmt: skip
        out.append(cell)
    somata = tables.cells.loc[tables.cells["cell_id"].isin(ids)].reset_index(drop=True)
    return out, somata, raw_dir


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
    if batch.n == 0:  # no meshed mitochondria among the chosen cells: nothing to voxelise
        summary.per_mito = pd.DataFrame(columns=["mito_id", "voxels", "mesh_nm3", "error_nm3", "bound_nm3"])
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
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
    summary.error_median, summary.error_p95, summary.error_max = (float(x) for x in np.percentile(rel, [50, 95, 100]))
    summary.bound_median = float(np.median(bound / volume))
    summary.within_bound = int(np.sum(np.abs(err) <= bound))
    summary.mitos_without_voxels, summary.odd_columns = int(np.sum(counts == 0)), odd
    key = np.ravel_multi_index((vox - vox.min(axis=0)).T, tuple(np.ptp(vox, axis=0) + 1)) if len(vox) else np.zeros(0, np.int64)
    order = np.lexsort((owner, key))  # ids ascending: the last of a voxel's run is the larger id
    key, vox, owner = key[order], vox[order], owner[order]
    last = np.r_[key[1:] != key[:-1], True]
    summary.contested_mito_voxels = int(np.count_nonzero(~np.r_[True, key[1:] != key[:-1]] & last))
    summary.written_mito_ids = np.unique(batch.ids[owner[last]])
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
    starts = np.flatnonzero(np.r_[True, (np.diff(blk, axis=0) != 0).any(axis=1)]) if len(vox) else np.zeros(0, np.int64)
    for a, b in zip(starts, np.r_[starts[1:], len(vox)]):
        lo = vol_lo + blk[a] * np.asarray(CHUNK)
        block = np.zeros(CHUNK, np.uint64)
        v = vox[a:b] - lo
        block[v[:, 0], v[:, 1], v[:, 2]] = labels[a:b].astype(np.uint64)
        _write_block(vol, block, lo, vol_lo, vol_hi)
    if batch.n:
        vol.mesh.put([Mesh(*batch.mesh(i), segid=int(batch.ids[i])) for i in range(batch.n)], compress=False)


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


def refuse_foreign_output(out: Path) -> None:
    """Raise unless ``out`` is new, empty (hidden files aside) or was written by this command (its
    marker :data:`MARKER` is there): the command deletes and rewrites ``cells/`` and
    ``mitochondria/``, so it must never touch a real volume, even one with a VOLUME.toml."""
    refuse_unmarked_folder(out, MARKER, "demo --as-volume (it deletes and rewrites cells/ and mitochondria/)",
                           "Give a new or empty folder to --as-volume")  # fmt: skip


def _prepare(out: Path) -> None:
    """Check ``out`` again under the lock and mark it as this command's (before anything is written)."""
    refuse_foreign_output(out)
    (out / MARKER).write_text(json.dumps({"written_by": "python -m builder demo --as-volume"}) + "\n")


def write_demo_as_volume(
    out: Path,
    resolution_nm: tuple[float, float, float] | None = None,
    cells: int | tuple[int, ...] | None = None,
    seed: int = 1,
    raw_dir: Path | None = None,
    skeletons: str | tuple[str, ...] = "precomputed",
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
    skeletons : str or tuple of str
        ``precomputed`` (always written, in ``cells/``), ``swc`` or ``h5``: the forms written, the
        first of them read by VOLUME.toml.

    Returns
    -------
    VolumeSummary
        Counts, timings and the voxelisation error of mitochondrial volume.
    """
    out = Path(out)
    resolution_nm, cells = check_request(resolution_nm, cells)
    res = np.asarray(resolution_nm, np.float64)
    forms = check_forms(skeletons)
    refuse_foreign_output(out)  # before the lock: not even a lock file in someone's volume
    with folder_lock(out, f"python -m builder demo --as-volume {out}"):
        _prepare(out)
        return _write_locked(out, res, cells, seed, Path(raw_dir or out / "demo-raw"), forms)


def _write_locked(out: Path, res: np.ndarray, cells: int | tuple[int, ...], seed: int, raw_dir: Path,
                  forms: tuple[str, ...]) -> VolumeSummary:  # fmt: skip
    loaded, somata, raw = _load_demo(raw_dir, seed, cells)
    ids = [c.cell_id for c in loaded]
    batch = _concat([c.meshes for c in loaded])
    summary = VolumeSummary(out, ids, (float(res[0]), float(res[1]), float(res[2])), n_mito=batch.n)
    summary.meshless = tuple(sorted(m for c in loaded for m in c.meshless))
    if summary.meshless:
        log.warning(
            "%d mitochondria of these cells have no mesh and are not written (the demo plants them): ids %s%s",
            len(summary.meshless), ", ".join(str(m) for m in summary.meshless[:5]), ", ..." if len(summary.meshless) > 5 else "",
        )  # fmt: skip
    lo, hi = _grid(loaded, batch, res)
    check_grid((hi - lo).tolist(), res.tolist())
    log.info("grid %s voxels of %s nm from voxel %s", (hi - lo).tolist(), res.tolist(), lo.tolist())
    for name in ("cells", "mitochondria", *SKELETON_FOLDERS.values()):  # missing chunks read as 0: no stale chunk
        shutil.rmtree(out / name, ignore_errors=True)
    t0 = time.perf_counter()
    cell_vol = _new_layer(out / "cells", res, lo, hi - lo, "skeletons")
    _write_cells(cell_vol, loaded, res, lo, hi, summary)
    write_skeletons(cell_vol, out, forms, loaded)
    t1 = time.perf_counter()
    _write_mitochondria(_new_layer(out / "mitochondria", res, lo, hi - lo, "mesh"), batch, res, lo, hi, summary)
    summary.seconds_cells, summary.seconds_mito = t1 - t0, time.perf_counter() - t1
    summary.bytes_cells, summary.bytes_mito = (
        sum(f.stat().st_size for f in (out / d).rglob("*") if f.is_file()) for d in ("cells", "mitochondria")
    )
    n_syn = _write_tables(out, raw, somata, ids)
    (out / "VOLUME.toml").write_text(volume_toml(res, ids, forms[0]))
    log.info("%d cells, %d mitochondria, %d synapse rows written to %s", len(ids), batch.n, n_syn, out)
    return summary


def _concat(batches: list[MeshBatch]) -> MeshBatch:
    """One batch of all meshes, sorted by id (the larger id wins a contested voxel)."""
    meshes = [(int(b.ids[i]), b.mesh(i)) for b in batches for i in range(b.n)]
    meshes.sort(key=lambda m: m[0])
    return MeshBatch.from_meshes([m[0] for m in meshes], [m[1] for m in meshes])


def summary_text(s: VolumeSummary) -> str:
    """What the CLI prints at the end."""
    n, mb = len(s.cell_ids), 1e6
    share = f" ({100 * s.contested_mito_voxels / s.mito_voxels:.1f} %)" if s.mito_voxels else ""
    error = (
        f"median {100 * s.error_median:.2f} %, 95th percentile {100 * s.error_p95:.2f} %, max {100 * s.error_max:.2f} %; "
        f"{s.within_bound} of {s.n_mito} within the first-order bound (its median: {100 * s.bound_median:.0f} % of the volume)"
        if s.n_mito
        else "none (no meshed mitochondria)"
    )
    return (
        f"{s.out}: {n} cells, {s.n_mito} mitochondria ({len(s.meshless)} more without a mesh, not written) at "
        f"{fmt_triple(s.resolution_nm)} nm; VOLUME.toml written\n"
        f"  cells: {s.cell_voxels} voxels in {s.seconds_cells:.1f} s ({s.seconds_cells / max(n, 1):.1f} s per cell), "
        f"{s.contested_cell_voxels} voxels claimed by two cells (the larger id kept), {s.bytes_cells / mb:.1f} MB on disk\n"
        f"  mitochondria: {s.mito_voxels} voxels in {s.seconds_mito:.1f} s, {s.contested_mito_voxels}{share} contested "
        f"voxels (the larger id kept), {s.mitos_without_voxels} without any voxel, {s.odd_columns} odd ray columns, "
        f"{s.bytes_mito / mb:.1f} MB on disk\n"
        f"  voxelisation error of mitochondrial volume (|voxels x voxel volume - mesh volume| / mesh volume): {error}"
    )
