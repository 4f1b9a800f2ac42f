"""A lab's precomputed volume, described by a VOLUME.toml, as a source (docs/volume.md).

``python -m builder build --source volume --volume VOLUME.toml`` builds the dataset from:

* the cells: the soma table (positions in nm by the table's unit), restricted to ``cells.build``;
* the mitochondria: an existing table, or a scan of the mitochondria and cell segmentations
  (:func:`builder.sources.volume_scan.scan_volumes`, only the storage chunks the mitochondria
  layer holds) turned into the release's tables (:func:`builder.compute.volume_stats.release_tables`):
  a mitochondrion belongs to the cell it overlaps most;
* the skeletons: a precomputed skeleton layer (vertices nm, ``radius`` attribute, labels from a
  vertex attribute mapped to the project's codes, or inferred), or a folder of SWC or MeshParty
  h5 files (:mod:`builder.sources.volume_skeletons`); the root is the vertex nearest the soma point;
* the meshes: a precomputed mesh layer (legacy format, vertices nm), or made from the
  mitochondria segmentation by zmesh (:mod:`builder.sources.volume_mesh`);
* the synapses: a table and its column mapping.

The scan's per-chunk results are kept in a folder next to the TOML, ``<stem>.scan/<hash>``
(the hash is that of both segmentations' info and files), so an interrupted scan resumes and a
changed segmentation is scanned afresh. The source holds the TOML's path only (picklable); each
process loads the configuration once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder.compute.meshes import MeshBatch
from builder.compute.volume_stats import ChunkStats, release_tables, release_units
from builder.errors import CellInputError, VolumeConfigError
from builder.schema import BBOX_COLUMNS, COMPARTMENT_NAMES, EM_VOXEL_NM, vx_to_nm
from builder.sources.base import SkeletonInput, SourceIssue, SourceTables
from builder.sources.release_tables import attach_overlaps
from builder.sources.volume_config import VolumeConfig, load_volume_config
from builder.sources.volume_read import read_somata, read_volume_mito_table, read_volume_synapses
from builder.sources.volume_skeletons import folder_stamp, map_codes, nearest_vertex, read_folder_skeleton

log = logging.getLogger(__name__)
Box = tuple[tuple[int, int, int], tuple[int, int, int]]
_CHUNK_NAME = re.compile(r"(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)(?:\.\w+)?$")
_XYZ = ["x", "y", "z"]


@lru_cache(maxsize=4)
def _config(path: str, stamp: float) -> VolumeConfig:
    """The loaded VOLUME.toml (once per process and version of the file)."""
    return load_volume_config(path)


def _local(layer: str) -> Path | None:
    """The folder of a ``file://`` layer, None for a remote one."""
    return Path(layer.removeprefix("file://")) if layer.startswith("file://") else None


def layer_stamp(layer: str) -> str:
    """What identifies a layer's contents: a local layer's info bytes and every file's name, size
    and modification time; a remote layer's path (its contents are not listed)."""
    folder = _local(layer)
    if folder is None:
        return layer
    h = hashlib.sha256((folder / "info").read_bytes())
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            h.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _open(layer: str, **kw: Any) -> Any:
    """The layer's ``cloudvolume.CloudVolume`` (imported lazily)."""
    from cloudvolume import CloudVolume

    return CloudVolume(layer, progress=False, use_https=True, **kw)


def present_chunks(layer: str) -> list[Box] | None:
    """The storage chunks a segmentation layer holds at mip 0 (a missing chunk reads as 0), or
    None when the layer cannot be listed (then the whole box is scanned)."""
    from cloudfiles import CloudFiles

    vol = _open(layer)
    key = vol.meta.key(0)
    try:
        names = list(CloudFiles(layer.removeprefix("precomputed://")).list(prefix=f"{key}/"))
    except Exception as exc:  # an HTTPS server without listing, permissions
        log.warning("cannot list the chunks of %s (%s): scanning its whole box", layer, exc)
        return None
    boxes = []
    for name in names:
        m = _CHUNK_NAME.search(name)
        if m:
            v = [int(g) for g in m.groups()]
            boxes.append(((v[0], v[2], v[4]), (v[1], v[3], v[5])))
    return boxes


@dataclass(frozen=True)
class ScanPlan:
    """What the scan of a volume reads: the two segmentations, their common box and chunk shape
    (voxels), the storage chunks the mitochondria layer holds (None: the whole box), the voxel size (nm)."""

    mitochondria: str
    cells: str
    bbox: Box
    chunk: list[int]
    boxes: list[Box] | None
    resolution_nm: tuple[float, float, float]


