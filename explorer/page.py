"""``ExplorerDash``: Dash, with the page's scripts as the explorer ships them.

Dash lists @babel/polyfill (core-js 2, about 100 kB) before React on every page, for browsers
that lack ES2015+. The explorer's page needs a current browser anyway (it imports its plotly.js
as ES modules, ``assets/plotly-explorer-loader.js``), in which the polyfill only tests and
replaces built-ins: that cost the page about 0.2 s of its one thread at start-up (software
WebGL, 2 cores; ``docs/performance.md``), before Dash asked the server for anything. The one
thing in it that Dash's own scripts use and no browser has is ``regeneratorRuntime`` (their
async functions, compiled by Babel), which ``assets/regenerator-runtime.min.js`` defines (the
npm package, built by ``tools/plotly-bundle/build.sh``; Dash lists the assets' scripts before
its renderer and components).
"""

from __future__ import annotations

import re

from dash import Dash

#: the polyfill's script tag, as Dash writes it (``dash/_dash_renderer.py``: ``deps/polyfill@…``)
POLYFILL_TAG = re.compile(r'<script src="[^"]*/deps/polyfill@[^"]*"></script>\s*')
#: the asset that stands in for it
RUNTIME_ASSET = "regenerator-runtime.min.js"


def without_polyfill(scripts: str) -> str:
    """The page's ``<script>`` tags (Dash's ``{%scripts%}``) without @babel/polyfill's.

    Raises
    ------
    RuntimeError
        If the tags do not list ``assets/regenerator-runtime.min.js``, which Dash's scripts need
        once the polyfill is out (the explorer's ``assets_ignore`` must let it through).
    """
    if RUNTIME_ASSET not in scripts:
        raise RuntimeError(f"the page lists no assets/{RUNTIME_ASSET}: run tools/plotly-bundle/build.sh")
    return POLYFILL_TAG.sub("", scripts)


class ExplorerDash(Dash):
    """Dash, whose page leaves out @babel/polyfill (see the module's docstring)."""

    def interpolate_index(self, **kwargs) -> str:
        kwargs["scripts"] = without_polyfill(kwargs["scripts"])
        return super().interpolate_index(**kwargs)
