"""Recount, from the text of the raw tables, the rows a built dataset must hold.

An independent check of a build (``python -m builder validate``): the id columns are compared
as text with the dataset's cell ids, without the parsers the build used, so that a parsing
mistake (an id rounded through float, a column shifted) shows as a difference in counts
instead of passing unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from builder.sources.csv_checks import LINE_OFFSET
from builder.sources.published import MITO_TABLE, SYNAPSE_TABLE, file_fingerprint

#: The raw tables recounted, by the dataset table they feed.
RECOUNTED = {"mitochondria": MITO_TABLE, "synapses": SYNAPSE_TABLE}


@dataclass(frozen=True)
class RawInputs:
    """What the build report records of its raw tables (``build_report.json``, ``inputs``).

    Attributes
    ----------
    raw_dir : Path
    tables : dict
        Dataset table -> raw file name.
    fingerprint : str
        Name, size and modification time of the raw files at build time.
    """

    raw_dir: Path
    tables: dict
    fingerprint: str

    @classmethod
    def of(cls, raw_dir: Path) -> RawInputs:
        """The raw tables of ``raw_dir`` as they are now."""
        return cls(Path(raw_dir), dict(RECOUNTED), file_fingerprint([Path(raw_dir) / f for f in RECOUNTED.values()]))

    def as_dict(self) -> dict:
        return {"raw_dir": str(self.raw_dir.resolve()), "tables": self.tables, "fingerprint": self.fingerprint}


def _text_column(path: Path, columns: list[str]) -> pd.DataFrame:
    """The ``columns`` of a CSV as stripped text, indexed by line number."""
    df = pd.read_csv(path, usecols=columns, dtype=str, skip_blank_lines=False, keep_default_na=False)
    df.index = df.index + LINE_OFFSET
    return df.apply(lambda s: s.str.strip())


def expected_counts(inputs: RawInputs, cell_ids: np.ndarray, removed: dict[str, set[int]]) -> dict[str, pd.Series]:
    """Rows the dataset should hold per cell, counted from the raw text.

    Parameters
    ----------
    inputs : RawInputs
    cell_ids : ndarray, shape (c,), int64
        The dataset's cells.
    removed : dict
        Raw file name -> lines the build report lists as left out (dropped, duplicated, blank).

    Returns
    -------
    dict
        ``"mitochondria"`` and ``"synapses"`` -> Series indexed by cell id (int64): rows of the
        mitochondria table naming the cell, and (synapse, cell) rows (a synapse between two
        cells counts for both, an autapse once).
    """
    names = pd.Index([str(int(c)) for c in cell_ids])
    mito_file, syn_file = inputs.tables["mitochondria"], inputs.tables["synapses"]
    mito = _text_column(inputs.raw_dir / mito_file, ["cellid"])
    mito = mito.loc[~mito.index.isin(list(removed.get(mito_file, ())))]
    n_mito = mito["cellid"].value_counts().reindex(names, fill_value=0)
    syn = _text_column(inputs.raw_dir / syn_file, ["pre_root_id", "post_root_id"])
    syn = syn.loc[~syn.index.isin(list(removed.get(syn_file, ())))]
    pre = syn["pre_root_id"].value_counts().reindex(names, fill_value=0)
    post = syn.loc[syn["pre_root_id"] != syn["post_root_id"], "post_root_id"].value_counts().reindex(names, fill_value=0)
    as_ids = pd.Index(np.asarray(cell_ids, np.int64))
    return {"mitochondria": n_mito.set_axis(as_ids), "synapses": (pre + post).set_axis(as_ids)}


def removed_lines(issues: list[dict]) -> dict[str, set[int]]:
    """Raw file -> lines of rows the build left out, from the report's ``input_issues``."""
    out: dict[str, set[int]] = {}
    for i in issues:
        if i.get("line") is not None and i.get("file"):
            out.setdefault(i["file"], set()).add(int(i["line"]))
    return out


def recount_problems(report: dict, mito_per_cell: pd.Series, syn_per_cell: pd.Series) -> list[str]:
    """Differences between the dataset's rows per cell and the raw tables' (empty when they agree,
    or when the raw tables are not there or changed since the build: nothing to compare with)."""
    rec = report.get("inputs")
    if not isinstance(rec, dict) or not {"raw_dir", "tables", "fingerprint"} <= set(rec):
        return []
    raw_dir = Path(rec["raw_dir"])
    if not all((raw_dir / f).is_file() for f in rec["tables"].values()):
        return []
    inputs = RawInputs(raw_dir, dict(rec["tables"]), rec["fingerprint"])
    if RawInputs.of(raw_dir).fingerprint != inputs.fingerprint:
        return []
    cells = mito_per_cell.index.to_numpy(np.int64)
    expected = expected_counts(inputs, cells, removed_lines(report.get("input_issues", [])))
    probs = []
    for table, have in (("mitochondria", mito_per_cell), ("synapses", syn_per_cell)):
        want = expected[table]
        off = want.index[want.to_numpy() != have.reindex(want.index, fill_value=0).to_numpy()]
        if len(off):
            c = int(off[0])
            probs.append(
                f"{table}: {len(off)} cell(s) hold other rows than {raw_dir / inputs.tables[table]} names for them, "
                f"less the rows build_report.json sets aside (e.g. cell {c}: {int(have.get(c, 0))} in the dataset, "
                f"{int(want[c])} in the raw table); rebuild the dataset"
            )
    return probs