def scan_plan(cfg: VolumeConfig, volume: Path) -> ScanPlan:
    """The scan ``build --source volume`` makes of the volume that ``cfg`` (loaded from ``volume``)
    describes; :class:`VolumeConfigError` when the segmentations are not on one grid."""
    seg, res = cfg.mitochondria.segmentation, cfg.mitochondria.resolution_nm
    assert seg is not None and res is not None
    if not np.allclose(res, cfg.cells.resolution_nm):
        raise VolumeConfigError(volume, "mitochondria.resolution_nm", f"{list(res)} differs from cells.resolution_nm "
                                f"{list(cfg.cells.resolution_nm)}: the scan needs both segmentations on one grid",
                                "Give both layers at one voxel size (a downsampled copy of the finer one)")  # fmt: skip
    mito_vol, cell_vol = _open(seg), _open(cfg.cells.segmentation)
    lo = np.maximum(mito_vol.bounds.minpt, cell_vol.bounds.minpt)
    hi = np.minimum(mito_vol.bounds.maxpt, cell_vol.bounds.maxpt)
    bbox: Box = ((int(lo[0]), int(lo[1]), int(lo[2])), (int(hi[0]), int(hi[1]), int(hi[2])))
    res3 = (float(res[0]), float(res[1]), float(res[2]))
    return ScanPlan(seg, cfg.cells.segmentation, bbox, [int(v) for v in mito_vol.chunk_size], present_chunks(seg), res3)


