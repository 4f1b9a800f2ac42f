"""The published Phase 1 layout (file and folder names) and a source reading it.

The tables are parsed by :mod:`builder.sources.release_tables` (ids exact, bad rows set aside
with their line); this module names the files, unpacks the skeletons, reads skeletons and mesh
bundles per cell, and fingerprints the inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from builder.compute.meshes import MeshBatch
from builder.errors import CellInputError
from builder.schema import PUBLISHED_LABEL_NAMES, nominal_to_em
from builder.sources.base import SkeletonInput, SourceIssue, SourceTables
from builder.sources.mesh_bundle import read_bundle
from builder.sources.release_tables import (  # noqa: F401 - the parsers, importable from here as before
    OVERLAP_COLUMNS,
    attach_overlaps,
    check_overlaps,
    one_soma_per_cell,
    read_cell_types,
    read_mito_table,
    read_overlaps,
    read_soma_table,
    read_synapses,
    select_cells,
)

SOMA_TABLE = "soma_valence_v185.csv"
CELL_TYPE_TABLE = "220309_cell_type_classification.csv"
SYNAPSE_TABLE = "pni_synapses_v185.csv"
MITO_TABLE = "211019_mitochondria_info.csv"
OVERLAP_TABLE = "pni_mito_cell_overlaps_v185.csv"
#: The skeleton archive of record 6363348 and the folder it unpacks to (MicronsBinder's Makefile
#: unpacks ``211019_smoothed_skeletons.tgz`` and lib/skel.py reads ``smoothed_skeletons_v185/``).
SKELETON_ARCHIVE = "211019_smoothed_skeletons.tgz"
SKELETON_DIR = "smoothed_skeletons_v185"
#: Also accepted: the archive unpacked by hand into a folder named after it.
SKELETON_DIR_ALIASES: tuple[str, ...] = (SKELETON_DIR, "211019_smoothed_skeletons")
MESH_DIR = "mito_meshes"
#: Where the optional overlap table comes from (it is in no Zenodo record).
OVERLAP_ORIGIN = (
    "not in any Zenodo record: it ships in the data of MicronsBinder's mitochondria vignette "
    "(notebooks/vignette_analysis/mitochondria, 'Base data'); put it in the raw directory to enable the check"
)


def file_fingerprint(paths: list[Path]) -> str:
    """Cheap fingerprint of input files: name, size and modification time of each."""
    h = hashlib.sha256()
    for p in sorted(paths):
        st = p.stat() if p.exists() else None
        h.update(f"{p.parent.name}/{p.name}:{st.st_size if st else -1}:{st.st_mtime_ns if st else -1};".encode())
    return h.hexdigest()[:16]


#: The smoothed skeletons carry MeshParty's shape-diameter function as the vertex property
#: ``rs`` (meshparty skeleton_io: "rs) the sdf (local caliber/thickness) of the mesh"; MeshParty's
#: ``ray_trace_distance``: "distance to opposite side of the mesh"). MicronsBinder reads it as the
#: diameter (scripts/branchdiameter.py ``groupstats``: ``diameters = skl.vertex_properties["rs"]``;
#: distance_to_soma.ipynb plots its median as "median dend diameter"). The dataset's SWC radius is
#: half of it. Skeletons written with a ``radius`` property are read as radii.
SKELETON_DIAMETER_PROPERTY = "rs"


def skeleton_radius(vertex_properties: Mapping) -> np.ndarray | None:
    """Node radii (nm) from a MeshParty skeleton's vertex properties: ``rs / 2`` (``rs`` is the
    shape diameter), else a ``radius`` property as it is, else None."""
    if SKELETON_DIAMETER_PROPERTY in vertex_properties:
        return np.asarray(vertex_properties[SKELETON_DIAMETER_PROPERTY], np.float64) / 2.0
    if "radius" in vertex_properties:
        return np.asarray(vertex_properties["radius"], np.float64)
    return None


@dataclass(frozen=True)
class PublishedLayoutSource:
    """A directory holding the Phase 1 files in their published layout, plus mesh bundles.

    Skeletons are read from ``smoothed_skeletons_v185/`` (or a folder named after the archive);
    when only ``211019_smoothed_skeletons.tgz`` is there, making the source unpacks it.
    Mesh bundles hold meshes as the mitochondria layer serves them, in nominal 4-nm space; they
    are scaled to EM space when read.

    Attributes
    ----------
    raw_dir : Path
    name : str
    synthetic : bool
        True for the demo volume (recorded in the manifest).
    """

    raw_dir: Path
    name: str = "phase1"
    synthetic: bool = False

    @property
    def label_names(self) -> Mapping[int, str]:
        """Published skeleton label vocabulary (MicronsBinder codes)."""
        return PUBLISHED_LABEL_NAMES

    def fingerprint(self) -> str:
        """Changes when any table, skeleton or mesh file changes (name, size or mtime)."""
        return self._input_fingerprint((MESH_DIR,))

    def __post_init__(self) -> None:
        self._unpack_skeletons()

    def _input_fingerprint(self, folders: tuple[str, ...]) -> str:
        """Fingerprint of the tables, the skeleton archive and folder, and the files in
        ``folders`` of ``raw_dir``."""
        tables = (SOMA_TABLE, CELL_TYPE_TABLE, SYNAPSE_TABLE, MITO_TABLE, OVERLAP_TABLE, SKELETON_ARCHIVE)
        files = [self.raw_dir / t for t in tables]
        skel = self.skeleton_dir()
        for d in ((skel.name,) if skel else ()) + folders:
            if (self.raw_dir / d).is_dir():
                files += [p for p in (self.raw_dir / d).iterdir() if not p.name.startswith(".")]
        return file_fingerprint(files)

    def skeleton_dir(self) -> Path | None:
        """The folder of skeleton files: the first of :data:`SKELETON_DIR_ALIASES` that has any."""
        for name in SKELETON_DIR_ALIASES:
            d = self.raw_dir / name
            if d.is_dir() and any(d.glob("*_skeleton.h5")):
                return d
        return None

    def _unpack_skeletons(self) -> None:
        """Unpack the skeleton archive when no skeleton folder is there yet (a source is made
        in the main process before anything is read, so workers find the folder)."""
        archive = self.raw_dir / SKELETON_ARCHIVE
        if self.skeleton_dir() is None and archive.is_file():
            from builder.sources.archive import unpack_folder

            unpack_folder(archive, self.raw_dir, SKELETON_DIR, "*_skeleton.h5")

    def tables(self) -> SourceTables:
        """Parse the soma, cell-type, mitochondria, overlap (if present) and synapse tables."""
        issues: list[SourceIssue] = []
        checks: dict[str, str] = {}
        somata = one_soma_per_cell(read_soma_table(self.raw_dir / SOMA_TABLE, issues), self.raw_dir / SOMA_TABLE, issues)
        types = read_cell_types(self.raw_dir / CELL_TYPE_TABLE, issues)
        cells = select_cells(somata, types)
        mitos = read_mito_table(self.raw_dir / MITO_TABLE, issues)
        mitos = mitos.loc[mitos["cellid"].isin(cells["cell_id"])].reset_index(drop=True)
        overlap = self.raw_dir / OVERLAP_TABLE
        if overlap.is_file():
            n_before = len(issues)
            overlaps = read_overlaps(overlap, issues)
            check_overlaps(mitos, overlaps, overlap, issues)
            mitos = attach_overlaps(mitos, overlaps)
            checks["mito_cell_overlaps"] = (
                f"done: {len(issues) - n_before} mitochondria listed in input_issues; "
                f"{int(mitos['overlap_vx'].notna().sum())} of {len(mitos)} have their volume inside their cell"
            )
        else:
            checks["mito_cell_overlaps"] = f"skipped: {OVERLAP_TABLE} not in {self.raw_dir} ({OVERLAP_ORIGIN})"
        syn = read_synapses(self.raw_dir / SYNAPSE_TABLE, issues)
        return SourceTables(cells=cells, mitochondria=mitos, synapses=syn, issues=issues, checks=checks)

    def skeleton_paths(self, cell_id: int) -> tuple[Path, Path]:
        """``{id}_skeleton.h5`` and ``{id}_skeleton_label.npy`` of a cell."""
        d = self.skeleton_dir() or self.raw_dir / SKELETON_DIR
        return d / f"{cell_id}_skeleton.h5", d / f"{cell_id}_skeleton_label.npy"

    def skeleton(self, cell_id: int) -> SkeletonInput:
        """Read a MeshParty skeleton (meshparty's skeleton_io) and its label file, if any.

        The smoothed skeletons are already at 3.58 x 3.58 x 40 nm: no scaling.
        """
        from meshparty import skeleton_io

        h5, npy = self.skeleton_paths(cell_id)
        if not h5.is_file():
            raise CellInputError(cell_id, "missing skeleton file", h5)
        try:
            sk = skeleton_io.read_skeleton_h5(str(h5))
        except Exception as exc:  # h5py / json errors of a damaged file
            raise CellInputError(cell_id, f"unreadable skeleton ({type(exc).__name__}: {exc})", h5) from exc
        radius = skeleton_radius(sk.vertex_properties or {})
        labels = None
        if npy.is_file():
            try:
                labels = np.load(npy, allow_pickle=False)
            except Exception as exc:
                raise CellInputError(cell_id, f"unreadable label file ({exc})", npy) from exc
            if labels.shape != (len(sk.vertices),):
                raise CellInputError(cell_id, f"label file has {labels.shape} entries for {len(sk.vertices)} skeleton nodes", npy)
        root = sk.root if sk.root is not None else 0
        return SkeletonInput(
            vertices=np.asarray(sk.vertices, np.float64),
            edges=np.asarray(sk.edges, np.int64),
            root=int(root),
            radius=None if radius is None else np.asarray(radius, np.float64),
            labels=labels,
            path=str(h5),
        )

    def meshes(self, cell_id: int, mito_ids: np.ndarray) -> tuple[MeshBatch, dict[int, str]]:
        """The cell's mitochondrion meshes from its bundle ``mito_meshes/{cell_id}.h5``, scaled
        from the layer's nominal 4-nm space to EM space (x and y by 0.895)."""
        path = self.raw_dir / MESH_DIR / f"{cell_id}.h5"
        if not path.is_file():
            empty = MeshBatch.from_meshes([], [])
            return empty, {int(m): f"no mesh file {path.name}" for m in mito_ids}
        try:
            batch, missing = read_bundle(path, mito_ids)
        except Exception as exc:
            raise CellInputError(cell_id, f"unreadable mesh bundle ({type(exc).__name__}: {exc})", path) from exc
        return replace(batch, vertices=nominal_to_em(batch.vertices)), missing
