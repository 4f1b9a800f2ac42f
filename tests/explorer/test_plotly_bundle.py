"""The partial plotly.js bundle in ``assets/`` (``tools/plotly-bundle/build.sh``).

The explorer's page imports ``assets/plotly-explorer.min.js`` (core and 2D traces) and
``assets/plotly-explorer-gl3d.min.js`` (3D traces), ES modules sharing one chunk: plotly.js with
only the trace types the explorer draws (through ``assets/plotly-explorer-loader.js``, without
holding up the page; the 3D part after the landing page's scatter, or at once for a cell's
link), and dcc.Graph uses it (``window.Plotly``) instead of fetching the full ``plotly.min.js``.
A view that draws a trace type the bundle lacks would go wrong without an error (plotly draws a
trace of a type it does not know as a scatter), so: every trace type in the explorer's code must
be in the bundle (read from the source, and from the figures the page plots), the bundle must be
the plotly.js version that plotly.py and Dash expect, and the committed files must be the ones
the build script wrote (their sizes and sha256 in ``tools/plotly-bundle/bundle.json``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from tests.conftest import REPO
from tests.explorer.test_browser import CHROMIUM, FLAGS, start_explorer
from tests.procs import stop

BUNDLE = REPO / "assets" / "plotly-explorer.min.js"
GL3D = REPO / "assets" / "plotly-explorer-gl3d.min.js"
TOOL = REPO / "tools" / "plotly-bundle"
MANIFEST = json.loads((TOOL / "bundle.json").read_text())
REBUILD = "add it to PARTS in tools/plotly-bundle/build.mjs and run tools/plotly-bundle/build.sh"

#: before any script of the page: wrap plotly's newPlot and react when the page defines
#: window.Plotly, to record the trace types of every figure plotted, by graph id
RECORD_PLOTS = """(() => {
  let plotly;
  window.__plotted = {};
  const wrap = (P) => { for (const fn of ['newPlot', 'react']) {
    const orig = P[fn];
    P[fn] = function (gd, data, ...rest) {
      const traces = Array.isArray(data) ? data : (data && data.data) || [];
      const host = (gd.closest && gd.closest('.dash-graph')) || gd;
      window.__plotted[host.id || '?'] = traces.map(t => t.type || 'scatter');
      return orig.call(this, gd, data, ...rest);
    };
  } };
  Object.defineProperty(window, 'Plotly', {configurable: true, get: () => plotly,
                                           set: (P) => { plotly = P; if (P && P.react) wrap(P); }});
})();"""
#: every WebGL context the page makes: its graph, its canvas's classes, whether it antialiases
RECORD_CONTEXTS = """(() => {
  window.__glContexts = [];
  const get = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, attrs) {
    const had = this.__gl, ctx = get.call(this, type, attrs);
    if (ctx && !had && /webgl/.test(type)) {
      this.__gl = true;
      const host = this.closest('.dash-graph');
      window.__glContexts.push({graph: host ? host.id : '?', canvas: this.className,
                                antialias: ctx.getContextAttributes().antialias});
    }
    return ctx; };
})();"""
#: every graph on screen has been plotted with at least one trace
ALL_PLOTTED = """() => [...document.querySelectorAll('.dash-graph')].filter(e => e.offsetParent !== null)
  .every(e => { const g = e.querySelector('.js-plotly-plot');
                return g && g._fullLayout && (window.__plotted[e.id] || []).length > 0; })"""
CELL_DRAWN = """(id) => { const g = document.querySelector('#graph-3d .js-plotly-plot');
  return !!(g && g.layout && String(g.layout.uirevision) === id && g._fullLayout.scene && g._fullLayout.scene._scene); }"""
#: pixels of the 3D view's WebGL canvas unlike its corner (redrawn first, read in the same task,
#: as plotly's own toImage does: the canvas does not preserve its drawing buffer)
DRAWN_PIXELS = """() => { const s = document.querySelector('#graph-3d .js-plotly-plot')._fullLayout.scene._scene;
  s.glplot.redraw();
  const gl = s.glplot.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, px = new Uint8Array(w * h * 4);
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  let n = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] !== px[0] || px[i + 1] !== px[1] || px[i + 2] !== px[2]) n++;
  return n; }"""


def trace_classes() -> dict[str, str]:
    """plotly.graph_objects' trace classes: class name -> trace type (``Scattergl`` -> ``scattergl``)."""
    out = {}
    for name in dir(go):
        cls = getattr(go, name)
        if isinstance(cls, type) and issubclass(cls, BaseTraceType):
            out[name] = cls._path_str
    return out


