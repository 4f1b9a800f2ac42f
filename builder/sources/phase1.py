"""The real MICrONS Phase 1 (pinky100, v185) release as a source.

Tables and skeletons come from the published records (downloaded into ``data/raw/phase1`` by
:func:`ensure_phase1_files`, or placed there by hand); mitochondrion meshes come from the
precomputed mitochondria segmentation through cloud-volume, one cell at a time, and are cached
as per-cell bundles in ``mito_meshes/`` (the layout the demo writes) so that a rebuild reads
them locally. Everything else -- parsing, units, known defects -- is shared with the demo
through :class:`builder.sources.published.PublishedLayoutSource`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.compute.meshes import MeshBatch
from builder.errors import DownloadError, SourceUnavailableError
from builder.sources.download import Downloader, RemoteFile, missing_files_message
from builder.sources.mesh_bundle import ABSENT_REASON, write_bundle
from builder.sources.published import (
    CELL_TYPE_TABLE,
    MESH_DIR,
    MITO_TABLE,
    OVERLAP_TABLE,
    SKELETON_DIR,
    SOMA_TABLE,
    SYNAPSE_TABLE,
    PublishedLayoutSource,
)

log = logging.getLogger(__name__)

#: Published records of the Phase 1 release.
RECORDS: tuple[int, ...] = (3710459, 5579388, 6363348)
DEFAULT_BASE_URL = "https://zenodo.org"
#: Mitochondria segmentation (precomputed) whose meshes are read; MicronsBinder's path.
DEFAULT_MESH_SOURCE = "precomputed://gs://neuroglancer/pinky100_v0/mito_seg_191220"

#: What the Phase 1 source needs. Records: 3710459 holds the soma and synapse tables and
#: 5579388 the mitochondria table (both documented by the release's READMEs); for the others the
#: record is the expected one and the downloader looks the name up in all three listings.
#: md5: recorded where known (soma table: verified against the official copy); otherwise taken
#: from the record listing at download time.
PHASE1_FILES: tuple[RemoteFile, ...] = (
    RemoteFile(SOMA_TABLE, 3710459, md5="a8ce8aa4e5cdf4202caa5ae10411c333"),
    RemoteFile(SYNAPSE_TABLE, 3710459),
    RemoteFile(MITO_TABLE, 5579388),
    RemoteFile(OVERLAP_TABLE, 5579388),
    RemoteFile(f"{SKELETON_DIR}.tgz", 5579388, extract_to=SKELETON_DIR),
    RemoteFile(CELL_TYPE_TABLE, 6363348),
)


def ensure_phase1_files(
    raw_dir: Path, base_url: str = DEFAULT_BASE_URL, offline: bool = False, files: tuple[RemoteFile, ...] | None = None
) -> None:
    """Make sure every published file (default :data:`PHASE1_FILES`) is in ``raw_dir``: cached,
    placed by hand, or downloaded.

    Raises
    ------
    DownloadError
        Naming each file still missing, its URL and where to put it, when a download is
        impossible (offline, server unreachable); or a checksum / HTTP error of one file.
    """
    dl = Downloader(Path(raw_dir), base_url, RECORDS)
    missing = dl.ensure(list(PHASE1_FILES if files is None else files), offline=offline)
    if missing:
        reason = "--offline was given" if offline else f"server unreachable: {dl.offline_reason}"
        raise DownloadError(missing_files_message(missing, dl, reason))


def _info_url(mesh_source: str) -> str:
    """Where the layer's ``info`` file is read from (gs:// through its public HTTPS gateway)."""
    path = mesh_source.removeprefix("precomputed://").rstrip("/")
    if path.startswith("gs://"):
        path = "https://storage.googleapis.com/" + path[len("gs://") :]
    return f"{path}/info"


