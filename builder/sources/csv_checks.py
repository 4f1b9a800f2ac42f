"""Reading the published CSV tables defensively: every problem names the file, line or column.

A missing file or column, a column without numbers, or an id column written in floating point
is an :class:`InputFileError`; a bad row (blank, non-integer or out-of-range id, NaN or
non-finite value, incomplete last line of a truncated file, duplicated id) is dropped or
repaired and returned as a :class:`SourceIssue` with its line in the file.

Ids are read as text and parsed to int64 exactly: never through float, whose 53-bit mantissa
rounds MICrONS root ids (about 6.5e17-9.9e17) to multiples of 128.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder.errors import InputFileError
from builder.sources.base import SourceIssue

#: Data rows start on line 2 of a table with a header line (``line = index + LINE_OFFSET``).
LINE_OFFSET = 2
_INT = r"[+-]?\d+"
_FLOAT = r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?"
_INT64_MAX = str(np.iinfo(np.int64).max)
#: Integers above this are not all representable in float64: a float-written id may be rounded.
_FLOAT_EXACT = 2**53


def line_of(df: pd.DataFrame, pos: int | np.integer) -> int:
    """Line in the file of the row at position ``pos`` of a frame read with :func:`read_csv_checked`."""
    return int(df.index[pos]) + LINE_OFFSET


def read_csv_checked(path: Path, required: tuple[str, ...], ids: tuple[str, ...] = (), **kw: Any) -> pd.DataFrame:
    """Read a published CSV table; ``ids`` columns are read as text (parse them with :func:`parse_ids`).

    Blank lines are kept as empty rows, so that the frame's index gives every row's line in the
    file (:func:`line_of`); an empty row is then reported like any other bad row. A table with a
    header and no rows is an :class:`InputFileError`.
    """
    if not path.is_file():
        raise InputFileError(path, "file not found", "Put the published file there or rerun the download")
    try:
        df = pd.read_csv(path, dtype={c: str for c in ids}, skip_blank_lines=False, **kw)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not a readable CSV ({exc})", "Re-download the file") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputFileError(
            path,
            f"missing column(s) {missing}; found {list(df.columns)[:20]}",
            "Is this the right file? Re-download it",
        )
    if df.dropna(how="all").empty:
        raise InputFileError(path, "the table has a header but no rows", "Re-download the file")
    return df


def parse_ids(df: pd.DataFrame, column: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse the text column ``column`` of ``df`` into exact int64 ids.

    Parameters
    ----------
    df : DataFrame
        Read by :func:`read_csv_checked` with ``column`` among its ``ids``.
    column : str
    path : Path
        The file (for messages).

    Returns
    -------
    ids : ndarray, shape (n,), int64
        The ids; 0 where the row is bad.
    reasons : ndarray, shape (n,), object
        ``None`` for a good row, else why the id is unusable (blank, not an integer, out of the
        int64 range).

    Raises
    ------
    InputFileError
        The column holds no integer at all, or was written in floating point with values of
        2**53 or more (their digits are lost: refuse, never round).
    """
    raw = df[column]
    text = raw.astype("string").str.strip().fillna("")
    is_int = text.str.fullmatch(_INT).to_numpy(bool)
    digits = text.str.lstrip("+-").str.lstrip("0")
    wide = (digits.str.len() > len(_INT64_MAX)) | ((digits.str.len() == len(_INT64_MAX)) & (digits > _INT64_MAX))
    in_range = is_int & ~wide.to_numpy(bool)
    is_float = text.str.fullmatch(_FLOAT).to_numpy(bool) & ~is_int
    values = np.zeros(len(df), np.int64)
    if in_range.any():
        values[in_range] = pd.to_numeric(text[in_range]).to_numpy(np.int64)
    reasons = np.full(len(df), None, dtype=object)
    reasons[(text == "").to_numpy(bool)] = f"blank {column}"
    reasons[is_int & ~in_range] = f"{column} outside the int64 range"
    if is_float.any():
        as_float = pd.to_numeric(text[is_float]).to_numpy(np.float64)
        _refuse_rounded(df, column, path, text, is_float, as_float)
        # "5.0" or "5e3" is an integer; "123.00000000000000001" is not, though float64 rounds it to 123
        whole_text = ~text[is_float].str.fullmatch(r"[+-]?\d*\.\d*[1-9]\d*(?:[eE].*)?").to_numpy(bool)
        exact = np.isfinite(as_float) & (as_float == np.round(as_float)) & whole_text
        idx = np.flatnonzero(is_float)
        values[idx[exact]] = as_float[exact].astype(np.int64)
        reasons[idx[~exact]] = f"{column} is not an integer"
    other = ~is_int & ~is_float & (text != "").to_numpy(bool)
    reasons[other] = [f"{column} is not an integer ({v[:40]!r})" for v in text[other]]
    filled = (text != "").to_numpy(bool)
    if filled.any() and all(r is not None for r in reasons[filled]):
        first = int(np.flatnonzero(filled)[0])
        raise InputFileError(
            path, f"column '{column}' holds no integer ids (e.g. {text.iloc[first][:40]!r} on line {line_of(df, first)})",
            "Is this the right file? Re-download it",
        )  # fmt: skip
    return values, reasons