def _type_values(node: ast.AST) -> list[str]:
    """The strings a node gives as a ``type``: ``type="..."`` and ``{"type": "..."}``."""
    if isinstance(node, ast.keyword) and node.arg == "type" and isinstance(node.value, ast.Constant):
        return [node.value.value] if isinstance(node.value.value, str) else []
    if isinstance(node, ast.Dict):
        return [v.value for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and k.value == "type" and isinstance(v, ast.Constant)
                and isinstance(v.value, str)]  # fmt: skip
    return []


GRAPH_OBJECTS = ("plotly.graph_objects", "plotly.graph_objs")


def _graph_objects_names(tree: ast.Module) -> tuple[set[str], dict[str, str]]:
    """A module's names for plotly.graph_objects (``go``) and its trace classes imported by name
    (local name -> class name)."""
    modules, classes = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name in GRAPH_OBJECTS}
        elif isinstance(node, ast.ImportFrom) and node.module == "plotly":
            modules |= {a.asname or a.name for a in node.names if f"plotly.{a.name}" in GRAPH_OBJECTS}
        elif isinstance(node, ast.ImportFrom) and node.module in GRAPH_OBJECTS:
            classes |= {a.asname or a.name: a.name for a in node.names}
    return modules, classes


def _trace_class(call: ast.Call, modules: set[str], imported: dict[str, str]) -> str:
    """The class name of a ``go.<Trace>(...)`` or ``<Trace>(...)`` call, or ""."""
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in modules:
        return f.attr
    return imported.get(f.id, "") if isinstance(f, ast.Name) else ""


def trace_types_in_source(root: Path = REPO / "explorer") -> dict[str, set[str]]:
    """Trace type -> where the explorer's code draws it (``file:line``): ``go.<Trace>(...)`` calls
    (plotly.graph_objects under any name), and ``type="..."`` or ``{"type": "..."}`` whose value
    is a plotly trace type (an axis ``type="log"`` or an input's ``type="text"`` is not)."""
    classes = trace_classes()
    types = set(classes.values())
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        modules, imported = _graph_objects_names(tree)
        for node in ast.walk(tree):
            where = f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', '?')}"
            name = _trace_class(node, modules, imported) if isinstance(node, ast.Call) else ""
            if name in classes:
                found[classes[name]].add(where)
            for value in _type_values(node):
                if value in types:
                    found[value].add(where)
    return dict(found)


def test_bundle_is_the_built_one_of_the_plotly_js_plotly_py_expects():
    """The committed parts are what build.sh wrote (and nothing else of its names is in assets/),
    from the plotly.js that plotly.py ships."""
    on_disk = sorted(str(f.relative_to(REPO)) for f in (REPO / "assets").glob("plotly-explorer*.min.js"))
    assert on_disk == [f["path"] for f in MANIFEST["files"]], "assets/ holds plotly-explorer files build.sh did not write"
    assert {str(BUNDLE.relative_to(REPO)), str(GL3D.relative_to(REPO))} <= set(on_disk)
    expected = get_plotlyjs_version()
    for f in MANIFEST["files"]:
        code = (REPO / f["path"]).read_bytes()
        assert hashlib.sha256(code).hexdigest() == f["sha256"] and len(code) == f["bytes"], (
            f"{f['path']} was not written by build.sh"
        )
        assert code.startswith(f"/*! plotly.js v{expected} ".encode()), f["path"]
    pinned = json.loads((TOOL / "package.json").read_text())["devDependencies"]["plotly.js"]
    assert pinned == MANIFEST["plotly_js"] == expected, (
        f"plotly.py expects plotly.js {expected}: pin it in tools/plotly-bundle/package.json "
        f"(npm install --save-exact plotly.js@{expected}) and run tools/plotly-bundle/build.sh"
    )
    assert MANIFEST["bytes"] == sum(f["bytes"] for f in MANIFEST["files"]) < MANIFEST["full_bundle_bytes"] / 2  # the point of it
    assert MANIFEST["traces"] == [t for part in MANIFEST["parts"].values() for t in part]
    assert {"scatter3d", "mesh3d"} <= set(MANIFEST["parts"]["plotly-explorer-gl3d"])  # the landing page needs none