def probe_mesh_source(mesh_source: str, timeout: float = 15.0) -> None:
    """Fail fast, before any cell is dispatched, when the mesh layer cannot be read at all.

    Raises
    ------
    DownloadError
        Naming the layer, the URL tried and the two ways out.
    """
    url = _info_url(mesh_source)
    try:
        if url.startswith("file://"):
            ok = Path(url[len("file://") :]).is_file()
        else:
            import urllib.request

            with urllib.request.urlopen(url, timeout=timeout) as r:
                ok = r.status == 200
        if not ok:
            raise OSError("no info file")
    except Exception as exc:
        raise DownloadError(
            f"mitochondria mesh layer {mesh_source} cannot be read ({url}: {type(exc).__name__}: "
            f"{getattr(exc, 'reason', exc)}). Rerun when it can be reached, pass --mesh-source PATH for "
            "another copy of the layer, or --mesh-source '' to build from cached meshes only (the "
            "other mitochondria are kept without mesh measures)"
        ) from exc


def _fetch_meshes(mesh_source: str, ids: np.ndarray) -> tuple[MeshBatch, np.ndarray]:
    """Meshes of ``ids`` from a precomputed segmentation, and the ids it has no mesh for.

    Fragments of one mitochondrion (one per chunk it crosses) are concatenated and exactly
    coincident vertices merged, so that chunk seams do not open the surface.
    """
    from cloudvolume import CloudVolume

    cv = CloudVolume(mesh_source, use_https=True, progress=False)
    exists = cv.mesh.exists([int(i) for i in ids])
    present = np.array(sorted(int(k) for k, v in exists.items() if v is not None), np.int64)
    absent = np.setdiff1d(np.asarray(ids, np.int64), present)
    got = cv.mesh.get(present.tolist(), fuse=False) if len(present) else {}
    meshes = []
    for i in present:
        m = got[int(i)] if int(i) in got else got[str(i)]
        verts, inverse = np.unique(np.asarray(m.vertices, np.float64), axis=0, return_inverse=True)
        meshes.append((verts, inverse.reshape(-1)[np.asarray(m.faces, np.int64)]))
    return MeshBatch.from_meshes(present, meshes), absent


@dataclass(frozen=True)
class Phase1Source(PublishedLayoutSource):
    """The Phase 1 release in ``raw_dir``, meshes from ``mesh_source`` (cached per cell).

    Attributes
    ----------
    mesh_source : str
        cloud-volume path of the mitochondria segmentation; ``""`` reads only the bundles
        already in ``raw_dir/mito_meshes`` (offline).
    """

    name: str = "phase1"
    synthetic: bool = False
    mesh_source: str = DEFAULT_MESH_SOURCE

    def fingerprint(self) -> str:
        """Tables, skeletons and the mesh source path. The mesh cache is a copy of the mesh
        source, so filling it does not change the fingerprint; without a mesh source the
        bundles are inputs and count."""
        folders = (SKELETON_DIR,) if self.mesh_source else (SKELETON_DIR, MESH_DIR)
        return f"{self._input_fingerprint(folders)}:{self.mesh_source}"

    def meshes(self, cell_id: int, mito_ids: np.ndarray) -> tuple[MeshBatch, dict[int, str]]:
        """From the cell's cached bundle, else from the mesh source (then cached)."""
        path = self.raw_dir / MESH_DIR / f"{cell_id}.h5"
        if path.is_file():
            batch, missing = super().meshes(cell_id, mito_ids)
            uncached = [m for m, r in missing.items() if r != ABSENT_REASON]
            if not uncached or not self.mesh_source:
                return batch, missing
            log.info("cell %d: %d mitochondria not in the mesh cache; fetching all again", cell_id, len(uncached))
        if not self.mesh_source:
            return MeshBatch.from_meshes([], []), {int(m): "no mesh source configured (--mesh-source '')" for m in mito_ids}
        try:
            batch, absent = _fetch_meshes(self.mesh_source, mito_ids)
        except Exception as exc:
            raise SourceUnavailableError(
                cell_id,
                f"mesh source {self.mesh_source} unavailable ({type(exc).__name__}: {exc}); rerun when it can be "
                "reached, or build with --mesh-source '' to keep these mitochondria without mesh measures",
            ) from exc
        write_bundle(path, batch, absent=absent)
        return batch, {int(m): ABSENT_REASON for m in absent}
