"""Reading the published CSV tables defensively: every problem names the file, row or column.

A missing file or column, or a column without numbers, is an :class:`InputFileError`; a bad
row (NaN or non-finite value, unparsable value, incomplete last line of a truncated file,
duplicated id) is dropped or repaired and returned as a :class:`SourceIssue`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from builder.errors import InputFileError
from builder.sources.base import SourceIssue


def read_csv_checked(path: Path, required: tuple[str, ...], **kw) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError(path, "file not found", "Put the published file there or rerun the download")
    try:
        df = pd.read_csv(path, **kw)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not a readable CSV ({exc})", "Re-download the file") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputFileError(
            path,
            f"missing column(s) {missing}; found {list(df.columns)[:20]}",
            "Is this the right file? Re-download it",
        )
    return df


def _last_line(path: Path, size: int = 1 << 16) -> tuple[bytes, bytes, bool]:
    """Header line, last line, and whether the file ends with a newline."""
    with open(path, "rb") as fh:
        header = fh.readline()
        fh.seek(0, 2)
        end = fh.tell()
        fh.seek(max(0, end - size))
        tail = fh.read()
    ends = tail.endswith(b"\n")
    lines = tail.rstrip(b"\r\n").rsplit(b"\n", 1)
    return header, lines[-1], ends


def drop_truncated_tail(df: pd.DataFrame, path: Path, kind: str, id_col: str, issues: list[SourceIssue]) -> pd.DataFrame:
    """Drop an incomplete last row (a truncated file) and report it; warn about a missing final newline."""
    if df.empty:
        return df
    header, last, ends = _last_line(path)
    rid = pd.to_numeric(pd.Series([df[id_col].iloc[-1]]), errors="coerce").iloc[0]
    rid = int(rid) if pd.notna(rid) else -1
    if last.count(b",") < header.count(b","):
        issues.append(
            SourceIssue(
                kind, rid, f"row {len(df) + 1}: incomplete last line (file truncated?); re-download {path.name}", path.name
            )
        )
        return df.iloc[:-1]
    if not ends:
        issues.append(
            SourceIssue(
                kind, rid, f"{path.name} does not end with a newline (truncated?); its last row (row {len(df) + 1}) "
                "was kept: check it or re-download the file", path.name, dropped=False,
            )
        )  # fmt: skip
    return df


def coerce_numeric(df: pd.DataFrame, cols: list[str], path: Path) -> pd.DataFrame:
    """Coerce ``cols`` to numbers; a column that is mostly non-numeric is a file error."""
    out = df.copy()
    for c in cols:
        conv = pd.to_numeric(out[c], errors="coerce")
        if len(out) and conv.isna().all() and out[c].notna().any():
            raise InputFileError(path, f"column '{c}' holds no numbers (e.g. {out[c].iloc[0]!r})")
        out[c] = conv
    return out


def drop_bad_rows(
    df: pd.DataFrame, cols: list[str], id_col: str, kind: str, path: Path, issues: list[SourceIssue]
) -> pd.DataFrame:
    """Drop rows with a missing / non-finite value in ``cols`` and report them by id."""
    vals = df[cols].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(vals).all(axis=1)
    for row in np.flatnonzero(bad):
        which = [c for c, ok in zip(cols, np.isfinite(vals[row])) if not ok]
        rid = df[id_col].iloc[row]
        issues.append(
            SourceIssue(kind, int(rid) if pd.notna(rid) else -1, f"row {row + 2}: missing or non-finite {which}", path.name)
        )
    return df.loc[~bad]


def drop_duplicates(df: pd.DataFrame, id_col: str, kind: str, path: Path, issues: list[SourceIssue]) -> pd.DataFrame:
    dup = df[id_col].duplicated(keep="first").to_numpy()
    for rid in df.loc[dup, id_col].unique():
        issues.append(
            SourceIssue(kind, int(rid), f"duplicated {id_col} in {path.name}; kept the first row", path.name, dropped=False)
        )
    return df.loc[~dup]


def parse_position_strings(s: pd.Series, path: Path, column: str) -> np.ndarray:
    """Parse ``"[x y z]"`` strings (numpy-printed voxel positions) into an (n, 3) float array.

    Unparsable entries become NaN rows.
    """
    parts = s.astype(str).str.strip().str.strip("[]").str.split(expand=True)
    if parts.shape[1] < 3:
        raise InputFileError(path, f"column '{column}' is not of the form '[x y z]'")
    return parts.iloc[:, :3].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