def _refuse_rounded(
    df: pd.DataFrame, column: str, path: Path, text: pd.Series, is_float: np.ndarray, as_float: np.ndarray
) -> None:
    """Raise when a float-written id is too large for float64 to have kept its digits."""
    big = np.flatnonzero(np.abs(as_float) >= _FLOAT_EXACT)
    if len(big):
        pos = int(np.flatnonzero(is_float)[big[0]])
        raise InputFileError(
            path, f"column '{column}' holds ids written in floating point (e.g. {text.iloc[pos]!r} on line "
            f"{line_of(df, pos)}): ids of 2**53 or more lose their last digits in floating point, so these ids "
            "cannot be trusted", "Export the table again with integer ids (in pandas: read the column as Int64 or "
            "str, never float), or re-download the published file",
        )  # fmt: skip


def drop_bad_ids(
    df: pd.DataFrame, cols: list[str], id_col: str, kind: str, path: Path, issues: list[SourceIssue]
) -> pd.DataFrame:
    """Parse the id columns ``cols`` exactly to int64; drop and report the rows with a bad id.

    Each dropped row is reported with its line, the id of ``id_col`` (-1 when that one is bad)
    and the reason; every other row keeps its exact ids.
    """
    out = df.copy()
    bad = np.zeros(len(df), bool)
    why: list[np.ndarray] = []
    for c in cols:
        values, reasons = parse_ids(df, c, path)
        out[c] = values
        why.append(reasons)
        bad |= reasons != None  # noqa: E711 - elementwise on an object array
    if bad.any():
        ids = out[id_col].to_numpy(np.int64)
        id_ok = why[cols.index(id_col)] == None  # noqa: E711
        for pos in np.flatnonzero(bad):
            reason = "; ".join(str(r[pos]) for r in why if r[pos] is not None)
            blank_line = df.iloc[pos].isna().all()
            issues.append(
                SourceIssue(
                    kind, int(ids[pos]) if id_ok[pos] else -1,
                    "blank line" if blank_line else f"line {line_of(df, pos)}: {reason}", path.name,
                    dropped=not blank_line, line=line_of(df, pos),
                )
            )  # fmt: skip
    return out.loc[~bad]


def drop_implausible_counts(
    df: pd.DataFrame, col: str, id_col: str, kind: str, path: Path, issues: list[SourceIssue]
) -> pd.DataFrame:
    """Drop and report rows whose voxel count ``col`` is zero, negative or not a whole number:
    a mitochondrion has a positive volume, so such a row is never kept."""
    v = df[col].to_numpy(np.float64)
    bad = (v <= 0) | (v != np.round(v))
    for pos in np.flatnonzero(bad):
        line = line_of(df, pos)
        what = "is not positive" if v[pos] <= 0 else "is not a whole number of voxels"
        issues.append(SourceIssue(kind, int(df[id_col].iloc[pos]), f"line {line}: {col} {v[pos]:g} {what}", path.name, line=line))
    return df.loc[~bad]


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


