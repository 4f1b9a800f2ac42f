"""Reading the tables a VOLUME.toml names (somata, synapses, mitochondria) row by row, defensively.

:meth:`builder.sources.volume_tables.TableSpec.read` refuses a whole table for one bad id; the
build instead sets such a row aside as a :class:`~builder.sources.base.SourceIssue` with the
file, its line and the reason, as the published tables' parsers do
(:mod:`builder.sources.csv_checks`), and goes on with the others. Ids are read as text and
parsed exactly to int64 (never through float): CSV columns as they are written, Parquet integer
columns through an exact cast to text. A Parquet table has no lines: its rows are numbered as
the lines of the same table written as CSV (the header is line 1, row 0 is line 2).

Positions are converted to nm by the table's :class:`~builder.sources.volume_tables.Positions`
(the one conversion).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from builder.schema import CELL_TYPES, EM_VOXEL_NM
from builder.sources.base import SourceIssue
from builder.sources.csv_checks import (
    coerce_numeric,
    drop_bad_ids,
    drop_bad_rows,
    drop_duplicates,
    drop_implausible_counts,
    drop_truncated_tail,
    line_of,
    read_csv_checked,
)
from builder.sources.release_tables import built_types
from builder.sources.volume_tables import ID_COLUMNS, TableSpec, is_csv

_XYZ = ["x", "y", "z"]


def _raw_frame(spec: TableSpec, kind: str, id_key: str, issues: list[SourceIssue]) -> pd.DataFrame:
    """The mapped columns under the project's names, ids as text, index = row number (line - 2)."""
    src = list(spec.columns.values())
    ids = [c for k, c in spec.columns.items() if k in ID_COLUMNS]
    if is_csv(spec.path):
        df = read_csv_checked(spec.path, tuple(src), ids=tuple(ids), usecols=lambda c: c in src)
        df = drop_truncated_tail(df, spec.path, kind, spec.columns[id_key], issues, ids=tuple(ids))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(spec.path, columns=sorted(set(src)))
        for c in ids:  # exact: int64 / uint64 -> decimal text, nulls stay null
            table = table.set_column(table.schema.get_field_index(c), c, table.column(c).cast(pa.string()))
        df = table.to_pandas()
    return pd.DataFrame({k: df[c] for k, c in spec.columns.items()}, index=df.index)


