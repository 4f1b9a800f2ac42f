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
    SKELETON_ARCHIVE,
    SKELETON_DIR,
    SKELETON_DIR_ALIASES,
    SOMA_TABLE,
    SYNAPSE_TABLE,
    PublishedLayoutSource,
)

log = logging.getLogger(__name__)

#: Published records of the Phase 1 release.
RECORDS: tuple[int, ...] = (3710459, 5579388, 6363348)
DEFAULT_BASE_URL = "https://zenodo.org"
#: Known endpoints of the mitochondria segmentation layer ``pinky100-mito/seg_191220``, probed
#: in this order when no --mesh-source is given:
#: - the sseung-archive on Princeton's TigerData server over HTTPS, as public analysis code of
#:   the release reads it (``mito_seg_source = "precomputed://https://td.princeton.edu/..."``);
#:   cloud-files names this host its ``tigerdata://`` alias;
#: - the older ``matrix://`` path (s3-hpcrc.rc.princeton.edu) of MicronsBinder's
#:   notebooks/vignette_analysis/mitochondria/lib/ngl.py, reported unavailable (MicronsBinder
#:   issue 16), kept last in case it returns.
MESH_ENDPOINTS: tuple[str, ...] = (
    "precomputed://https://td.princeton.edu/sseung-archive/pinky100-mito/seg_191220",
    "precomputed://matrix://sseung-archive/pinky100-mito/seg_191220",
)
DEFAULT_MESH_SOURCE = MESH_ENDPOINTS[0]
#: ``--mesh-source`` value that builds without meshes (mesh measures empty, reason recorded).
NO_MESHES = "none"

#: What the Phase 1 source needs, and where (docs/formats.md, 'Published inputs'):
#: - 3710459: the soma and synapse tables (MicronsBinder's Makefile, target ``intro``);
#: - 5579388: the mitochondria table (MicronsBinder's mitochondria vignette README links it);
#: - 6363348: the skeleton archive (MicronsBinder's Makefile, ``vignette_url``) and, per the
#:   project's design reference, the 220309 classification -- no public reader fetched here names
#:   its record, so the downloader looks every name up in the listings of all three records.
#: The overlap table is in no record and is optional (:data:`builder.sources.published.OVERLAP_ORIGIN`).
#: md5: the listing's is the authority; the soma table's pin is that of the official copy
#: (OFS-EM-Connectomics), and the shipped fixture has it (tests/fixtures/phase1/NOTICE.md).
PHASE1_FILES: tuple[RemoteFile, ...] = (
    RemoteFile(SOMA_TABLE, 3710459, md5="a8ce8aa4e5cdf4202caa5ae10411c333"),
    RemoteFile(SYNAPSE_TABLE, 3710459),
    RemoteFile(MITO_TABLE, 5579388),
    RemoteFile(SKELETON_ARCHIVE, 6363348, extract_to=SKELETON_DIR, member_glob="*_skeleton.h5", also_accept=SKELETON_DIR_ALIASES),
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
    from builder.store.lock import folder_lock

    with folder_lock(Path(raw_dir), f"python -m builder download --raw-dir {raw_dir}"):  # one downloader per folder
        dl = Downloader(Path(raw_dir), base_url, RECORDS)
        missing = dl.ensure(list(PHASE1_FILES if files is None else files), offline=offline)
    if missing:
        reason = "--offline was given" if offline else f"server unreachable: {dl.offline_reason}"
        raise DownloadError(missing_files_message(missing, dl, reason))


def _info_url(mesh_source: str) -> str:
    """Where the layer's ``info`` file is read from (gs://, matrix://... through HTTPS)."""
    from cloudfiles.paths import to_https_protocol

    path = mesh_source.removeprefix("precomputed://").rstrip("/")
    return f"{to_https_protocol(path)}/info"


def _readable(mesh_source: str, timeout: float) -> str:
    """'' when the layer's info file can be read, else why not."""
    url = _info_url(mesh_source)
    try:
        if url.startswith("file://"):
            if not Path(url[len("file://") :]).is_file():
                raise OSError("no info file")
        else:
            import urllib.request

            with urllib.request.urlopen(url, timeout=timeout) as r:
                if r.status != 200:
                    raise OSError(f"HTTP {r.status}")
        return ""
    except Exception as exc:
        return f"{url}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def choose_mesh_source(requested: str | None, timeout: float = 15.0) -> str:
    """The mesh layer to read, checked before any cell is dispatched.

    Parameters
    ----------
    requested : str or None
        ``--mesh-source``: None probes :data:`MESH_ENDPOINTS` in order and takes the first that
        answers; a path is probed alone; ``''`` (cached meshes only) and ``none`` are returned
        as they are.

    Raises
    ------
    DownloadError
        When no layer answers: names each endpoint tried and the ways on.
    """
    if requested in ("", NO_MESHES):
        return requested
    tried = []
    for endpoint in (requested,) if requested else MESH_ENDPOINTS:
        why = _readable(endpoint, timeout)
        if not why:
            return endpoint
        log.warning("mitochondria mesh layer %s does not answer (%s)", endpoint, why)
        tried.append(f"  {endpoint}\n    {why}")
    raise DownloadError(
        "the mitochondria mesh layer cannot be read at any endpoint tried:\n" + "\n".join(tried) + "\n"
        "Ways on: rerun when it answers; pass --mesh-source URL for another copy of the layer; or pass "
        f"--mesh-source {NO_MESHES} to build without meshes (mitochondria keep their volume, position, "
        "compartment and skeleton nodes; surface area, complexity index and shape measures stay empty, "
        "with the reason in mesh_missing). --mesh-source '' uses only meshes already cached in RAW/mito_meshes"
    )


def fetch_layer_meshes(mesh_source: str, ids: np.ndarray) -> tuple[MeshBatch, np.ndarray]:
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
        already in ``raw_dir/mito_meshes`` (offline); ``"none"`` builds without meshes.
    """

    name: str = "phase1"
    synthetic: bool = False
    mesh_source: str = DEFAULT_MESH_SOURCE

    def fingerprint(self) -> str:
        """Tables, skeletons and the mesh source path. The mesh cache is a copy of the mesh
        source, so filling it does not change the fingerprint; with ``''`` the cached bundles
        are the inputs and count; with ``none`` no mesh is read."""
        folders = (MESH_DIR,) if self.mesh_source == "" else ()
        return f"{self._input_fingerprint(folders)}:{self.mesh_source}"

    def meshes(self, cell_id: int, mito_ids: np.ndarray) -> tuple[MeshBatch, dict[int, str]]:
        """From the cell's cached bundle, else from the mesh source (then cached); scaled from
        the layer's nominal 4-nm space to EM space either way."""
        if self.mesh_source == NO_MESHES:
            reason = f"built without meshes (--mesh-source {NO_MESHES})"
            return MeshBatch.from_meshes([], []), {int(m): reason for m in mito_ids}
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
            batch, absent = fetch_layer_meshes(self.mesh_source, mito_ids)
        except Exception as exc:
            raise SourceUnavailableError(
                cell_id,
                f"mesh source {self.mesh_source} unavailable ({type(exc).__name__}: {exc}); rerun when it can be "
                f"reached, or build with --mesh-source {NO_MESHES} to keep these mitochondria without mesh measures",
            ) from exc
        write_bundle(path, batch, absent=absent)  # the cache holds the layer's own (nominal) geometry
        return super().meshes(cell_id, mito_ids)