def test_every_trace_type_in_the_explorers_code_is_in_the_bundle():
    found = trace_types_in_source()
    assert {"scattergl", "scatter3d", "mesh3d"} <= set(found), found  # the scan sees the figures
    missing = {t: sorted(w) for t, w in found.items() if t not in MANIFEST["traces"]}
    assert not missing, f"trace types drawn by the explorer but not in the plotly.js bundle ({REBUILD}): {missing}"


def test_source_scan_reads_go_calls_and_type_strings(tmp_path):
    (tmp_path / "fig.py").write_text(
        "import plotly.graph_objects as go\nfrom plotly import graph_objs as gob\n"
        "from plotly.graph_objects import Funnel as F\nfrom dash import html\n"
        "a = go.Figure(go.Violin(y=[1]))\nb = dict(type='heatmap')\nc = {'type': 'scatterpolar'}\n"
        "d = dict(type='log')\ne = go.layout.Scene()\nf = html.Table([])\ng = gob.Bar()\nh = F()\n"
    )  # fmt: skip
    found = trace_types_in_source(tmp_path)
    assert found.keys() == {"violin", "heatmap", "scatterpolar", "bar", "funnel"}


@pytest.mark.parametrize("full", [False, True])
def test_page_lists_the_loader_never_the_bundle(small_dataset, monkeypatch, full):
    """The page's scripts: the loader (the bundle would hold up the page), or, for the
    benchmarks' baseline (``EXPLORER_FULL_PLOTLY=1``), neither, so dcc.Graph loads the full one.
    Each part is served, as JavaScript (an ES module must be)."""
    from explorer.app import create_app

    monkeypatch.setenv("EXPLORER_FULL_PLOTLY", "1" if full else "")
    server = create_app(small_dataset).server
    html = server.test_client().get("/").get_data(as_text=True)
    scripts = " ".join(re.findall(r"<script[^>]*>", html))  # preloaded, never run as a script (tests/explorer/test_page.py)
    assert (
        "plotly-explorer.min.js" not in scripts and "plotly-explorer-gl3d" not in html and "plotly-explorer-shared" not in scripts
    )
    assert ("/assets/plotly-explorer-loader.js" in html) is not full
    for f in MANIFEST["files"]:
        res = server.test_client().get("/" + f["path"])
        assert res.status_code == 200 and "javascript" in res.mimetype, (f["path"], res.status_code, res.mimetype)


def _new_page(p, profile: Path, init_script: str, errors: list[str]):  # noqa: ANN001, ANN202 - Playwright objects
    """A new browser profile's page that runs ``init_script`` before the page's scripts; its
    console errors and page errors are appended to ``errors``."""
    ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=FLAGS, headless=True,
                                               viewport={"width": 1400, "height": 1300})  # fmt: skip
    ctx.add_init_script(init_script)
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page


def _visit_every_tab(page) -> None:
    """Click each tab of the page and wait until its graphs have been plotted."""
    for i in range(page.locator(".tab").count()):
        page.locator(".tab").nth(i).click()
        page.wait_for_function(ALL_PLOTTED, timeout=120_000, polling=100)


