"""Parsers of the published Phase 1 tables (docs/formats.md, 'Published inputs').

Each parser checks columns and types, parses ids exactly (never through float) and converts
positions to nm. A missing file or column is an :class:`InputFileError` naming the file and
column; a bad row (blank or non-integer id, NaN coordinates, implausible value, duplicated id)
is dropped and returned as a :class:`SourceIssue` with its line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from builder.schema import BBOX_COLUMNS, NM_CHECK_TOLERANCE, OVERLAP_TO_MITO_VX, vx_to_nm
from builder.sources.base import SourceIssue
from builder.sources.csv_checks import (
    coerce_numeric,
    drop_bad_ids,
    drop_bad_rows,
    drop_duplicates,
    drop_implausible_counts,
    drop_truncated_tail,
    line_of,
    parse_position_strings,
    read_csv_checked,
)

_XYZ = ("x", "y", "z")


def read_soma_table(path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """``soma_valence_v185.csv`` -> one row per soma: ``soma_id, cell_id, valence, x, y, z`` (nm).

    The published ``soma_*_nm`` columns are wrong (x*4 repeated, z = 10x); positions are
    recomputed from ``pt_position`` (voxels at 3.58 x 3.58 x 40 nm). ``valence`` is the table's
    ``cell_type`` (``e``, ``i``, ``g`` or ``uncertain``). A root id may carry two somata (a merge
    in the segmentation); both rows are kept here, see :func:`one_soma_per_cell`.
    """
    df = read_csv_checked(path, ("id", "cell_type", "pt_position", "pt_root_id"), ids=("id", "pt_root_id"))
    df = drop_truncated_tail(df, path, "cell", "pt_root_id", issues, ids=("id", "pt_root_id"))
    df = drop_bad_ids(df, ["id", "pt_root_id"], "pt_root_id", "cell", path, issues)
    xyz = vx_to_nm(parse_position_strings(df["pt_position"], path, "pt_position"))
    out = pd.DataFrame({"soma_id": df["id"], "cell_id": df["pt_root_id"], "valence": df["cell_type"].astype(str)})
    out[list(_XYZ)] = xyz
    out = drop_bad_rows(out, list(_XYZ), "cell_id", "cell", path, issues)
    return out.reset_index(drop=True)


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
    df = read_csv_checked(path, ("cell_segid", "cell_type", "cell_subtype"), ids=("cell_segid",))
    df = drop_truncated_tail(df, path, "cell", "cell_segid", issues, ids=("cell_segid",))
    df = drop_bad_ids(df, ["cell_segid"], "cell_segid", "cell", path, issues)
    out = pd.DataFrame(
        {"cell_id": df["cell_segid"], "cell_type": df["cell_type"].astype(str), "cell_subtype": df["cell_subtype"].astype(str)}
    )
    # one segment may hold several somata (the release lists the vasculature's endothelial cells
    # and pericytes under one segment id): a conflict among rows of a type never built loses nothing
    built = out["cell_id"].isin(out.loc[built_types(out)[0], "cell_id"]).to_numpy()
    return drop_duplicates(out, "cell_id", "cell", path, issues, harmless=~built).reset_index(drop=True)


def built_types(types: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Rows of a cell-type table that the dataset builds.

    Parameters
    ----------
    types : DataFrame
        ``cell_type, cell_subtype`` (source vocabulary), n rows.

    Returns
    -------
    keep, astro : Series of bool, n each
        ``keep``: pyramidal, inhibitory or astrocyte; ``astro``: an astrocyte (``glia`` /
        ``astrocyte`` or ``astrocyte``).
    """
    t, st = types["cell_type"].str.lower(), types["cell_subtype"].str.lower()
    astro = (t == "glia") & (st == "astrocyte") | (t == "astrocyte")
    return t.isin(["pyramidal", "inhibitory"]) | astro, astro