@dataclass(frozen=True)
class VolumeSource:
    """The volume described by the VOLUME.toml at ``volume`` (module docstring).

    Attributes
    ----------
    volume : Path
        The VOLUME.toml (absolute).
    scan_workers : int
        Processes scanning the segmentations (does not change the result).
    scan_scheduler : str, optional
        The scan on Dask: ``"local"`` (a LocalCluster of ``scan_workers`` processes) or a scheduler
        address ``tcp://HOST:PORT``, as the build's ``--scheduler``; None: local processes.
    scan_root : Path, optional
        Where scans keep their chunks (``--scan-dir``); None: ``<TOML stem>.scan`` next to the TOML.
    """

    volume: Path
    scan_workers: int = 1
    scan_scheduler: str | None = None
    scan_root: Path | None = None
    name: str = "volume"
    synthetic: bool = False

    @property
    def label_names(self) -> Mapping[int, str]:
        """The project's own compartment codes: :meth:`skeleton` maps the source's labels to them."""
        return COMPARTMENT_NAMES

    @property
    def config(self) -> VolumeConfig:
        """The loaded configuration (checked; :class:`VolumeConfigError` when unusable)."""
        return _config(str(self.volume), self.volume.stat().st_mtime)

    @property
    def mesh_source(self) -> str:
        """The mitochondria mesh layer, or ``zmesh:<segmentation>`` when the meshes are made from the
        segmentation ('' when there is neither), recorded in the manifest."""
        from builder.sources.volume_mesh import mesher_name

        mito = self.config.mitochondria
        return mito.meshes or (mesher_name(mito.segmentation) if mito.segmentation else "")

    @property
    def dataset_title(self) -> str:
        """What the manifest calls the dataset: this volume's, in the L2/3 dataset's format."""
        return f"mitochondria dataset of the volume described by {self.volume} (the L2/3 dataset's format and analysis)"

    @property
    def manifest_space(self) -> dict:
        """The manifest's space: positions in nm, converted from the voxel sizes the TOML states;
        ``mito_vx`` in the release's 3.58 x 3.58 x 40 nm voxels, as the published table's."""
        cfg = self.config
        return {
            "output_space": f"nm, converted from the voxels of the volume described by {self.volume.name}",
            "cells_voxel_nm": list(cfg.cells.resolution_nm),
            "mitochondria_voxel_nm": None if cfg.mitochondria.resolution_nm is None else list(cfg.mitochondria.resolution_nm),
            "mito_vx_voxel_nm": list(EM_VOXEL_NM),
        }

    def fingerprint(self) -> str:
        """Changes with the TOML's text, any layer's info or files (local layers) and any table's
        size or modification time."""
        cfg = self.config
        h = hashlib.sha256(self.volume.read_bytes())
        layers = (cfg.cells.segmentation, cfg.mitochondria.segmentation, cfg.mitochondria.meshes, cfg.skeletons.precomputed)
        for layer in sorted({x for x in layers if x}):
            h.update(f"{layer}={layer_stamp(layer)};".encode())
        tables = [cfg.cells.somata, cfg.synapses, cfg.mitochondria.table]
        for p in [t.path for t in tables if t is not None]:
            st = p.stat()
            h.update(f"{p}:{st.st_size}:{st.st_mtime_ns};".encode())
        if cfg.skeletons.folder is not None:
            h.update(f"{cfg.skeletons.folder}={folder_stamp(cfg.skeletons.folder)};".encode())
        return h.hexdigest()[:16]

    def scan_dir(self) -> Path:
        """Where the scan keeps its chunks: ``<scan root>/<hash of both segmentations>``; the root
        is ``scan_root`` or ``<stem>.scan`` next to the TOML."""
        cfg = self.config
        seg = cfg.mitochondria.segmentation or ""
        key = hashlib.sha256(f"{seg}={layer_stamp(seg)}|{cfg.cells.segmentation}={layer_stamp(cfg.cells.segmentation)}".encode())
        root = self.scan_root if self.scan_root is not None else self.volume.parent / f"{self.volume.stem}.scan"
        return root / key.hexdigest()[:16]

    def check_scan_dir(self) -> None:
        """Refuse, before any work, a scan folder that cannot be made or written (when the
        mitochondria come from a segmentation): :class:`VolumeConfigError` naming ``--scan-dir``."""
        if self.config.mitochondria.segmentation is None:
            return
        where = self.scan_dir()
        existing = next(p for p in (where, *where.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise VolumeConfigError(
                self.volume, "mitochondria.segmentation", f"the scan's folder {where} cannot be written ({existing} is not a "
                "writable folder)", "Give the build --scan-dir DIR, a folder you can write (docs/volume.md)",
            )  # fmt: skip

    def tables(self) -> SourceTables:
        """Cells, mitochondria (table or scan) and synapses, in nm; bad rows set aside as issues."""
        cfg = self.config
        issues: list[SourceIssue] = []
        cells, note = read_somata(cfg.cells.somata, cfg.cells.build, issues)
        checks = {"cell_types": note}
        if cfg.mitochondria.table is not None:
            mitos = read_volume_mito_table(cfg.mitochondria.table, issues)
            checks["mitochondria"] = f"read from {cfg.mitochondria.table.path.name}"
        else:
            mitos, checks["mitochondria"] = self._scanned_mitochondria()
        mitos = mitos.loc[mitos["cellid"].isin(cells["cell_id"])].reset_index(drop=True)
        syn = read_volume_synapses(cfg.synapses, issues)
        return SourceTables(cells=cells, mitochondria=mitos, synapses=syn, issues=issues, checks=checks)

    def _scanned_mitochondria(self) -> tuple[pd.DataFrame, str]:
        """The mitochondria of the scan of both segmentations, and what was done."""
        from builder.sources.volume_scan import scan_volumes

        plan = scan_plan(self.config, self.volume)
        work = self.scan_dir()
        log.info("scanning %s against %s (%s chunks) in %s", plan.mitochondria, plan.cells,
                 "all" if plan.boxes is None else len(plan.boxes), work)  # fmt: skip
        stats = scan_volumes(plan.mitochondria, plan.cells, plan.bbox, plan.chunk, work, workers=self.scan_workers,
                             scheduler=self.scan_scheduler, boxes=plan.boxes)  # fmt: skip
        if self.config.mitochondria.meshes is None:  # where meshes() cuts the segmentation
            from builder.sources.volume_mesh import write_index

            write_index(work, stats)
        return scan_frame(stats, plan.resolution_nm, plan.mitochondria), f"scanned {stats.n} mitochondria in {work}"

    def _soma(self, cell_id: int) -> np.ndarray:
        """The soma point (nm) of a cell, from the soma table (read once per process)."""
        somata = _soma_points(str(self.volume), self.volume.stat().st_mtime)
        hit = somata.get(int(cell_id))
        if hit is None:
            raise CellInputError(cell_id, "no soma point", self.config.cells.somata.path)
        return hit

    def skeleton(self, cell_id: int) -> SkeletonInput:
        """The cell's skeleton (nm), its radius and labels in the project's codes, from the precomputed
        layer or the SWC or MeshParty h5 folder (:mod:`builder.sources.volume_skeletons`)."""
        sk_cfg = self.config.skeletons
        if sk_cfg.precomputed is None:
            return read_folder_skeleton(sk_cfg, int(cell_id), self._soma(cell_id))
        try:
            sk = _open(sk_cfg.precomputed).skeleton.get(int(cell_id))
        except Exception as exc:  # cloudvolume raises several types for a missing or damaged file
            raise CellInputError(cell_id, f"no readable skeleton ({type(exc).__name__}: {exc})", sk_cfg.precomputed) from exc
        vertices = np.asarray(sk.vertices, np.float64)
        if len(vertices) == 0:
            raise CellInputError(cell_id, "empty skeleton", sk_cfg.precomputed)
        radius = getattr(sk, "radius", None)
        labels = None
        if sk_cfg.labels == "attribute":
            raw = getattr(sk, sk_cfg.attribute or "", None)
            if raw is None:
                raise CellInputError(cell_id, f"skeleton has no vertex attribute {sk_cfg.attribute!r}", sk_cfg.precomputed)
            labels = map_codes(np.asarray(raw).reshape(-1), sk_cfg.codes, cell_id)
        root = nearest_vertex(vertices, self._soma(cell_id))
        return SkeletonInput(
            vertices=vertices,
            edges=np.asarray(sk.edges, np.int64).reshape(-1, 2),
            root=root,
            radius=None if radius is None else np.asarray(radius, np.float64).reshape(-1),
            labels=labels,
            path=f"{sk_cfg.precomputed}/{cell_id}",
        )

    def meshes(self, cell_id: int, mito_ids: np.ndarray) -> tuple[MeshBatch, dict[int, str]]:
        """Meshes of ``mito_ids`` (nm) from the mesh layer, or made from the segmentation by zmesh
        when there is none (:mod:`builder.sources.volume_mesh`), and why the others have none."""
        mito = self.config.mitochondria
        if mito.meshes is not None:
            return fetch_meshes(mito.meshes, np.asarray(mito_ids, np.int64))
        from builder.sources.volume_mesh import mesh_segmentation

        assert mito.segmentation is not None and mito.resolution_nm is not None  # a table needs meshes (the config)

        return mesh_segmentation(mito.segmentation, mito.resolution_nm, self.scan_dir(), np.asarray(mito_ids, np.int64))


@lru_cache(maxsize=2)
def _soma_points(volume: str, stamp: float) -> dict[int, np.ndarray]:
    """Cell id -> soma point (3,) nm, from the soma table of the VOLUME.toml ``volume``."""
    from builder.sources.volume_read import read_volume_table

    df = read_volume_table(_config(volume, stamp).cells.somata, "cell", "cell_id", [])
    xyz = df[_XYZ].to_numpy(np.float64)
    return {int(c): xyz[i] for i, c in enumerate(df["cell_id"].to_numpy(np.int64))}


def scan_frame(stats: ChunkStats, res: Sequence[float], layer: str) -> pd.DataFrame:
    """The scan's statistics -> ``mito_id, cellid, mito_vx, x, y, z`` (centre, nm), the bounding box
    (nm) and ``overlap_vx`` (the voxels inside its own cell, ``mito_vx`` units).

    Units through :func:`release_tables` only (release voxels of 3.58 x 3.58 x 40 nm, then nm).
    A mitochondrion overlapping no cell, or rounding to 0 release voxels, is left out (it is no
    selected cell's).
    """
    rel, _ = release_tables(stats, res)
    _, volume, _ = release_units(res)
    out = pd.DataFrame({"mito_id": rel["mito_id"], "cellid": rel["cellid"], "mito_vx": rel["mito_vx"]})
    out[_XYZ] = vx_to_nm(rel[[f"ctr_pos_{a}_vx" for a in _XYZ]].to_numpy(np.float64))
    box = rel[[f"bbox_{e}_{a}_vx" for e in ("beg", "end") for a in _XYZ]].to_numpy(np.float64)
    out[list(BBOX_COLUMNS)] = vx_to_nm(box)
    bad = (out["cellid"] == 0) | (out["mito_vx"] <= 0)
    if bad.any():
        log.info("%d mitochondria of %s overlap no cell or are smaller than one 3.58 x 3.58 x 40 nm voxel: left out",
                 int(bad.sum()), layer)  # fmt: skip
    pairs = pd.DataFrame({"mito_id": stats.pair_mito, "cellid": stats.pair_cell,
                          "overlap_vx": np.rint(stats.pair_voxels * volume).astype(np.int64)})  # fmt: skip
    return attach_overlaps(out.loc[~bad].reset_index(drop=True), pairs)


def fetch_meshes(layer: str, ids: np.ndarray) -> tuple[MeshBatch, dict[int, str]]:
    """Meshes of ``ids`` from a precomputed mesh layer (vertices nm; as the Phase 1 source fetches
    them, :func:`builder.sources.phase1.fetch_layer_meshes`); ``{id: reason}`` for ids without a mesh."""
    from builder.sources.phase1 import fetch_layer_meshes

    batch, absent = fetch_layer_meshes(layer, np.asarray(ids, np.int64))
    return batch, {int(m): f"no mesh in {layer}" for m in absent}
