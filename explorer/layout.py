"""The page: a shell that places the panels (:mod:`explorer.panels`) and holds the shared
stores (:mod:`explorer.ids`). Per-user state lives only in the URL and the stores."""

from __future__ import annotations

from dash import dcc, html

from explorer import ids
from explorer.data import ExplorerData
from explorer.panels import TABS, cells, view3d


def header(data: ExplorerData) -> html.Header:
    """Title, what the dataset is, and its counts."""
    if data.ds.synthetic:
        badge = html.Span("synthetic demo data", className="badge synthetic", title="built from the generated demo volume")
    elif data.ds.source_name == "phase1":
        badge = html.Span("MICrONS Phase 1", className="badge")
    else:
        volume = str(data.ds.manifest.get("parameters", {}).get("volume", ""))
        badge = html.Span("your volume", className="badge", title=f"built from {volume or 'a VOLUME.toml'}")
    counts = f"{len(data.ds.cells)} cells · {len(data.mitos):,} mitochondria · {len(data.ds.synapses):,} synapse rows"
    return html.Header([html.H1("L2/3 mitochondria explorer"), badge, html.Span(counts, className="counts")])


def shell(data: ExplorerData) -> html.Div:
    """The whole page: header, status line, cells and 3D side by side, the other views in tabs."""
    tabs = [dcc.Tab(label=name, value=value, children=panel.layout(data)) for value, (name, panel) in TABS.items()]
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Store(id=ids.CELL),
            dcc.Store(id=ids.SELECTION, data={"ids": [], "source": ""}),
            header(data),
            html.Div(id=ids.MESSAGE, className="message", role="status"),
            html.Div([cells.layout(data), view3d.layout(data)], className="top"),
            dcc.Tabs(id=ids.TABS, value="morphometrics", children=tabs),
        ],
        className="app",
    )