def select_cells(somata: pd.DataFrame, types: pd.DataFrame) -> pd.DataFrame:
    """Cells with a soma that are pyramidal, inhibitory or astrocytes.

    Returns
    -------
    DataFrame
        ``cell_id, x, y, z`` (soma, nm), ``cell_type`` in {pyramidal, inhibitory, astrocyte},
        ``cell_subtype``; sorted by ``cell_id``.
    """
    m = somata.merge(types, on="cell_id", how="inner")
    keep, astro = built_types(m)
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
    ids = ("id", "pre_root_id", "post_root_id")
    df = read_csv_checked(path, cols, ids=ids, usecols=lambda c: c in cols)
    df = drop_truncated_tail(df, path, "synapse", "id", issues, ids=ids)
    df = drop_bad_ids(df, list(ids), "id", "synapse", path, issues)
    df = coerce_numeric(df, ["cleft_vx", *ctr], path)
    out = df.rename(columns={"id": "synapse_id", "cleft_vx": "size"})[["synapse_id", "pre_root_id", "post_root_id", "size"]]
    out[list(_XYZ)] = vx_to_nm(df[list(ctr)].to_numpy(np.float64))
    out = drop_bad_rows(out, list(_XYZ), "synapse_id", "synapse", path, issues)
    no_seg = ((out["pre_root_id"] <= 0) | (out["post_root_id"] <= 0)).to_numpy()
    for pos in np.flatnonzero(no_seg):
        line = line_of(out, pos)
        issues.append(SourceIssue("synapse", int(out["synapse_id"].iloc[pos]),
                                  f"line {line}: root id 0 or negative (no segment) in {path.name}", path.name, line=line))  # fmt: skip
    out = out.loc[~no_seg]
    out = _sizes(out, path, issues)
    out = drop_duplicates(out, "synapse_id", "synapse", path, issues)
    return out[["synapse_id", "pre_root_id", "post_root_id", *_XYZ, "size"]].reset_index(drop=True)


def _sizes(syn: pd.DataFrame, path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    """``size`` as int64; a blank or negative cleft size is kept as 0 and reported (never in silence)."""
    size = syn["size"].to_numpy(np.float64)
    bad = ~np.isfinite(size) | (size < 0)
    for pos in np.flatnonzero(bad):
        line = line_of(syn, pos)
        issues.append(SourceIssue("synapse", int(syn["synapse_id"].iloc[pos]), f"line {line}: cleft_vx "
                                  f"{size[pos]:g} is not a size; kept with size 0", path.name, dropped=False))  # fmt: skip
    return syn.assign(size=np.where(bad, 0, size).astype(np.int64))


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
    df = read_csv_checked(path, cols, ids=("mito_id", "cellid"))
    df = drop_truncated_tail(df, path, "mitochondrion", "mito_id", issues, ids=("mito_id", "cellid"))
    df = drop_bad_ids(df, ["mito_id", "cellid"], "mito_id", "mitochondrion", path, issues)
    has_bbox = all(c in df.columns for c in bbox)
    has_nm = all(c in df.columns for c in nm_cols)
    df = coerce_numeric(df, ["mito_vx", *ctr] + (bbox if has_bbox else []) + (nm_cols if has_nm else []), path)
    out = pd.DataFrame({"mito_id": df["mito_id"], "cellid": df["cellid"], "mito_vx": df["mito_vx"]})
    out[list(_XYZ)] = vx_to_nm(df[ctr].to_numpy(np.float64))
    out[list(BBOX_COLUMNS)] = vx_to_nm(df[bbox].to_numpy(np.float64)) if has_bbox else np.nan
    if has_nm:
        _check_nm_columns(out, df[nm_cols].to_numpy(np.float64), path, issues)
    out = drop_bad_rows(out, ["mito_vx", *_XYZ], "mito_id", "mitochondrion", path, issues)
    out = drop_implausible_counts(out, "mito_vx", "mito_id", "mitochondrion", path, issues)
    out["mito_vx"] = out["mito_vx"].astype(np.int64)
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
                "mitochondrion", int(out["mito_id"].iloc[row]),
                f"line {line_of(out, row)}: ctr_pos_*_nm {published_nm[row].tolist()} differ from ctr_pos_*_vx x (3.58, 3.58, 40) "
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
    df = read_csv_checked(path, tuple(OVERLAP_COLUMNS), ids=("row_id", "col_id"), usecols=list(OVERLAP_COLUMNS))
    df = drop_truncated_tail(
        df.rename(columns=OVERLAP_COLUMNS), path, "mitochondrion", "mito_id", issues, ids=("mito_id", "cellid")
    )
    df = drop_bad_ids(df, ["mito_id", "cellid"], "mito_id", "mitochondrion", path, issues)
    df = coerce_numeric(df, ["overlap_vx"], path)
    df = drop_bad_rows(df, ["overlap_vx"], "mito_id", "mitochondrion", path, issues)
    neg = df["overlap_vx"].to_numpy() < 0
    for pos in np.flatnonzero(neg):
        line = line_of(df, pos)
        issues.append(SourceIssue("mitochondrion", int(df["mito_id"].iloc[pos]),
                                  f"line {line}: negative overlap in {path.name}", path.name, line=line))  # fmt: skip
    df = df.loc[~neg].astype({"overlap_vx": np.int64})
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