def drop_truncated_tail(
    df: pd.DataFrame, path: Path, kind: str, id_col: str, issues: list[SourceIssue], ids: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Drop an incomplete last row (a truncated file) and report it; warn about a missing final
    newline, and drop that last row too when its last field is an id (``ids``): a cut id
    (``86469113546``) looks like a whole one."""
    if df.empty:
        return df
    header, last, ends = _last_line(path)
    rid = pd.to_numeric(pd.Series([df[id_col].iloc[-1]]), errors="coerce").iloc[0]
    rid = int(rid) if pd.notna(rid) and abs(rid) < _FLOAT_EXACT else -1
    line = line_of(df, len(df) - 1)
    if last.count(b",") < header.count(b","):
        issues.append(
            SourceIssue(
                kind, rid, f"line {line}: incomplete last line (file truncated?); re-download {path.name}", path.name,
                line=line,
            )
        )  # fmt: skip
        return df.iloc[:-1]
    if not ends and df.columns[-1] in ids:
        issues.append(
            SourceIssue(
                kind, rid, f"line {line}: {path.name} does not end with a newline (truncated?) and its last field, "
                f"{df.columns[-1]}, is an id that may be cut: the row was left out; re-download the file", path.name, line=line,
            )
        )  # fmt: skip
        return df.iloc[:-1]
    if not ends:
        issues.append(
            SourceIssue(
                kind, rid, f"{path.name} does not end with a newline (truncated?); its last row (line {line}) "
                "was kept: check it or re-download the file", path.name, dropped=False,
            )
        )  # fmt: skip
    return df


def coerce_numeric(df: pd.DataFrame, cols: list[str], path: Path) -> pd.DataFrame:
    """Coerce ``cols`` (measures, not ids) to numbers; a column that holds none is a file error."""
    out = df.copy()
    for c in cols:
        conv = pd.to_numeric(out[c], errors="coerce")
        if len(out) and conv.isna().all() and out[c].notna().any():
            raise InputFileError(path, f"column '{c}' holds no numbers (e.g. {out[c].dropna().iloc[0]!r})")
        out[c] = conv
    return out


def drop_bad_rows(
    df: pd.DataFrame, cols: list[str], id_col: str, kind: str, path: Path, issues: list[SourceIssue]
) -> pd.DataFrame:
    """Drop rows with a missing / non-finite value in the measure columns ``cols``; report them
    with their line and the id of ``id_col`` (already parsed by :func:`drop_bad_ids`)."""
    vals = df[cols].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(vals).all(axis=1)
    for row in np.flatnonzero(bad):
        which = [c for c, ok in zip(cols, np.isfinite(vals[row])) if not ok]
        line = line_of(df, row)
        issues.append(
            SourceIssue(kind, int(df[id_col].iloc[row]), f"line {line}: missing or non-finite {which}", path.name, line=line)
        )
    return df.loc[~bad]


def drop_duplicates(
    df: pd.DataFrame,
    id_col: str,
    kind: str,
    path: Path,
    issues: list[SourceIssue],
    harmless: np.ndarray | None = None,
) -> pd.DataFrame:
    """Keep the first row of each ``id_col``; report the others.

    A row that repeats the first exactly loses nothing (``dropped`` False); one that holds other
    values is a loss (``dropped`` True), unless ``harmless`` (bool, one per row of ``df``) says
    its id is never built, so that no value of it reaches the dataset.
    """
    dup = df[id_col].duplicated(keep="first").to_numpy()
    if not dup.any():
        return df
    first = df.loc[~dup].drop_duplicates(id_col).set_index(id_col)
    for pos in np.flatnonzero(dup):
        line, rid = line_of(df, pos), df[id_col].iloc[pos]
        same = df.iloc[pos].drop(id_col).equals(first.loc[rid])
        unused = harmless is not None and bool(harmless[pos])
        what = "repeats the first row" if same else "holds other values than the first row, which was kept"
        if unused and not same:
            what += f"; no row of this {id_col} is built, so nothing is lost"
        issues.append(
            SourceIssue(
                kind, int(rid), f"line {line}: duplicated {id_col} in {path.name}: {what}", path.name,
                dropped=not (same or unused), line=line,
            )
        )  # fmt: skip
    return df.loc[~dup]


def parse_position_strings(s: pd.Series, path: Path, column: str) -> np.ndarray:
    """Parse ``"[x y z]"`` strings (numpy-printed voxel positions) into an (n, 3) float array.

    Unparsable entries become NaN rows.
    """
    parts = s.astype(str).str.strip().str.strip("[]").str.split(expand=True)
    if parts.shape[1] < 3:
        raise InputFileError(path, f"column '{column}' is not of the form '[x y z]'")
    return parts.iloc[:, :3].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