def test_page_draws_with_the_bundle_never_the_full_plotly(small_dataset, pyramidal_id, tmp_path):
    """A cell opened by its link: the 3D view and the scatter draw (WebGL), every view plots only
    trace types the loaded bundle registers, and the full plotly.min.js is never requested."""
    from playwright.sync_api import sync_playwright

    proc, url = start_explorer(small_dataset)
    requests: list[str] = []
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            ctx, page = _new_page(p, tmp_path / "profile", RECORD_PLOTS + RECORD_CONTEXTS, errors)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{url}/?cell={pyramidal_id}")
            page.wait_for_function(CELL_DRAWN, arg=str(pyramidal_id), timeout=120_000, polling=100)
            page.wait_for_function(ALL_PLOTTED, timeout=120_000, polling=100)
            assert page.locator("#graph-3d canvas").count() > 0 and page.locator("#graph-scatter canvas.gl-canvas").count() > 0
            assert page.evaluate(DRAWN_PIXELS) > 1000  # the cell, not an empty scene
            held = "() => document.querySelector('#graph-scatter .js-plotly-plot')._fullData.reduce((s, t) => s + (t.x || []).length, 0)"
            assert page.evaluate(held) > 0
            registered = page.evaluate("() => Object.keys(Plotly.PlotSchema.get().traces)")
            runtime = page.evaluate("() => typeof regeneratorRuntime.mark")  # Dash's async functions, without the polyfill
            version = page.evaluate("() => Plotly.version")
            contexts = page.evaluate("() => window.__glContexts")
            _visit_every_tab(page)
            plotted = page.evaluate("() => window.__plotted")
            ctx.close()
    finally:
        stop(proc)
    assert sorted(registered) == sorted(MANIFEST["traces"]) and version == MANIFEST["plotly_js"]
    seen = {t for types in plotted.values() for t in types}
    assert {"scattergl", "scatter3d", "mesh3d"} <= seen, plotted
    missing = {g: sorted(set(types) - set(registered)) for g, types in plotted.items() if set(types) - set(registered)}
    assert not missing, f"graphs plotted trace types the bundle lacks ({REBUILD}): {missing}"
    assert any("/assets/plotly-explorer.min.js" in r for r in requests), requests
    full = [r for r in requests if r.split("?")[0].endswith("/plotly.min.js")]
    assert not full, f"the page fetched the full plotly.js: {full}"
    assert runtime == "function" and not [r for r in requests if "polyfill" in r], requests
    # build.mjs's PATCHES: the scatter's one WebGL context (its focus canvas has none), without
    # multisampling; the 3D scene's with it
    scatter = [c for c in contexts if c["graph"] == "graph-scatter"]
    assert [(c["canvas"], c["antialias"]) for c in scatter] == [("gl-canvas gl-canvas-context", False)], contexts
    assert [c["antialias"] for c in contexts if c["graph"] == "graph-3d"] == [True], contexts
    assert not errors, errors


#: at the scatter's first plot: had the page requested the 3D part?
GL3D_AT_SCATTER = """(() => {
  let plotly;
  const wrap = (P) => { const orig = P.react;
    P.react = function (gd, ...rest) {
      const host = (gd.closest && gd.closest('.dash-graph')) || gd;
      if (host.id === 'graph-scatter' && !('__gl3dAtScatter' in window)) {
        window.__gl3dAtScatter = performance.getEntriesByType('resource').some(r => r.name.includes('plotly-explorer-gl3d'));
      }
      return orig.call(this, gd, ...rest);
    }; };
  Object.defineProperty(window, 'Plotly', {configurable: true, get: () => plotly,
                                           set: (P) => { plotly = P; if (P && P.react) wrap(P); }});
})();"""


def test_landing_page_draws_its_scatter_before_the_3d_part_is_imported(small_dataset, xdata, tmp_path):
    """The landing page (no cell) plots its scatter with the core part alone; the 3D part is
    imported afterwards, when the page is idle, and registers scatter3d and mesh3d into the same
    Plotly (a cell picked next draws at once: tests/explorer/test_browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.explorer.test_browser import HOLDS_ALL

    proc, url = start_explorer(small_dataset)
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            ctx, page = _new_page(p, tmp_path / "profile", GL3D_AT_SCATTER, errors)
            page.goto(url)
            page.wait_for_function(HOLDS_ALL, arg=len(xdata.mitos), timeout=120_000, polling=100)
            before = page.evaluate("() => window.__gl3dAtScatter")
            page.wait_for_function("() => ['scatter3d', 'mesh3d'].every(t => t in Plotly.PlotSchema.get().traces)",
                                   timeout=60_000, polling=200)  # fmt: skip
            parts = page.evaluate("""() => performance.getEntriesByType('resource').map(r => r.name.split('/').pop())
                                             .map(n => n.split('?')[0]).filter(n => n.startsWith('plotly-explorer'))""")  # fmt: skip
            ctx.close()
    finally:
        stop(proc)
    assert before is False, "the 3D part was requested before the landing page's scatter was plotted"
    assert sorted(parts) == sorted(["plotly-explorer-loader.js"] + [f["path"].split("/")[-1] for f in MANIFEST["files"]]), parts
    assert not errors, errors
