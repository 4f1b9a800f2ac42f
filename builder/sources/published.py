"""Parsers of the published Phase 1 tables (docs/formats.md, 'Published inputs') and a source reading that layout.

Each parser checks columns and types and converts positions to nm. A missing file or column is
an :class:`InputFileError` naming the file and column; a bad row (NaN coordinates, unparsable
value, duplicated id) is dropped and returned as a :class:`SourceIssue`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from builder.compute.meshes import MeshBatch
from builder.errors import CellInputError
from builder.schema import (
    BBOX_COLUMNS,
    NM_CHECK_TOLERANCE,
    OVERLAP_TO_MITO_VX,
    PUBLISHED_LABEL_NAMES,
    nominal_to_em,
    vx_to_nm,
)
from builder.sources.base import SkeletonInput, SourceIssue, SourceTables
from builder.sources.csv_checks import (
    coerce_numeric,
    drop_bad_rows,
    drop_duplicates,
    drop_truncated_tail,
    parse_position_strings,
    read_csv_checked,
)
from builder.sources.mesh_bundle import read_bundle

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

_XYZ = ("x", "y", "z")


def read_soma_table(path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """``soma_valence_v185.csv`` -> one row per soma: ``soma_id, cell_id, valence, x, y, z`` (nm).

    The published ``soma_*_nm`` columns are wrong (x*4 repeated, z = 10x); positions are
    recomputed from ``pt_position`` (voxels at 3.58 x 3.58 x 40 nm). ``valence`` is the table's
    ``cell_type`` (``e``, ``i``, ``g`` or ``uncertain``). A root id may carry two somata (a merge
    in the segmentation); both rows are kept here, see :func:`one_soma_per_cell`.
    """
    df = read_csv_checked(path, ("id", "cell_type", "pt_position", "pt_root_id"))
    df = drop_truncated_tail(df, path, "cell", "pt_root_id", issues)
    df = coerce_numeric(df, ["id", "pt_root_id"], path)
    xyz = vx_to_nm(parse_position_strings(df["pt_position"], path, "pt_position"))
    out = pd.DataFrame({"soma_id": df["id"], "cell_id": df["pt_root_id"], "valence": df["cell_type"].astype(str)})
    out[list(_XYZ)] = xyz
    out = drop_bad_rows(out, ["soma_id", "cell_id", *_XYZ], "cell_id", "cell", path, issues)
    return out.astype({"soma_id": np.int64, "cell_id": np.int64}).reset_index(drop=True)


def one_soma_per_cell(somata: pd.DataFrame, path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """Keep the first soma of a root id that has several (reported, not dropped: the cell stays)."""
    dup = somata["cell_id"].duplicated(keep=False).to_numpy()
    for cid, grp in somata.loc[dup].groupby("cell_id", sort=True):
        issues.append(
            SourceIssue(
                "cell", int(cid),
                f"root id has {len(grp)} somata (soma ids {grp['soma_id'].tolist()}) in {path.name}: merged "
                f"segment; the position of soma {grp['soma_id'].iloc[0]} is used", path.name, dropped=False,
            )
        )  # fmt: skip
    return somata.loc[~somata["cell_id"].duplicated(keep="first")].reset_index(drop=True)


def read_cell_types(path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """Cell-type classification -> ``cell_id, cell_type, cell_subtype`` (source vocabulary)."""
    df = read_csv_checked(path, ("cell_segid", "cell_type", "cell_subtype"))
    df = drop_truncated_tail(df, path, "cell", "cell_segid", issues)
    df = coerce_numeric(df, ["cell_segid"], path)
    out = pd.DataFrame(
        {"cell_id": df["cell_segid"], "cell_type": df["cell_type"].astype(str), "cell_subtype": df["cell_subtype"].astype(str)}
    )
    out = drop_bad_rows(out, ["cell_id"], "cell_id", "cell", path, issues)
    out["cell_id"] = out["cell_id"].astype(np.int64)
    return drop_duplicates(out, "cell_id", "cell", path, issues).reset_index(drop=True)


def select_cells(somata: pd.DataFrame, types: pd.DataFrame) -> pd.DataFrame:
    """Cells with a soma that are pyramidal, inhibitory or astrocytes.

    Returns
    -------
    DataFrame
        ``cell_id, x, y, z`` (soma, nm), ``cell_type`` in {pyramidal, inhibitory, astrocyte},
        ``cell_subtype``; sorted by ``cell_id``.
    """
    m = somata.merge(types, on="cell_id", how="inner")
    t = m["cell_type"].str.lower()
    st = m["cell_subtype"].str.lower()
    astro = (t == "glia") & (st == "astrocyte") | (t == "astrocyte")
    keep = t.isin(["pyramidal", "inhibitory"]) | astro
    m = m.loc[keep].copy()
    m.loc[astro[keep], "cell_type"] = "astrocyte"
    m["cell_type"] = m["cell_type"].str.lower()
    return m[["cell_id", *_XYZ, "cell_type", "cell_subtype"]].sort_values("cell_id", ignore_index=True)


def read_synapses(path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """``pni_synapses_v185.csv`` -> ``synapse_id, pre_root_id, post_root_id, x, y, z, size``.

    Position is the cleft centre ``ctr_pos_*_vx`` converted at 3.58 x 3.58 x 40 nm. The table's
    ``ctr_pt_*_nm`` columns are on the nominal 4-nm grid (``ctr_pos_*_vx * 4``) and are not used.
    ``size`` is ``cleft_vx``.
    """
    ctr = ("ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx")
    cols = ("id", "pre_root_id", "post_root_id", "cleft_vx", *ctr)
    df = read_csv_checked(path, cols, usecols=lambda c: c in cols)
    df = drop_truncated_tail(df, path, "synapse", "id", issues)
    df = coerce_numeric(df, list(cols), path)
    out = df.rename(columns={"id": "synapse_id", "cleft_vx": "size"})[["synapse_id", "pre_root_id", "post_root_id", "size"]]
    out[list(_XYZ)] = vx_to_nm(df[list(ctr)].to_numpy(np.float64))
    out = drop_bad_rows(out, ["synapse_id", "pre_root_id", "post_root_id", *_XYZ], "synapse_id", "synapse", path, issues)
    for c in ("synapse_id", "pre_root_id", "post_root_id"):
        out[c] = out[c].astype(np.int64)
    no_seg = ((out["pre_root_id"] <= 0) | (out["post_root_id"] <= 0)).to_numpy()
    for sid in out.loc[no_seg, "synapse_id"]:
        issues.append(SourceIssue("synapse", int(sid), f"root id 0 or negative (no segment) in {path.name}", path.name))
    out = out.loc[~no_seg]
    out["size"] = out["size"].fillna(0).astype(np.int64)
    out = drop_duplicates(out, "synapse_id", "synapse", path, issues)
    return out[["synapse_id", "pre_root_id", "post_root_id", *_XYZ, "size"]].reset_index(drop=True)


def read_mito_table(path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """``211019_mitochondria_info.csv`` -> ``mito_id, cellid, mito_vx, x, y, z`` (centre, nm) and
    the bounding box ``bbox_lo_* / bbox_hi_*`` (nm; NaN when the file has no ``bbox_*_vx`` columns).

    Positions and bounding boxes are voxels at 3.58 x 3.58 x 40 nm, as ``mito_vx`` is. The
    table's own ``ctr_pos_*_nm`` columns, when present, are a check: a row where they differ
    from ``ctr_pos_*_vx * (3.58, 3.58, 40)`` by more than 0.01 nm is reported (and kept, with
    the position from the voxel columns).
    """
    ctr = ["ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx"]
    cols = ("mito_id", "mito_vx", *ctr, "cellid")
    bbox = [f"bbox_{end}_{ax}_vx" for end in ("beg", "end") for ax in _XYZ]
    nm_cols = ["ctr_pos_x_nm", "ctr_pos_y_nm", "ctr_pos_z_nm"]
    df = read_csv_checked(path, cols)
    df = drop_truncated_tail(df, path, "mitochondrion", "mito_id", issues)
    has_bbox = all(c in df.columns for c in bbox)
    has_nm = all(c in df.columns for c in nm_cols)
    df = coerce_numeric(df, list(cols) + (bbox if has_bbox else []) + (nm_cols if has_nm else []), path)
    out = pd.DataFrame({"mito_id": df["mito_id"], "cellid": df["cellid"], "mito_vx": df["mito_vx"]})
    out[list(_XYZ)] = vx_to_nm(df[ctr].to_numpy(np.float64))
    out[list(BBOX_COLUMNS)] = vx_to_nm(df[bbox].to_numpy(np.float64)) if has_bbox else np.nan
    if has_nm:
        _check_nm_columns(out, df[nm_cols].to_numpy(np.float64), path, issues)
    out = drop_bad_rows(out, ["mito_id", "cellid", "mito_vx", *_XYZ], "mito_id", "mitochondrion", path, issues)
    for c in ("mito_id", "cellid", "mito_vx"):
        out[c] = out[c].astype(np.int64)
    out = drop_duplicates(out, "mito_id", "mitochondrion", path, issues)
    return out.reset_index(drop=True)


def _check_nm_columns(out: pd.DataFrame, published_nm: np.ndarray, path: Path, issues: list[SourceIssue]) -> None:
    """Report rows whose published ``ctr_pos_*_nm`` disagree with their voxel columns at 3.58 nm."""
    ours = out[list(_XYZ)].to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        off = np.abs(ours - published_nm).max(axis=1)
    bad = np.flatnonzero(off > NM_CHECK_TOLERANCE)
    for row in bad:
        issues.append(
            SourceIssue(
                "mitochondrion", int(out["mito_id"].iloc[row]) if np.isfinite(out["mito_id"].iloc[row]) else -1,
                f"row {row + 2}: ctr_pos_*_nm {published_nm[row].tolist()} differ from ctr_pos_*_vx x (3.58, 3.58, 40) "
                f"= {ours[row].tolist()} by {off[row]:.3g} nm in {path.name}; the voxel columns are used",
                path.name, dropped=False,
            )
        )  # fmt: skip


#: Columns of the published overlap table (MicronsBinder scripts/computedensitystats.py
#: ``formatoverlap``: ``row_id`` mitochondrion, ``col_id`` cell, ``vals`` overlap voxels at mip 1),
#: and the names used here. An unnamed first column (the index) is ignored.
OVERLAP_COLUMNS: dict[str, str] = {"row_id": "mito_id", "col_id": "cellid", "vals": "overlap_vx"}


def read_overlaps(path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """``pni_mito_cell_overlaps_v185.csv`` -> ``mito_id, cellid, overlap_vx`` (one row per pair).

    How many voxels of each mitochondrion lie in each cell. ``vals`` counts mip-1 voxels; it
    is multiplied by 4 into ``mito_vx`` units, as MicronsBinder does. Rows with a missing or
    negative value are dropped and reported.
    """
    df = read_csv_checked(path, tuple(OVERLAP_COLUMNS), usecols=list(OVERLAP_COLUMNS)).rename(columns=OVERLAP_COLUMNS)
    df = drop_truncated_tail(df, path, "mitochondrion", "mito_id", issues)
    names = list(OVERLAP_COLUMNS.values())
    df = coerce_numeric(df, names, path)
    df = drop_bad_rows(df, names, "mito_id", "mitochondrion", path, issues)
    neg = df["overlap_vx"].to_numpy() < 0
    for mid in df.loc[neg, "mito_id"]:
        issues.append(SourceIssue("mitochondrion", int(mid), f"negative overlap in {path.name}", path.name))
    df = df.loc[~neg].astype({c: np.int64 for c in names})
    df["overlap_vx"] *= OVERLAP_TO_MITO_VX
    return df.reset_index(drop=True)


def check_overlaps(mitos: pd.DataFrame, overlaps: pd.DataFrame, path: Path, issues: list[SourceIssue]) -> None:
    """Report mitochondria whose ``cellid`` is not the cell they overlap most (kept as they are)."""
    if overlaps.empty or mitos.empty:
        return
    best = overlaps.sort_values(["mito_id", "overlap_vx"], ascending=[True, False]).drop_duplicates("mito_id")
    m = mitos[["mito_id", "cellid"]].merge(best, on="mito_id", how="inner", suffixes=("", "_best"))
    for r in m.loc[m["cellid"] != m["cellid_best"]].itertuples(index=False):
        issues.append(
            SourceIssue(
                "mitochondrion", int(r.mito_id),
                f"assigned to cell {r.cellid} but overlaps cell {r.cellid_best} most ({path.name})", path.name, dropped=False,
            )
        )  # fmt: skip


def attach_overlaps(mitos: pd.DataFrame, overlaps: pd.DataFrame) -> pd.DataFrame:
    """``mitos`` with ``overlap_vx``: the voxels (``mito_vx`` units) of each mitochondrion inside
    its own ``cellid``, NaN where the overlap table has no such row. The published density
    analysis splits this volume, not ``mito_vx`` (MicronsBinder scripts/computedensitystats.py:
    mitochondria "poke out from the tips of branches at the ends of the volume"; ``mitovolbygroup``
    uses ``overlap_vx``)."""
    own = overlaps.groupby(["mito_id", "cellid"], as_index=False)["overlap_vx"].sum()
    out = mitos.drop(columns=["overlap_vx"], errors="ignore").merge(own, on=["mito_id", "cellid"], how="left")
    return out.astype({"overlap_vx": np.float64})


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
