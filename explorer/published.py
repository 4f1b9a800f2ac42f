"""The explorer's views of the published analysis: the same numbers as ``python -m builder
analyze`` for the scope on screen (the statistics are :mod:`builder.compute.statistics`; the
cells of a scope are chosen as :class:`builder.analysis.Scope` chooses them).

Pure functions of the app's :class:`ExplorerData` and plain browser values, as in
:mod:`explorer.callbacks`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from builder.analysis import Scope
from builder.compute.statistics import (
    SegmentFilter,
    analysis_mitochondria,
    compartment_tests,
    filter_segments,
    gradient_table,
    segment_regressions,
)
from builder.errors import DatasetError
from explorer.data import ExplorerData, parse_id, parse_ids
from explorer.figures.message import message_figure
from explorer.figures.segments import segment_gradient_figure, segment_regression_figure
from explorer.palette import FrozenDict

#: Bin measures of the gradients view -> the segment column the published statistic shows.
SEGMENT_MEASURE = FrozenDict(
    {
        "mito_volume_per_um": "mito_volume_per_um",
        "coverage_factor": "coverage_factor",
        "linear_mito_coverage": "linear_mito_coverage",
        "synapse_density_per_um": "synapse_density_per_um",
        "mean_radius_nm": "median_diameter_um",
        "mito_volume_um3": "mito_volume_um3",
        "path_length_um": "path_length_um",
    }
)


def scope_cells(data: ExplorerData, cell: str | None, scope: str, rows: list[dict] | None) -> tuple[np.ndarray, str]:
    """Cell ids and a title for a scope of the gradients view, chosen as ``analyze`` chooses
    them: ``type`` and ``all`` leave out neurons whose labels were inferred; ``cell`` and
    ``table`` are explicit cells. Empty ids when the scope has no cell."""
    cid = parse_id(cell)
    if scope == "cell":
        if cid is None or not data.ds.has_cell(cid):
            return np.zeros(0, np.int64), ""
        return np.array([cid]), f"cell {cid}"
    if scope == "table":
        ids = [c for c in parse_ids([r.get("cell_id") for r in rows or []], limit=100_000) if data.ds.has_cell(c)]
        return np.array(sorted(ids), np.int64), f"{len(ids)} cells in the table"
    if scope == "type":
        if cid is None or not data.ds.has_cell(cid):
            return np.zeros(0, np.int64), ""
        s = Scope(cell_type=str(data.ds.cell(cid).cell_type))
    else:
        s = Scope(cell_type=None)
    try:
        ids = s.select(data.ds)
    except DatasetError:
        return np.zeros(0, np.int64), ""
    return ids, f"{len(ids)} {s.cell_type or 'labelled'} cells (as analyze --cell-type {s.cell_type or 'all'})"


def published_gradients_view(
    data: ExplorerData, cell: str | None, quantity: str, scope: str, rows: list[dict] | None, comps: list[str]
) -> tuple:
    """Mean ± SD over the published segments per bin, and the segment-level regressions."""
    measure = SEGMENT_MEASURE.get(quantity)
    ids, title = scope_cells(data, cell, scope, rows)
    if measure is None or not len(ids):
        msg = ("Pick a cell in the table (this scope follows the current cell)." if scope in ("cell", "type")
               else "No cells here: clear the table's filters.")  # fmt: skip
        return message_figure(msg), message_figure(msg)
    segs = data.ds.segments
    segs = segs[segs["cell_id"].isin(ids)]
    keep = [c for c in comps if c in ("Basal", "Apical")] or ["Basal"]
    filtered = {c: filter_segments(segs, SegmentFilter(compartment=c)) for c in keep}
    tables = {c: gradient_table(f, [measure]) for c, f in filtered.items()}
    n = sum(len(f) for f in filtered.values())
    grad = segment_gradient_figure(tables, measure, f"{title}: mean ± SD over {n} segments (bins with > 10)")
    first = filtered[keep[0]]
    return grad, segment_regression_figure(first, segment_regressions(first), keep[0])


def compartment_tests_rows(mitos: pd.DataFrame) -> list[dict]:
    """One-sided Mann-Whitney U tests between consecutive compartments, as ``analyze`` reports
    them (mitochondria with a vote of their mesh vertices), as rows for a small table."""
    t = compartment_tests(analysis_mitochondria(mitos))
    return [
        {"measure": r.measure, "test": r.alternative, "U": f"{r.U:.4g}", "p": f"{r.p:.3g}", "n": f"{r.n_a} / {r.n_b}"}
        for r in t.itertuples(index=False)
    ]
