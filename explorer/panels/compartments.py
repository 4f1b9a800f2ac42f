"""The compartments view: volume and complexity index per compartment, with the published
Mann-Whitney tests and the ratio of medians over a cluster bootstrap of the cells, for the
cells of a scope (:mod:`explorer.scope`; by default the published one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dash import Dash, Input, Output, dcc, html, no_update

from builder.compute.statistics import COMPARTMENT_ORDER, analysis_mitochondria, compartment_tests
from builder.compute.uncertainty import DEFAULT_BOOTSTRAP, compartment_intervals
from explorer import ids, scope
from explorer.data import ExplorerData
from explorer.figures.compartments import compartment_figure
from explorer.figures.message import message_figure
from explorer.inputs import as_opt_str, as_records, as_str

GRAPH, SCOPE, TESTS = "graph-comp", "comp-scope", "comp-tests"
GRAPHS: tuple[str, ...] = (GRAPH,)
TAB = "compartments"


def compartment_tests_rows(mitos: pd.DataFrame) -> list[dict]:
    """One-sided Mann-Whitney U tests between consecutive compartments, as ``analyze`` reports
    them (mitochondria with a vote of their mesh vertices), with the ratio of the medians and its
    95 % interval over a cluster bootstrap of the cells, as rows for a small table. With fewer
    cells than the bootstrap needs, no p value is given (so few cells' mitochondria are not
    independent)."""
    m = analysis_mitochondria(mitos)
    t = compartment_tests(m)
    _, ratios = compartment_intervals(m, COMPARTMENT_ORDER, DEFAULT_BOOTSTRAP)
    t = t.merge(ratios, on=["measure", "a", "b"], how="left")
    few = m["cellid"].nunique() < DEFAULT_BOOTSTRAP.min_cells
    col = {"volume": "volume_um3", "complexity index": "complexityindex"}
    med = {(k, c): m.loc[m["compartment"] == c, v].median() for k, v in col.items() for c in COMPARTMENT_ORDER}
    rows = []
    for r in t.itertuples(index=False):
        point = med[(r.measure, r.b)] / med[(r.measure, r.a)]
        ratio = f"{point:.2f} [{r.ratio_lo:.2f}, {r.ratio_hi:.2f}]" if np.isfinite(r.ratio_lo) else f"{point:.2f} (too few cells)"
        rows.append({"measure": r.measure, "test": r.alternative, "U": f"{r.U:.4g}",
                     "p": "not shown: too few cells" if few else f"{r.p:.3g}", "n": f"{r.n_a} / {r.n_b}",
                     "ratio of medians [95 % over cells]": ratio})  # fmt: skip
    return rows


def tests_table(rows: list[dict]) -> list:
    """The Mann-Whitney rows as a small HTML table (nothing when no pair has both compartments)."""
    if not rows:
        return []
    head = html.Tr([html.Th(k) for k in rows[0]])
    body = [html.Tr([html.Td(v) for v in r.values()]) for r in rows]
    note = html.P("One-sided Mann-Whitney U (scipy.stats.mannwhitneyu, alternative 'less'), as the published "
                  "compartment comparison, which takes mitochondria as independent; mitochondria whose compartment came "
                  f"from their mesh vertices. The {DEFAULT_BOOTSTRAP.level:.0%} interval resamples whole cells "
                  f"({DEFAULT_BOOTSTRAP.n_boot} times), so it holds when cells differ.",
                  className="hint")  # fmt: skip
    return [html.Table([head, *body], className="kv tests"), note]


def compartments_view(data: ExplorerData, cell: str | None, which: str, rows: list[dict] | None) -> tuple:
    """Per-compartment distributions and the published tests for the cells of the scope ``which``."""
    cells = scope.resolve(data, which, cell, rows)
    if not len(cells.ids):
        return message_figure(cells.why_empty), []
    mitos = data.mitos[data.mitos["cellid"].isin(cells.ids)]
    if not len(mitos):
        return message_figure(f"No mitochondria in {cells.label}: pick another cell or scope."), []
    title = f"{cells.label}: {len(mitos):,} mitochondria"
    return data.memo("compartments", cells.ids, (title,), lambda: (compartment_figure(mitos, title),
                                                                   tests_table(compartment_tests_rows(mitos))))  # fmt: skip


def layout(data: ExplorerData) -> html.Div:
    return html.Div(
        [
            dcc.RadioItems(
                id=SCOPE,
                options=[{"label": v, "value": k} for k, v in scope.SCOPES.items()],
                value=scope.DEFAULT,
                inline=True,
                className="controls",
            ),  # fmt: skip
            dcc.Graph(id=GRAPH, style={"height": "470px"}, config={"displaylogo": False}),
            html.Div(id=TESTS, className="comp-tests"),
        ]
    )


def register(app: Dash, data: ExplorerData) -> None:
    @app.callback(
        Output(GRAPH, "figure"), Output(TESTS, "children"), Input(ids.CELL, "data"), Input(SCOPE, "value"),
        Input(ids.TABLE, "virtualRowData"), Input(ids.TABS, "value"),
    )  # fmt: skip
    def _comp(cell, which, rows, tab):
        if tab != TAB:  # drawn when its tab is shown: start-up serves the scatter first
            return no_update, no_update
        return compartments_view(data, as_opt_str(cell, 40), as_str(which), as_records(rows))
