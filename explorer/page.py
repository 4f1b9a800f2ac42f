"""``ExplorerDash``: Dash, with the page's scripts as the explorer ships them.

Two changes to the page Dash writes, each measured (``docs/performance.md``).

First, Dash lists @babel/polyfill (core-js 2, about 100 kB) before React on every page, for
browsers that lack ES2015+. The explorer's page needs a current browser anyway (it imports its
plotly.js as ES modules, ``assets/plotly-explorer-loader.js``), in which the polyfill only tests
and replaces built-ins: that cost the page 0.17 s of its one thread at start-up (software WebGL,
2 cores), before Dash asked the server for anything. The one thing in it that Dash's own scripts
use and no browser has is ``regeneratorRuntime`` (their async functions, compiled by Babel),
which ``assets/regenerator-runtime.min.js`` defines (the npm package, built by
``tools/plotly-bundle/build.sh``; Dash lists the assets' scripts before its renderer and
components).

Second, the page asks for its plotly.js early: ``<link rel="modulepreload">`` for the bundle's
core part and the chunk it shares with the 3D part (``tools/plotly-bundle/build.mjs``), which
``assets/plotly-explorer-loader.js`` imports only once Dash's scripts have run, and the browser
would find the shared chunk only once the core had arrived. Preloaded, both are fetched and
compiled beside Dash's scripts, without running or holding up anything.
"""

from __future__ import annotations

import re
from functools import cached_property
from html import escape
from pathlib import Path

from dash import Dash

#: the polyfill's script tag, as Dash writes it (``dash/_dash_renderer.py``: ``deps/polyfill@…``)
POLYFILL_TAG = re.compile(r'<script src="[^"]*/deps/polyfill@[^"]*"></script>\s*')
#: the asset that stands in for it
RUNTIME_ASSET = "regenerator-runtime.min.js"
#: the script that imports the partial plotly.js (absent from the page with the full one)
LOADER_ASSET = "plotly-explorer-loader.js"
#: the bundle's core part, which every page imports
CORE_ASSET = "plotly-explorer.min.js"


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


def preloaded_modules(assets: Path) -> list[str]:
    """The assets to preload: the shared chunk (whatever its hash) and the core part, by name."""
    shared = sorted(p.name for p in assets.glob("plotly-explorer-shared-*.min.js"))
    return shared + [CORE_ASSET] if (assets / CORE_ASSET).is_file() else []


class ExplorerDash(Dash):
    """Dash, whose page leaves out @babel/polyfill and preloads the partial plotly.js (see the
    module's docstring)."""

    def interpolate_index(self, **kwargs) -> str:
        kwargs["scripts"] = without_polyfill(kwargs["scripts"])
        if LOADER_ASSET in kwargs["scripts"]:  # not with the full plotly.js (the benchmarks' baseline)
            kwargs["metas"] = kwargs.get("metas", "") + self._preload_links
        return super().interpolate_index(**kwargs)

    @cached_property
    def _preload_links(self) -> str:
        """The ``<link rel="modulepreload">`` tags, read from the assets folder once per app."""
        names = preloaded_modules(Path(self.config.assets_folder))
        return "".join(f'<link rel="modulepreload" href="{escape(self.get_asset_url(n))}">' for n in names)
