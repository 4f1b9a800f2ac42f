"""The release's mitochondria and overlap tables, computed from two label volumes chunk by chunk.

A mitochondria segmentation and a cell segmentation (label volumes of one shape, ids as
unsigned or signed integers, 0 = background) are summarised chunk by chunk into
:class:`ChunkStats` (:func:`chunk_stats`); partial summaries merge exactly and associatively
(:func:`merge_stats`: integer sums, minima and maxima), so the result does not depend on the
chunking; :func:`release_tables` turns the merged summary into the two published tables.

What the release's columns mean. The code that made ``211019_mitochondria_info.csv`` (Zenodo
5579388) and ``pni_mito_cell_overlaps_v185.csv`` is not public (MicronsBinder's
``derivedata.sh`` starts from these tables). What can be checked:

* The overlap table's columns ``row_id, col_id, vals`` are the overlap-matrix columns of
  seung-lab's Synaptor (github nicholasturner1/Synaptor @ 76084be, ``synaptor/proc/colnames.py``
  ``rows, cols, vals``; ``synaptor/proc/io/overlap.py`` ``write_chunk_overlap_mat``), written
  by Nicholas Turner (``synaptor/types/bbox/bbox.py`` header), first author of the release's
  paper; whether Synaptor made the mitochondria tables is not documented. In Synaptor a segment's size is its
  voxel count, its centroid the mean voxel index rounded to the nearest voxel per chunk
  (``synaptor/seg_utils/_describe.cpp`` ``centers_of_mass``) and then, across chunks, the
  size-weighted mean of those, truncated (``synaptor/proc/seg/merge/merge_df.py``
  ``compute_centroids``: ``.astype(int)``); its bounding box comes from
  ``scipy.ndimage.find_objects`` slices, so its end is exclusive
  (``synaptor/seg_utils/describe.py`` ``bounding_boxes``; ``synaptor/types/bbox/bbox.py``:
  "max() -- return the (exclusive) upper coordinate"). Overlaps count voxels where both labels
  are nonzero (``synaptor/seg_utils/overlap.py`` ``count_overlaps``), chunk matrices are summed
  (``synaptor/proc/overlap/merge/merge_overlaps.py`` ``consolidate_overlaps``) and a segment's
  partner is its largest overlap, the first one met on a tie
  (``synaptor/proc/overlap/overlap.py`` ``find_max_overlaps``: strict ``>`` over the summed
  COO matrix, whose ``sum_duplicates`` sorts by row then column): the smallest cell id.
* ``vals`` counts voxels at mip 1 (7.16 x 7.16 x 40 nm): MicronsBinder
  ``notebooks/vignette_analysis/mitochondria/scripts/computedensitystats.py`` ``formatoverlap``
  multiplies it by 4 "to match mitodf["mito_vx"] voxel res" (:data:`OVERLAP_TO_MITO_VX`).
* The mitochondria table was computed at mip 1 too: in every published row we have (the
  first and last 5 rows printed by shandran/layer23-volume ``lookup_mitochondria_ids.ipynb``,
  the realdata sample of the tests; the 5 largest and 5 smallest printed by its
  ``mitochondria/mito_voxel_analysis_entire_table.ipynb``) ``mito_vx`` is a multiple of 4 and
  every x, y position and bbox bound is even. Its smallest ``mito_vx`` is 1200 (300
  mip-1 voxels): a size threshold, which is not applied here.
* The first published row (bbox x 103734..103798, ctr 103764; y 47016..47066, ctr 47040; z
  102..107, ctr 103) and all 19 others have the centre inside the box and off the box's
  middle (row 2: x 87204..87992, ctr 87582), as a centroid has; that ``ctr`` is a centroid
  rather than a point snapped into the object, and that the box end is exclusive, cannot be
  told from the rows (both readings fit every row); both follow Synaptor here.

Choices made here (checkable, and tested): a mitochondrion's cell (``cellid``) is the nonzero
cell with the most overlapping voxels, the smallest cell id on a tie, 0 when it overlaps no
cell; overlaps with cell 0 (background) are not kept, as in Synaptor. Its centre is the release
voxel holding the centroid of its voxels' centres, the lower on a boundary (at the release's
resolution: the mean voxel index rounded half down; from mip 1, voxel i -> 2i, even as published) (not snapped into the
object: a curved mitochondrion's centre may lie outside it). The release's centres look
rounded (or truncated, as Synaptor's are) at mip 1 and then doubled in x and y (all even), so
for the same voxels they may differ from ours by under 2 mip-1 voxels per axis (4 release
voxels in x and y, 2 in z). Its box is ``[beg, end)``: the smallest box of release voxels covering its
voxels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from builder.schema import EM_VOXEL_NM, OVERLAP_TO_MITO_VX, vx_to_nm

_INT64_MAX = np.iinfo(np.int64).max
#: Tolerance (release voxels) of the box bounds' floor and ceil against float rounding.
_EPS = 1e-6
_XYZ = ("x", "y", "z")
#: Columns of ``211019_mitochondria_info.csv``, in its order.
MITO_RELEASE_COLUMNS: tuple[str, ...] = (
    "mito_id",
    "mito_vx",
    *(f"ctr_pos_{a}_vx" for a in _XYZ),
    *(f"bbox_beg_{a}_vx" for a in _XYZ),
    *(f"bbox_end_{a}_vx" for a in _XYZ),
    "cellid",
    *(f"ctr_pos_{a}_nm" for a in _XYZ),
)
#: Columns of ``pni_mito_cell_overlaps_v185.csv`` after its unnamed index column.
OVERLAP_RELEASE_COLUMNS: tuple[str, ...] = ("row_id", "col_id", "vals")


@dataclass(frozen=True, eq=False)
class ChunkStats:
    """Voxel statistics of the mitochondria found in a chunk (or in a merge of chunks).

    Coordinates are global voxel indices of the volume (the chunk's offset added), at the
    volume's own resolution. Every array is int64; sums are exact.

    Attributes
    ----------
    mito_id : ndarray, shape (n,)
        Mitochondrion ids, sorted, unique, nonzero.
    voxels : ndarray, shape (n,)
        Voxel count of each mitochondrion.
    coord_sum : ndarray, shape (n, 3)
        Sum of its voxels' (x, y, z) indices (exact while voxels x index < 2**63).
    bbox_lo, bbox_hi : ndarray, shape (n, 3)
        Its bounding box ``[lo, hi)``: smallest index, largest index + 1.
    pair_mito, pair_cell, pair_voxels : ndarray, shape (p,)
        Overlap of each mitochondrion with each nonzero cell id: voxels labelled with both.
        Sorted by (mitochondrion, cell), unique pairs, cell 0 never listed.
    """

    mito_id: np.ndarray
    voxels: np.ndarray
    coord_sum: np.ndarray
    bbox_lo: np.ndarray
    bbox_hi: np.ndarray
    pair_mito: np.ndarray
    pair_cell: np.ndarray
    pair_voxels: np.ndarray

    def __post_init__(self) -> None:
        n, p = len(self.mito_id), len(self.pair_mito)
        for f in fields(self):
            a = getattr(self, f.name)
            want = (n, 3) if f.name in ("coord_sum", "bbox_lo", "bbox_hi") else (p,) if f.name.startswith("pair") else (n,)
            if not isinstance(a, np.ndarray) or a.dtype != np.int64 or a.shape != want:
                got = (getattr(a, "dtype", type(a)), getattr(a, "shape", None))
                raise ValueError(f"ChunkStats.{f.name} must be int64 of shape {want}, got {got}")

    @property
    def n(self) -> int:
        """Number of mitochondria."""
        return len(self.mito_id)

    @classmethod
    def empty(cls) -> ChunkStats:
        """Statistics of a chunk with no mitochondrion."""
        z1, z3 = np.zeros(0, np.int64), np.zeros((0, 3), np.int64)
        return cls(z1, z1, z3, z3, z3, z1, z1, z1)

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields by name (e.g. for ``np.savez``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ChunkStats:
        """Inverse of :meth:`arrays` (extra keys ignored); raises ``KeyError`` or ``ValueError``."""
        return cls(**{f.name: np.asarray(arrays[f.name]) for f in fields(cls)})


def _ids(values: np.ndarray, what: str, offset: Sequence[int]) -> np.ndarray:
    """Labels as int64, refusing what int64 cannot hold exactly (ids >= 2**63, negative ids)."""
    if values.dtype.kind not in "ui":
        raise ValueError(f"{what} labels are {values.dtype}, not integers (chunk at voxel offset {tuple(offset)})")
    if values.size and values.dtype.kind == "u" and values.max() > _INT64_MAX:
        raise ValueError(
            f"{what} id {int(values.max())} is 2**63 or more (chunk at voxel offset {tuple(offset)}): ids are int64 "
            "in the dataset; relabel the segmentation with ids below 2**63"
        )
    if values.size and values.dtype.kind == "i" and values.min() < 0:
        raise ValueError(f"{what} id {int(values.min())} is negative (chunk at voxel offset {tuple(offset)})")
    return values.astype(np.int64, copy=False)


def _starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Indices where a new key starts in a sorted (n,) array (empty for n = 0)."""
    if sorted_keys.size == 0:
        return np.zeros(0, np.intp)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _sum_pairs(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (a, b) pairs sorted by a then b, with the sum of ``w`` over each; all (m,) int64."""
    if a.size == 0:
        return a.astype(np.int64), b.astype(np.int64), w.astype(np.int64)
    order = np.lexsort((b, a))
    a, b, w = a[order], b[order], w[order]
    new = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    starts = np.flatnonzero(new)
    return a[starts], b[starts], np.add.reduceat(w, starts)


def chunk_stats(mito: np.ndarray, cells: np.ndarray, offset: tuple[int, int, int]) -> ChunkStats:
    """Statistics of every mitochondrion label in one chunk.

    Parameters
    ----------
    mito, cells : ndarray, shape (X, Y, Z), integer
        Mitochondria and cell labels of the chunk (0 = background), any memory order.
    offset : (int, int, int)
        Global voxel index of the chunk's first voxel (added to every coordinate).

    Returns
    -------
    ChunkStats
        Sorted by mitochondrion id; overlaps with cell 0 not listed.

    Raises
    ------
    ValueError
        Shapes differ or are not 3-d, labels are not integers, or an id is negative or 2**63
        or more (ids are int64; MICrONS root ids, ~1e18, fit).
    """
    if mito.shape != cells.shape or mito.ndim != 3:
        raise ValueError(f"mitochondria {mito.shape} and cells {cells.shape} must be 3-d arrays of one shape")
    mask = mito != 0
    lab = _ids(mito[mask], "mitochondria", offset)
    if lab.size == 0:
        return ChunkStats.empty()
    cell = _ids(cells[mask], "cell", offset)
    xyz = np.stack(np.nonzero(mask), axis=1).astype(np.int64) + np.asarray(offset, np.int64)
    order = np.argsort(lab, kind="stable")
    lab, cell, xyz = lab[order], cell[order], xyz[order]
    starts = _starts(lab)
    inside = cell != 0
    pm, pc, pv = _sum_pairs(lab[inside], cell[inside], np.ones(int(inside.sum()), np.int64))
    return ChunkStats(
        mito_id=lab[starts],
        voxels=np.diff(np.r_[starts, lab.size]).astype(np.int64),
        coord_sum=np.add.reduceat(xyz, starts, axis=0),
        bbox_lo=np.minimum.reduceat(xyz, starts, axis=0),
        bbox_hi=np.maximum.reduceat(xyz, starts, axis=0) + 1,
        pair_mito=pm,
        pair_cell=pc,
        pair_voxels=pv,
    )


def merge_stats(parts: Sequence[ChunkStats]) -> ChunkStats:
    """Merge statistics of disjoint chunks: counts and sums added, boxes joined, overlaps added.

    Exact and associative: merging any grouping of any chunking of a volume gives the
    statistics of the whole volume.

    Parameters
    ----------
    parts : sequence of ChunkStats
        Statistics of disjoint parts of one volume (an empty sequence gives empty statistics).

    Returns
    -------
    ChunkStats
    """
    parts = list(parts)
    if not parts:
        return ChunkStats.empty()
    ids = np.concatenate([p.mito_id for p in parts])
    order = np.argsort(ids, kind="stable")
    starts = _starts(ids[order])

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])[order]

    pm, pc, pv = _sum_pairs(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("pair_mito", "pair_cell", "pair_voxels")))
    if starts.size == 0:
        return ChunkStats.empty()
    return ChunkStats(
        mito_id=ids[order][starts],
        voxels=np.add.reduceat(cat("voxels"), starts),
        coord_sum=np.add.reduceat(cat("coord_sum"), starts, axis=0),
        bbox_lo=np.minimum.reduceat(cat("bbox_lo"), starts, axis=0),
        bbox_hi=np.maximum.reduceat(cat("bbox_hi"), starts, axis=0),
        pair_mito=pm,
        pair_cell=pc,
        pair_voxels=pv,
    )


def largest_overlap(stats: ChunkStats) -> np.ndarray:
    """Each mitochondrion's cell: the nonzero cell it overlaps most, the smallest id on a tie.

    Parameters
    ----------
    stats : ChunkStats
        n mitochondria; the decision uses the exact voxel counts ``pair_voxels``.

    Returns
    -------
    ndarray, shape (n,), int64
        Cell id, 0 where the mitochondrion overlaps no nonzero cell.
    """
    out = np.zeros(stats.n, np.int64)
    if stats.pair_mito.size == 0:
        return out
    order = np.lexsort((stats.pair_cell, -stats.pair_voxels, stats.pair_mito))
    m, c = stats.pair_mito[order], stats.pair_cell[order]
    first = _starts(m)
    out[np.searchsorted(stats.mito_id, m[first])] = c[first]
    return out


def release_units(voxel_nm: Sequence[float]) -> tuple[np.ndarray, float, float]:
    """The one place where the volume's voxels become the release's units.

    Parameters
    ----------
    voxel_nm : (float, float, float)
        The volume's voxel size, nm (e.g. 16, 16, 40).

    Returns
    -------
    position : ndarray, shape (3,)
        Release voxels (3.58 x 3.58 x 40 nm, :data:`EM_VOXEL_NM`) per volume voxel, per axis:
        index ``i`` of the volume is at ``i * position`` release voxels (voxel corners coincide
        at index 0, as a cloud-volume mip pyramid's do).
    volume : float
        ``mito_vx`` per volume voxel: the ratio of the voxel volumes.
    overlap : float
        Overlap ``vals`` (mip-1 voxels, 7.16 x 7.16 x 40 nm) per volume voxel: ``volume / 4``.
    """
    position = np.asarray(voxel_nm, np.float64) / np.asarray(EM_VOXEL_NM, np.float64)
    if position.shape != (3,) or not (np.isfinite(position).all() and (position > 0).all()):
        raise ValueError(f"voxel size {tuple(voxel_nm)} nm must be three positive numbers")
    volume = float(np.prod(position))
    return position, volume, volume / OVERLAP_TO_MITO_VX


def release_tables(stats: ChunkStats, voxel_nm: Sequence[float] = EM_VOXEL_NM) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The release's mitochondria table and overlap table from merged statistics.

    Units are converted by :func:`release_units` only: ``mito_vx = rint(voxels * volume)``
    (a voxel count at 3.58 x 3.58 x 40 nm; a mitochondrion of a volume finer than that may
    round to 0, which the release parser drops); positions in release voxels; ``vals =
    rint(overlap voxels * volume / 4)`` (mip-1 voxels, as published; ``read_overlaps``
    multiplies by 4). ``cellid`` is decided on the exact voxel counts, before rounding.

    Parameters
    ----------
    stats : ChunkStats
        Merged statistics of the whole volume, n mitochondria, p overlap pairs.
    voxel_nm : (float, float, float)
        The volume's voxel size, nm; default the release's own voxels.

    Returns
    -------
    mitos : DataFrame, n rows
        :data:`MITO_RELEASE_COLUMNS`, by ``mito_id``: ``ctr_pos_*_vx`` the release voxel that
        holds the centroid of its voxels' centres, the lower one on a boundary (at the release's
        own resolution: the mean voxel index rounded half down; at mip 1, voxel i -> 2i); ``bbox_beg_*_vx`` / ``bbox_end_*_vx``
        the covering box ``[beg, end)`` of release voxels (``floor(lo * s)``, ``ceil(hi * s)``);
        ``cellid`` by :func:`largest_overlap`; ``ctr_pos_*_nm = ctr_pos_*_vx * (3.58, 3.58,
        40)`` rounded to 0.01 nm. Ids and counts int64.
    overlaps : DataFrame, p rows
        ``row_id`` (mitochondrion), ``col_id`` (nonzero cell), ``vals`` (int64), sorted. Write it
        with its index (``to_csv(path)``): the release's first column is an unnamed index.
    """
    position, volume, overlap = release_units(voxel_nm)
    # the centroid of the voxels' centres lies at (mean index + 0.5) volume voxels: the release
    # voxel that holds it, the lower one on a boundary (a mip-1 voxel i -> 2i, as published)
    mean = stats.coord_sum / np.maximum(stats.voxels, 1)[:, None]
    ctr = np.floor((mean + 0.5) * position - _EPS).astype(np.int64)
    beg = np.floor(stats.bbox_lo * position + _EPS).astype(np.int64)
    end = np.ceil(stats.bbox_hi * position - _EPS).astype(np.int64)
    cols: dict[str, np.ndarray] = {"mito_id": stats.mito_id, "mito_vx": np.rint(stats.voxels * volume).astype(np.int64)}
    for name, arr in (("ctr_pos", ctr), ("bbox_beg", beg), ("bbox_end", end)):
        cols.update({f"{name}_{a}_vx": arr[:, k] for k, a in enumerate(_XYZ)})
    cols["cellid"] = largest_overlap(stats)
    nm = np.round(vx_to_nm(ctr), 2)
    cols.update({f"ctr_pos_{a}_nm": nm[:, k] for k, a in enumerate(_XYZ)})
    mitos = pd.DataFrame(cols, columns=list(MITO_RELEASE_COLUMNS))
    vals = np.rint(stats.pair_voxels * overlap).astype(np.int64)
    overlaps = pd.DataFrame({"row_id": stats.pair_mito, "col_id": stats.pair_cell, "vals": vals})
    return mitos, overlaps
