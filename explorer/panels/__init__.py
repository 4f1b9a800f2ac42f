"""One module per view of the explorer. Each owns its component ids, its layout fragment
(``layout(data)``), its pure view functions (tests call them directly) and its callbacks
(``register(app, data)``); panels never import each other and talk through the stores of
:mod:`explorer.ids`. :mod:`explorer.layout` places them on the page.
"""

from __future__ import annotations

from types import MappingProxyType

from explorer.panels import cells, compartments, dendrogram, gradients, scatter, selection, view3d

#: The lower views, tab value -> (tab label, panel), in the order of the tabs.
TABS = MappingProxyType(
    {
        "morphometrics": ("Morphometrics", scatter),
        "compartments": ("Compartments", compartments),
        "gradients": ("Gradients", gradients),
        "dendrogram": ("Dendrogram", dendrogram),
        "selection": ("Selection & neuroglancer", selection),
    }
)
PANELS = (cells, view3d, scatter, compartments, gradients, dendrogram, selection)
#: Every dcc.Graph of the page.
GRAPHS: tuple[str, ...] = tuple(g for p in PANELS for g in p.GRAPHS)
