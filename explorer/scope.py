"""Which cells a view shows: one resolver for every view, the same cells ``analyze`` takes.

Scopes are :class:`builder.analysis.Scope` (``python -m builder analyze --cell-type ...``): the
default is the published scope, pyramidal cells with their own compartment labels, so that a
view's numbers are analyze's. Each resolution says in words which cells it holds ("28 pyramidal
cells with their own labels"), and why it holds none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from builder.analysis import DEFAULT_SCOPE, Scope
from builder.errors import DatasetError
from explorer.data import ExplorerData, parse_id, parse_ids
from explorer.palette import FrozenDict

#: Scope value -> radio label, in the order the views offer them.
SCOPES: FrozenDict = FrozenDict(
    {
        "published": "pyramidal cells (published scope)",
        "type": "this cell's type",
        "cell": "this cell",
        "table": "cells in the table",
        "all": "all cells",
    }
)
DEFAULT = "published"
PICK_A_CELL = "Pick a cell in the table (this scope follows the current cell)."


@dataclass(frozen=True)
class ScopeCells:
    """The cells of a scope.

    Attributes
    ----------
    ids : ndarray of int64, sorted
    label : str
        The cells in words, for the view's title ("28 pyramidal cells with their own labels").
    published : bool
        The published scope (analyze prints the published values beside it).
    why_empty : str
        What to do when there is no cell.
    """

    ids: np.ndarray
    label: str
    published: bool = False
    why_empty: str = ""


def _none(why: str) -> ScopeCells:
    return ScopeCells(np.zeros(0, np.int64), "", False, why)


def resolve(data: ExplorerData, scope: str, cell: str | None, rows: list[dict] | None = None) -> ScopeCells:
    """The cells of ``scope`` (:data:`SCOPES`) for the current ``cell`` and the table's ``rows``."""
    cid = parse_id(cell)
    known = cid is not None and data.ds.has_cell(cid)
    if scope == "cell":
        return ScopeCells(np.array([cid], np.int64), f"cell {cid}") if known else _none(PICK_A_CELL)
    if scope == "table":
        ids = sorted({c for c in parse_ids([r.get("cell_id") for r in rows or []], limit=100_000) if data.ds.has_cell(c)})
        if not ids:
            return _none("No cells in the table: clear its filters.")
        return ScopeCells(np.array(ids, np.int64), f"{len(ids)} cells in the table")
    if scope == "type":
        if not known:
            return _none(PICK_A_CELL)
        s = Scope(cell_type=str(data.ds.cell(cid).cell_type))
    elif scope == "all":
        s = Scope(cell_type=None, labelled_only=False)
    else:
        s = DEFAULT_SCOPE
    try:
        ids = s.select(data.ds)
    except DatasetError as exc:
        return _none(str(exc).split(";")[0])
    return ScopeCells(ids, describe(s, len(ids)), published=s.published)


def describe(s: Scope, n: int) -> str:
    """``s``'s cells in words."""
    kind = f"{s.cell_type} cells" if s.cell_type else "cells"
    if s.subtype:
        kind = f"{s.subtype} {kind}"
    own = " with their own labels" if s.labelled_only and s.cell_type != "astrocyte" else ""
    return f"{n} {kind}{own}" + (" (the published scope)" if s.published else "")
