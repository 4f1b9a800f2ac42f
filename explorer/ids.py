"""The component ids that panels share: the stores they talk through, and the few components
of one panel that others read. Every other id is a panel's own (``explorer/panels``).

Panels never import each other; a value one panel makes and another uses travels through one of
these stores (in the browser, so the server keeps no per-user state).
"""

from __future__ import annotations

#: The address bar: ``?cell=<id>`` names the current cell.
URL = "url"
#: The current cell id, as a string (``None`` when none): written from the URL by the cells panel.
CELL = "cell-store"
#: The selected mitochondria ``{"ids": [str], "source": str, "total": int?}``: written by the
#: scatter, the 3D view, the dendrogram and the gradients; read by every view that highlights it.
SELECTION = "selection-store"
#: The one line of status at the top of the page (several panels write to it).
MESSAGE = "message"
#: The cells table (the cells panel's grid): its ``virtualRowData`` (the rows the filters leave)
#: is the "cells in the table" scope, its ``selectedRows`` the ticked cells of the 3D view.
TABLE = "cell-table"
#: The tabs of the lower views: a view draws when its tab is shown.
TABS = "tabs"
#: What the 3D view has drawn: its figure's ``uirevision`` (the cell id, ``cells:<id>,...`` for
#: several cells, "" for none), set in the browser once plotly has drawn it. What need not come
#: first (the scatter, the 3D view's own mitochondrion meshes) waits for it, so that a cell
#: opens with its 3D view drawn before anything else competes for the page's one thread.
DRAWN = "view3d-drawn"