def read_volume_table(
    spec: TableSpec, kind: str, id_key: str, issues: list[SourceIssue], counts: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A table of a VOLUME.toml with the project's column names; bad rows set aside.

    Parameters
    ----------
    spec : TableSpec
        The table, its column mapping (project name -> the file's column) and positions' unit.
    kind : str
        ``"cell"``, ``"synapse"`` or ``"mitochondrion"`` (for the issues).
    id_key : str
        The project column that identifies a row (``cell_id``, ``synapse_id``, ``mito_id``).
    issues : list of SourceIssue
        Appended: rows with a blank, non-integer or out-of-range id, missing or non-finite
        positions or ``counts``, and repeated ``id_key`` (the first row is kept).
    counts : tuple of str
        Numeric columns other than positions that must be finite (e.g. ``size``).

    Returns
    -------
    DataFrame
        The mapped columns; ids int64, ``x, y, z`` float64 nm; the index is the row number in
        the file (line - 2).
    """
    df = _raw_frame(spec, kind, id_key, issues)
    id_cols = [k for k in spec.columns if k in ID_COLUMNS]
    df = drop_bad_ids(df, id_cols, id_key, kind, spec.path, issues)
    df = coerce_numeric(df, [*_XYZ, *counts], spec.path)
    df = drop_bad_rows(df, [*_XYZ, *counts], id_key, kind, spec.path, issues)
    df[_XYZ] = spec.positions.to_nm(df[_XYZ].to_numpy(np.float64))
    for k in id_cols:
        df[k] = df[k].astype(np.int64)
    return drop_duplicates(df, id_key, kind, spec.path, issues)


def read_somata(spec: TableSpec, build: tuple[int, ...] | None, issues: list[SourceIssue]) -> tuple[pd.DataFrame, str]:
    """The cells to build: ``cell_id, x, y, z`` (soma, nm), ``cell_type``, ``cell_subtype``.

    ``cell_type`` is read as the published classification is (:func:`built_types`: pyramidal,
    inhibitory, astrocyte or glia/astrocyte); a listed cell of another type, and a listed cell
    with no row, are set aside (dropped). Without a ``cell_type`` column every cell is built as
    pyramidal (the returned note says so). Returns the frame, sorted by ``cell_id``, and a note.
    """
    df = read_volume_table(spec, "cell", "cell_id", issues)
    note = "cell_type and cell_subtype from the soma table"
    if "cell_type" not in df:
        df["cell_type"], note = "pyramidal", f"no cell_type column in {spec.path.name}: every cell built as pyramidal"
    df["cell_type"] = df["cell_type"].astype(str)
    df["cell_subtype"] = df["cell_subtype"].fillna("").astype(str) if "cell_subtype" in df else ""
    if build is not None:
        df = _only_listed(df, build, spec, issues)
    keep, astro = built_types(df)
    for pos in np.flatnonzero(~keep.to_numpy()):
        line = line_of(df, pos)
        issues.append(SourceIssue("cell", int(df["cell_id"].iloc[pos]), f"line {line}: cell_type "
                                  f"{df['cell_type'].iloc[pos]!r} is not one of {', '.join(CELL_TYPES)}; not built",
                                  spec.path.name, line=line))  # fmt: skip
    df.loc[astro, "cell_type"] = "astrocyte"
    df = df.loc[keep].assign(cell_type=lambda d: d["cell_type"].str.lower())
    cols = ["cell_id", *_XYZ, "cell_type", "cell_subtype"]
    return df[cols].sort_values("cell_id", ignore_index=True), note


def _only_listed(df: pd.DataFrame, build: tuple[int, ...], spec: TableSpec, issues: list[SourceIssue]) -> pd.DataFrame:
    """The rows of the listed cells; a listed cell without a (usable) row is an issue."""
    want = np.asarray(build, np.int64)
    absent = np.setdiff1d(want, df["cell_id"].to_numpy(np.int64))
    for cid in absent:
        issues.append(SourceIssue("cell", int(cid), f"listed in cells.build but has no usable row in {spec.path.name}",
                                  spec.path.name))  # fmt: skip
    return df.loc[df["cell_id"].isin(want)]


def read_volume_synapses(spec: TableSpec, issues: list[SourceIssue]) -> pd.DataFrame:
    """``synapse_id, pre_root_id, post_root_id, x, y, z`` (nm), ``size`` (int64, 0 when not mapped);
    rows whose pre or post id is 0 or negative (no segment) are set aside."""
    has_size = "size" in spec.columns
    df = read_volume_table(spec, "synapse", "synapse_id", issues, counts=("size",) if has_size else ())
    no_seg = ((df["pre_root_id"] <= 0) | (df["post_root_id"] <= 0)).to_numpy()
    for pos in np.flatnonzero(no_seg):
        line = line_of(df, pos)
        issues.append(SourceIssue("synapse", int(df["synapse_id"].iloc[pos]),
                                  f"line {line}: root id 0 or negative (no segment) in {spec.path.name}", spec.path.name,
                                  line=line))  # fmt: skip
    df = df.loc[~no_seg]
    size = df["size"].to_numpy(np.float64) if has_size else np.zeros(len(df))
    df = df.assign(size=np.where(size < 0, 0, np.rint(size)).astype(np.int64))
    return df[["synapse_id", "pre_root_id", "post_root_id", *_XYZ, "size"]].reset_index(drop=True)


def read_volume_mito_table(spec: TableSpec, issues: list[SourceIssue]) -> pd.DataFrame:
    """An existing mitochondria table -> ``mito_id, cellid, mito_vx, x, y, z`` (nm).

    ``mito_vx`` (a voxel count at the table's ``position_resolution_nm``) is converted to
    3.58 x 3.58 x 40 nm voxels (the dataset's unit) by the ratio of the voxel volumes and
    rounded; a count that is not positive is set aside.

    Raises
    ------
    InputFileError
        The table maps no ``mito_vx``: volumes would be unknown.
    """
    from builder.errors import InputFileError

    if "mito_vx" not in spec.columns:
        raise InputFileError(spec.path, "mitochondria.table maps no mito_vx column: the mitochondria's volumes are unknown",
                             "Map mito_vx (with position_unit = 'voxels'), or give the mitochondria segmentation")  # fmt: skip
    df = read_volume_table(spec, "mitochondrion", "mito_id", issues, counts=("mito_vx",))
    res = spec.positions.resolution_nm or EM_VOXEL_NM
    ratio = float(np.prod(res) / np.prod(EM_VOXEL_NM))
    df = df.rename(columns={"cell_id": "cellid"}).assign(mito_vx=lambda d: np.rint(d["mito_vx"] * ratio))
    df = drop_implausible_counts(df, "mito_vx", "mito_id", "mitochondrion", spec.path, issues)
    return df.assign(mito_vx=df["mito_vx"].astype(np.int64))[["mito_id", "cellid", "mito_vx", *_XYZ]].reset_index(drop=True)
