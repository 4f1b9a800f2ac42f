"""Explorer in a real browser at Phase 1 scale: start-up, all-cells scatter, box selection.

On a ``--cells 450`` demo dataset (about 200,000 mitochondria; built once into ``--data`` when
it is not there), with Debian's headless Chromium driven by Playwright, median of ``--runs``:

* start-up: ``python -m explorer`` launched until its page answers (dataset opened);
* time to first paint: from navigation until the landing page's all-cells scatter has drawn
  every point (the WebGL traces hold all mitochondria and two animation frames have passed),
  in a new browser profile (nothing cached) and on a repeat visit (the third load in the same
  profile: scripts come from the HTTP cache and V8's code cache);
* box selection: from releasing the mouse after a box drag over the scatter until
  (a) plotly has restyled the selected points in the browser (``plotly_selected``) and (b) the
  server's answer to the selection (the ids, reduced in the browser) has arrived and been drawn;

next to the same figures on the 40-cell demo, so the cost of scale shows as a ratio.

Then, on the 40-cell demo, the page with the explorer's partial plotly.js bundle
(``assets/plotly-explorer*.min.js``: a core part and a 3D part, ES modules built by
``tools/plotly-bundle/build.sh``, imported by ``assets/plotly-explorer-loader.js``) against the
full ``plotly.min.js`` that dcc.Graph loads without it (the explorer started with
``EXPLORER_FULL_PLOTLY=1``), one session of each in turn, each with its own explorer:

* landing page, time to first paint, as above (new browser profile);
* opening a cell: navigation to ``/?cell=ID`` in a new browser profile until its 3D view is
  drawn: plotly has plotted that cell's figure (the graph's ``uirevision`` is the cell's id and
  its WebGL scene exists) and two animation frames have passed (gl-plot3d draws in its
  animation-frame loop). The page notes that moment itself (:data:`DRAWN_AT`, a check in every
  animation frame), so that what the page does after the draw (the scatter that follows it)
  does not delay the benchmark's noticing it; checked after the clock stops: the WebGL canvas
  has pixels unlike its background. ID is the pyramidal cell with the most mitochondria;
* switching cells: once the first cell's page has settled (no request for 0.5 s: its scatter
  and meshes drawn), a click on another row of the cells table (the pyramidal cell with the
  second most mitochondria, found with the table's search box first), from the click the page
  receives until its 3D view is drawn.

With ``--disable-gpu``, WebGL runs in software (SwiftShader): one redraw of the 200,000-point
scatter costs 0.3-0.5 s of CPU here (a GPU does it in milliseconds), and a box selection
redraws it at every mouse move and twice after the release.

Usage: ``python benchmarks/bench_browser.py [--data data/bench450] [--small data/demo] [--runs 3]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from builder.config import BuildConfig, DemoParams
from builder.pipeline import build_dataset
from builder.sources.demo import generate_demo_volume

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]  # fmt: skip
HOLDS_ALL = """(n) => {
  const g = document.querySelector('#graph-scatter .js-plotly-plot');
  if (!g || !g._fullData || typeof Plotly === 'undefined') return false;
  return g._fullData.reduce((s, t) => s + (t.x ? t.x.length : 0), 0) >= n;
}"""
#: resolves after two animation frames: what the graph holds has been drawn
TWO_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"
#: the 3D view holds the figure of cell ``id``, plotted (its WebGL scene exists)
CELL_PLOTTED = """(id) => { const g = document.querySelector('#graph-3d .js-plotly-plot');
  return !!(g && g.layout && String(g.layout.uirevision) === id && g._fullLayout.scene && g._fullLayout.scene._scene); }"""
#: the 3D view's figure holds mitochondrion meshes (the patch that follows the first draw)
MESHES_PLOTTED = """() => { const g = document.querySelector('#graph-3d .js-plotly-plot');
  return !!(g && g.data && g.data.some(t => t.type === 'mesh3d' && t.x && t.x.length > 0)); }"""
#: pixels of the 3D view's WebGL canvas unlike its corner, redrawn and read in one task (as
#: plotly's toImage: the canvas does not preserve its drawing buffer)
DRAWN_PIXELS = """() => { const s = document.querySelector('#graph-3d .js-plotly-plot')._fullLayout.scene._scene;
  s.glplot.redraw();
  const gl = s.glplot.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, px = new Uint8Array(w * h * 4);
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  let n = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] !== px[0] || px[i + 1] !== px[1] || px[i + 2] !== px[2]) n++;
  return n; }"""
#: An init script: in every animation frame, notes (``Date.now()``, ms) when the 3D view first
#: holds the plotted figure of a ``uirevision`` (then two frames later, as TWO_FRAMES) and when
#: its mitochondrion meshes (the ``mito-`` Mesh3d traces) are first plotted, in ``window.__drawnAt``
#: and ``window.__meshesAt``; and the last click the page received, in ``window.__clickAt``.
DRAWN_AT = """(() => {
  window.__drawnAt = {}; window.__meshesAt = {}; window.__clickAt = null;
  document.addEventListener('click', () => { window.__clickAt = Date.now(); }, true);
  const later = (store, key) => requestAnimationFrame(() => requestAnimationFrame(() => {
    if (!(key in store)) { store[key] = Date.now(); } }));
  const tick = () => {
    const g = document.querySelector('#graph-3d .js-plotly-plot');
    if (g && g.layout && g._fullLayout && g._fullLayout.scene && g._fullLayout.scene._scene) {
      const u = String(g.layout.uirevision);
      later(window.__drawnAt, u);
      const mito = t => t.type === 'mesh3d' && String(t.legendgroup || '').startsWith('mito-') && t.x && t.x.length > 0;
      if ((g._fullData || []).some(mito)) { later(window.__meshesAt, u); }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""
REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "assets" / "plotly-explorer.min.js"  # the core part, which every page imports
#: every file of the bundle (tools/plotly-bundle/bundle.json): the core and 3D parts and their shared chunk
PARTS = tuple(REPO / f["path"] for f in json.loads((REPO / "tools" / "plotly-bundle" / "bundle.json").read_text())["files"])


def ensure_dataset(path: Path, cells: int) -> Path:
    if (path / "manifest.json").is_file():
        return path
    params = DemoParams(seed=1, cells=cells)
    raw = path.parent / f"{path.name}-raw"
    src = generate_demo_volume(raw, params, workers=2)
    res = build_dataset(BuildConfig(raw_dir=raw, out_dir=path, demo=params, workers=2), src)
    assert res.complete
    return path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HELD = """() => { const g = document.querySelector('#graph-scatter .js-plotly-plot');
  return g && g._fullData ? g._fullData.reduce((s, t) => s + (t.x ? t.x.length : 0), 0) : -1; }"""


class Watch:
    """What went wrong in a browser session: console errors, failed responses, the explorer's log."""

    def __init__(self, page, server_log: Path):
        self.errors: list[str] = []
        self.server_log = server_log
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text[:300]}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {str(e)[:300]}"))
        page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url[:120]}") if r.status >= 400 else None)
        page.on("crash", lambda _: self.errors.append("the page crashed"))

    def report(self, page, n_mito: int) -> str:
        try:
            held = page.evaluate(HELD)
        except Exception as exc:  # a crashed page cannot be asked
            held = f"unknown ({exc.__class__.__name__})"
        tail = self.server_log.read_text(errors="replace")[-2000:] if self.server_log.is_file() else ""
        return (f"the scatter holds {held} of {n_mito} points; browser: {self.errors[-10:] or 'no errors'}; "
                f"explorer log tail: {tail or '(empty)'}")  # fmt: skip


def _paint(page, url: str, n_mito: int, watch: Watch, retries: int = 1) -> float:
    """Seconds from navigation until the all-cells scatter holds and has drawn every point.

    A load that has not drawn within two minutes is reported (what the scatter holds, the
    browser's errors, the explorer's log) and tried again once; a second failure raises."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(retries + 1):
        page.goto("about:blank")
        t = time.perf_counter()
        try:
            page.goto(url)
            page.wait_for_function(HOLDS_ALL, arg=n_mito, timeout=120_000, polling=50)
        except PlaywrightTimeout:
            msg = f"first paint timed out ({url}): {watch.report(page, n_mito)}"
            if attempt == retries:
                raise RuntimeError(msg) from None
            print(f"warning: {msg}; loading the page again", file=sys.stderr, flush=True)
            continue
        page.evaluate(TWO_FRAMES)
        return time.perf_counter() - t
    raise AssertionError("unreachable")


def _serve(data: Path, server_log: Path, full_plotly: bool = False) -> tuple[subprocess.Popen, str, float]:
    """``python -m explorer`` on a free port (with the full plotly.js when ``full_plotly``), once
    its page answers: the process, its address and the seconds it took."""
    port = _port()
    env = {**os.environ, "EXPLORER_FULL_PLOTLY": "1" if full_plotly else ""}
    t0 = time.perf_counter()
    with server_log.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "explorer", "--data", str(data), "--port", str(port)],
                                stdout=log_file, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc, url, time.perf_counter() - t0
        except OSError as exc:
            if proc.poll() is not None or time.perf_counter() - t0 > 300:
                proc.kill()
                raise RuntimeError(f"explorer did not start: {server_log.read_text(errors='replace')[-2000:]}") from exc
            time.sleep(0.05)


def one_session(data: Path, n_mito: int, profile: Path) -> dict:
    from playwright.sync_api import sync_playwright

    server_log = profile.parent / f"{profile.name}-explorer.log"
    proc, url, startup = _serve(data, server_log)
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=FLAGS,
                                                       headless=True, viewport={"width": 1400, "height": 1300})  # fmt: skip
            page = ctx.new_page()
            watch = Watch(page, server_log)
            first_paint = _paint(page, url, n_mito, watch)
            page.evaluate("() => Plotly.relayout(document.querySelector('#graph-scatter .js-plotly-plot'), {dragmode: 'select'})")
            page.evaluate("""() => { const g = document.querySelector('#graph-scatter .js-plotly-plot');
                window.__selected = 0; g.on('plotly_selected', () => { window.__selected = performance.now(); }); }""")
            box = page.locator("#graph-scatter .nsewdrag").first.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=4)
            page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7, steps=4)
            t_up = page.evaluate("() => performance.now()")
            with page.expect_response(lambda r: "_dash-update-component" in r.url
                                      and "selection-store" in (r.request.post_data or ""), timeout=120_000):  # fmt: skip
                page.mouse.up()
                page.wait_for_function("() => window.__selected > 0", timeout=60_000, polling=20)
            page.evaluate(TWO_FRAMES)
            t_server = page.evaluate("() => performance.now()")
            t_sel = page.evaluate("() => window.__selected")
            page.get_by_text("Selection & neuroglancer", exact=True).click()
            page.wait_for_function("() => /\\d+ mitochondri/.test(document.getElementById('sel-summary')?.innerText || '')",
                                   timeout=60_000)  # fmt: skip
            summary = page.inner_text("#sel-summary")
            # a returning user: the same browser profile opens the page again (HTTP cache, and
            # V8's code cache, which Chromium fills on a script's second load and uses from the third)
            _paint(page, url, n_mito, watch)
            repeat_paint = _paint(page, url, n_mito, watch)
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server_log.unlink(missing_ok=True)
    return {"startup_s": startup, "first_paint_s": first_paint, "repeat_paint_s": repeat_paint, "select_client_s": (t_sel - t_up) / 1000,
            "select_server_s": (t_server - t_up) / 1000, "summary": summary}  # fmt: skip


def measure(data: Path, runs: int) -> dict:
    import pandas as pd

    n = len(pd.read_parquet(data / "tables" / "mitochondria.parquet", columns=["mito_id"]))
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as prof:
            out.append(one_session(data, n, Path(prof)))
    med = {k: statistics.median(r[k] for r in out) for k in out[0] if k.endswith("_s")}
    return {"mitochondria": n, **med, "summary": out[-1]["summary"]}


def _cell_drawn(page, cell: int, timeout_ms: int = 120_000) -> None:
    """Wait until the 3D view shows ``cell``, plotted and drawn (two animation frames)."""
    page.wait_for_function(CELL_PLOTTED, arg=str(cell), timeout=timeout_ms, polling=20)
    page.evaluate(TWO_FRAMES)


def _open_and_switch(ctx, url: str, cells: tuple[int, int], watch_log: Path) -> tuple[float, float, float]:
    """Seconds to open ``cells[0]`` by its link in a new page of a new profile until its 3D view
    is drawn and until its mitochondrion meshes are, then to switch to ``cells[1]`` with a click
    on its row of the cells table; each to the moment the page noted (:data:`DRAWN_AT`)."""
    a, b = cells
    ctx.add_init_script(DRAWN_AT)
    page = ctx.new_page()
    watch = Watch(page, watch_log)
    page.goto("about:blank")
    t = time.time() * 1000
    page.goto(f"{url}?cell={a}")
    _cell_drawn(page, a)
    page.wait_for_function(f"() => '{a}' in window.__drawnAt", timeout=60_000, polling=20)
    open_s = (page.evaluate(f"() => window.__drawnAt['{a}']") - t) / 1000
    page.wait_for_function(f"() => '{a}' in window.__meshesAt", timeout=120_000, polling=20)
    meshes_s = (page.evaluate(f"() => window.__meshesAt['{a}']") - t) / 1000
    page.wait_for_load_state("networkidle")  # the first cell's page settled (its scatter too): a scientist looks, then switches
    page.evaluate(TWO_FRAMES)
    page.fill("#f-search", str(b))
    page.press("#f-search", "Enter")
    row = page.locator("#cell-table .ag-row [col-id='cell_id']", has_text=str(b)).first
    row.wait_for(timeout=60_000)
    row.click()  # Playwright first waits for the row to stand still (the grid animates a filter's rows)
    _cell_drawn(page, b)
    page.wait_for_function(f"() => '{b}' in window.__drawnAt", timeout=60_000, polling=20)
    switch_s = (page.evaluate(f"() => window.__drawnAt['{b}'] - window.__clickAt")) / 1000
    if page.evaluate(DRAWN_PIXELS) == 0:
        raise RuntimeError(f"the 3D view of cell {b} is empty: {watch.report(page, 0)}")
    if watch.errors:
        raise RuntimeError(f"browser errors: {watch.errors[-10:]}")
    return open_s, meshes_s, switch_s


def bundle_session(data: Path, n_mito: int, cells: tuple[int, int], full: bool, tmp: Path) -> dict:
    """One explorer serving the partial plotly.js bundle (or, ``full``, leaving it out): the
    landing page's first paint and opening a cell, each in a new browser profile, and switching
    cells. Raises if the page did not load the plotly.js it should."""
    from playwright.sync_api import sync_playwright

    server_log = tmp / "explorer.log"
    proc, url, _ = _serve(data, server_log, full_plotly=full)
    scripts: list[str] = []
    try:
        with sync_playwright() as p:
            out = {}
            for step in ("landing", "cell"):
                ctx = p.chromium.launch_persistent_context(str(tmp / step), executable_path=CHROMIUM, args=FLAGS,
                                                           headless=True, viewport={"width": 1400, "height": 1300})  # fmt: skip
                ctx.on("request", lambda r: scripts.append(r.url.split("?")[0]) if "plotly" in r.url else None)
                if step == "landing":
                    page = ctx.new_page()
                    out["landing_paint_s"] = _paint(page, url, n_mito, Watch(page, server_log))
                else:
                    out["open_cell_s"], out["open_meshes_s"], out["switch_cell_s"] = _open_and_switch(ctx, url, cells, server_log)
                ctx.close()
    except Exception as exc:
        raise RuntimeError(f"{exc}\nthe explorer's log, with every thread's stack:\n{_stacks(proc, server_log)}") from exc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    wanted, unwanted = ("/plotly.min.js", BUNDLE.name) if full else (BUNDLE.name, "/plotly.min.js")
    if not any(u.endswith(wanted) for u in scripts) or any(u.endswith(unwanted) for u in scripts):
        raise RuntimeError(f"the page with {'the full' if full else 'the partial'} plotly.js loaded: {scripts}")
    return out


def _stacks(proc: subprocess.Popen, server_log: Path) -> str:
    """The end of the explorer's log after it printed every thread's stack (SIGUSR1)."""
    size = server_log.stat().st_size
    try:
        os.kill(proc.pid, signal.SIGUSR1)
    except OSError:
        return server_log.read_text(errors="replace")[-6000:]
    deadline = time.monotonic() + 10
    while server_log.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.1)
    return server_log.read_text(errors="replace")[-6000:]


def _two_cells(data: Path) -> tuple[int, int]:
    """The pyramidal cells with the most and the second most mitochondria (any cells, if fewer
    than two are pyramidal)."""
    import pandas as pd

    c = pd.read_parquet(data / "tables" / "cells.parquet", columns=["cell_id", "cell_type", "n_mito"])
    c = c.sort_values(["n_mito", "cell_id"], ascending=[False, True])
    pyr = c[c.cell_type == "pyramidal"]
    ids = (pyr if len(pyr) >= 2 else c).cell_id.iloc[:2]
    return int(ids.iloc[0]), int(ids.iloc[1])


def measure_bundles(data: Path, runs: int) -> dict:
    """Medians of ``runs`` sessions with the partial bundle and with the full plotly.js, taken in
    turn (partial, full, partial, ...) so that a change in the machine's load falls on both."""
    import pandas as pd
    import plotly

    n = len(pd.read_parquet(data / "tables" / "mitochondria.parquet", columns=["mito_id"]))
    cells = _two_cells(data)
    res: dict[str, list[dict]] = {"bundle": [], "full": []}
    for _ in range(runs):
        for mode in res:
            with tempfile.TemporaryDirectory() as tmp:
                res[mode].append(bundle_session(data, n, cells, mode == "full", Path(tmp)))
    med = {mode: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for mode, rows in res.items()}
    full_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # what dcc.Graph loads
    sizes = {name: {"bytes": sum(f.stat().st_size for f in files), "gzip_bytes": sum(len(gzip.compress(f.read_bytes(), 6)) for f in files)}
             for name, files in (("bundle", PARTS), ("full", (full_js,)))}  # fmt: skip
    return {"cells": list(cells), "mitochondria": n, **med, "sizes": sizes, "sessions": res}


def print_bundles(b: dict, runs: int) -> None:
    """The partial bundle's figures next to the full plotly.js's, and their ratio."""
    sz = b["sizes"]
    mb = {k: f"{v['bytes'] / 1e6:.2f} MB ({v['gzip_bytes'] / 1e6:.2f} MB gzipped)" for k, v in sz.items()}
    print(f"\nplotly.js in the page, 40-cell demo ({b['mitochondria']} mitochondria), median of {runs}: "
          f"the explorer's bundle {mb['bundle']} against the full plotly.min.js {mb['full']}")  # fmt: skip
    rows = [
        ("landing page, time to first paint (new browser profile)", "landing_paint_s"),
        (f"open a cell by its link until its 3D view is drawn (new profile; cell {b['cells'][0]})", "open_cell_s"),
        (f"... until its mitochondrion meshes are drawn too (cell {b['cells'][0]})", "open_meshes_s"),
        (f"switch cells (a click on a row) until the 3D view is drawn (cell {b['cells'][1]})", "switch_cell_s"),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'':<{w}}  {'bundle':>8}  {'full':>8}  bundle/full")
    for name, key in rows:
        print(f"{name:<{w}}  {b['bundle'][key]:>7.2f}s  {b['full'][key]:>7.2f}s  {b['bundle'][key] / b['full'][key]:>5.2f}x")
    print(f"{'plotly.js script bytes':<{w}}  {sz['bundle']['bytes'] / 1e6:>6.2f}MB  {sz['full']['bytes'] / 1e6:>6.2f}MB  "
          f"{sz['bundle']['bytes'] / sz['full']['bytes']:>5.2f}x")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/bench450"))
    ap.add_argument("--small", type=Path, default=Path("data/demo"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/browser.json"), help="where the figures are written")
    ap.add_argument("--plotly-only", action="store_true", help="only the partial plotly.js bundle against the full one")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print("Debian chromium is not installed: make browser")
        return 2
    res: dict = {"plotly_bundle": measure_bundles(ensure_dataset(args.small, 40), args.runs), "runs": args.runs}
    if not args.plotly_only:
        res["cells_450"], res["cells_40"] = measure(ensure_dataset(args.data, 450), args.runs), measure(args.small, args.runs)
        print_scale(res["cells_450"], res["cells_40"], args.runs)
    print_bundles(res["plotly_bundle"], args.runs)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    return 0


def print_scale(large: dict, small: dict, runs: int) -> None:
    """The 450-cell figures next to the 40-cell ones, and their ratio."""
    rows = [
        ("explorer start-up (process launched -> page answers)", "startup_s"),
        ("all-cells scatter, time to first paint (new browser profile)", "first_paint_s"),
        ("all-cells scatter, first paint on a repeat visit", "repeat_paint_s"),
        ("box selection highlighted in the browser", "select_client_s"),
        ("box selection answered by the server (panel shows it)", "select_server_s"),
    ]
    print(f"\nmedian of {runs} browser sessions; 450 cells: {large['mitochondria']} mitochondria, "
          f"40 cells: {small['mitochondria']}")  # fmt: skip
    w = max(len(r[0]) for r in rows)
    print(f"{'':<{w}}  {'450 cells':>10}  {'40 cells':>10}  {'ratio':>6}   target")
    for name, key in rows:
        print(f"{name:<{w}}  {large[key]:>9.2f}s  {small[key]:>9.2f}s  {large[key] / small[key]:>5.1f}x   < 2 s")
    print(f"selection (450 cells): {large['summary'].splitlines()[0] if large['summary'] else ''}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
