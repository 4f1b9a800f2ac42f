"""A real browser (Debian's headless Chromium driven by Playwright) against the running app."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from explorer.links import decode_state
from tests.procs import answers, stop, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]  # fmt: skip
OUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
#: the scatter's traces hold at least ``n`` points
HOLDS_ALL = """(n) => { const g = document.querySelector('#graph-scatter .js-plotly-plot');
  return !!(g && g._fullData && g._fullData.reduce((s, t) => s + (t.x ? t.x.length : 0), 0) >= n); }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_explorer(dataset: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """``python -m explorer --data dataset *args`` on a free port, once its page answers:
    the process and its address (no trailing slash); skips (fails on CI) without chromium.

    The server writes into ``test-output/server-logs/explorer-PORT.log``, never into a pipe nobody reads: a
    full pipe (64 KiB) would stop every thread of the server that logs, holding logging's lock."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it (apt-get install chromium)")
        pytest.skip("Debian chromium not installed: run `make browser` (apt-get install chromium)")
    port = _free_port()
    log_path = _log_path(port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "explorer", "--data", str(dataset), "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    log_path.with_suffix(".pid").write_text(str(proc.pid))
    url = f"http://127.0.0.1:{port}"
    # a loaded 2-core machine can take a minute to import Dash and open the dataset
    if not wait_until(lambda: proc.poll() is not None or answers(url), timeout=180, interval=0.5) or proc.poll() is not None:
        stop(proc)
        pytest.fail("explorer did not start: " + server_log(url))
    return proc, url


def _log_path(port: int) -> Path:
    return OUT.parent / "server-logs" / f"explorer-{port}.log"


def server_log(url: str, tail: int = 8000, stacks: bool = False) -> str:
    """The last ``tail`` characters written by the explorer that :func:`start_explorer` started at
    ``url``; with ``stacks``, after it has printed every thread's stack (SIGUSR1, faulthandler)."""
    path = _log_path(urlsplit(url).port or 0)
    if not path.exists():
        return "(no log: not started by start_explorer)"
    if stacks:
        size = path.stat().st_size
        try:
            os.kill(int(path.with_suffix(".pid").read_text()), signal.SIGUSR1)
            wait_until(lambda: path.stat().st_size > size, timeout=10)
        except (OSError, ValueError):
            pass
    return path.read_text(errors="replace")[-tail:]


def open_page(page, url: str, selector: str, timeout_s: float = 180) -> None:  # noqa: ANN001 - a Playwright page
    """Go to ``url`` and wait until ``selector`` is visible (on a loaded 2-core machine the first
    page of a fresh browser can take a minute); on failure, say what the page and the server did:
    page errors, console messages, failed or unanswered requests, the page's text, the server's log."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen: list[str] = []
    pending: dict = {}
    page.on("pageerror", lambda e: seen.append(f"page error: {e}"))
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text[:300]}"))
    page.on("requestfailed", lambda r: seen.append(f"request failed: {r.url} {r.failure}"))
    page.on("request", lambda r: pending.__setitem__(id(r), r.url))
    page.on("requestfinished", lambda r: pending.pop(id(r), None))
    started = time.monotonic()
    try:
        page.goto(url, timeout=timeout_s * 1000)
        page.wait_for_selector(selector, timeout=max(1.0, timeout_s - (time.monotonic() - started)) * 1000)
    except PlaywrightTimeout:
        try:
            text = page.evaluate("() => document.body ? document.body.innerText.slice(0, 500) : '(no body)'")
        except Exception as exc:  # noqa: BLE001 - the page may be wedged: say so
            text = f"(page did not answer: {exc})"
        pytest.fail(
            f"{selector} not visible {time.monotonic() - started:.0f} s after opening {url}\n"
            + "\n".join(seen[-40:])
            + f"\nunanswered requests: {list(pending.values())[:20]}\n"
            + f"page text: {text}\nserver log, with every thread's stack: {server_log(url, stacks=True)}"
        )


@pytest.fixture(scope="module")
def server(small_dataset):
    proc, url = start_explorer(small_dataset)
    try:
        yield url
    finally:
        stop(proc)


def test_pick_cell_select_in_scatter_get_neuroglancer_link(server, xdata, pyramidal_id, tmp_path):
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1300},
        )  # a fresh profile
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        scatter_sizes: list[int] = []  # content-length of each answer that holds the scatter's figure
        page.on("response", lambda r: scatter_sizes.append(int(r.headers.get("content-length") or -1))
                if "_dash-update-component" in r.url and "graph-scatter.figure" in (r.request.post_data or "") else None)  # fmt: skip
        open_page(page, server, "#f-search")
        # the landing page asks for the all-cells scatter once: asked again while its answer is on
        # the way (as when ids.DRAWN was written with no cell drawn), Dash drops that answer, and
        # at 450 cells the figure was made, sent and drawn twice
        page.wait_for_function(HOLDS_ALL, arg=len(xdata.mitos), timeout=120_000)
        page.wait_for_load_state("networkidle")
        assert len(scatter_sizes) == 1 and scatter_sizes[0] > 10_000, scatter_sizes
        # pick a cell in the table: the URL follows
        page.fill("#f-search", str(pyramidal_id))
        page.press("#f-search", "Enter")
        page.locator("#cell-table .ag-row [col-id='cell_id']", has_text=str(pyramidal_id)).first.click()
        page.wait_for_url(f"**/?cell={pyramidal_id}", timeout=30_000)
        page.wait_for_selector("#graph-3d canvas", timeout=60_000)
        page.wait_for_function(
            "() => { const g = document.querySelector('#graph-3d .js-plotly-plot'); return g && g.data && g.data.length > 5; }",
            timeout=60_000,
        )
        assert str(pyramidal_id) in page.inner_text("#cell-info")
        # box-select every point of the scatter (this cell's mitochondria)
        page.wait_for_function(
            "() => { const g = document.querySelector('#graph-scatter .js-plotly-plot'); return g && g.data && g.data.length > 1; }"
        )
        # assets/selection_ids.js has taken over dcc.Graph's handler of plotly's selection event
        page.wait_for_function(
            "() => document.querySelector('#graph-scatter .js-plotly-plot')?.__idsBound === true", timeout=30_000
        )
        assert (
            page.evaluate(
                "() => document.querySelector('#graph-scatter .js-plotly-plot')._ev.listeners('plotly_selected').length"
            )
            == 1
        )
        # ids travel as a typed array; dcc.Graph's selectedData (the fallback) has no customdata then
        fallback = page.evaluate("""() => { const g = document.querySelector('#graph-scatter .js-plotly-plot');
            const c = g._fullData.findIndex((t, i) => i > 0 && t.customdata && t.customdata.length > 0);
            const got = window.dash_clientside.explorer.selectedIds({points: [{curveNumber: c, pointNumber: 0}]}, 10, g);
            return [got.ids, String(g._fullData[c].customdata[0]), g.data[c].customdata.dtype]; }""")
        assert fallback[0] == [fallback[1]] and fallback[2] == "u4", fallback
        # WebGL drawn at the screen's pixel ratio (1 here), not plotly's default 2
        widths = page.evaluate(
            "() => [...document.querySelectorAll('#graph-scatter canvas.gl-canvas')].map(c => [c.width, c.clientWidth])"
        )
        assert widths and all(w == cw for w, cw in widths), widths
        page.evaluate("() => Plotly.relayout(document.querySelector('#graph-scatter .js-plotly-plot'), {dragmode: 'select'})")
        box = page.locator("#graph-scatter .nsewdrag").first.bounding_box()
        n_3d = "() => document.querySelector('#graph-3d .js-plotly-plot').data[0].x.length"
        for attempt in ("select", "clear", "select again"):
            if attempt == "clear":  # a double click clears it (plotly_deselect, via dcc.Graph's selectedData)
                page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.wait_for_function(f"() => ({n_3d})() === 0", timeout=30_000)
                continue
            # first the middle of the plot, at last all of it
            w, h = box["width"], box["height"]
            x0, x1, y0, y1 = (2, w - 2, 2, h - 2) if attempt == "select again" else (0.3 * w, 0.7 * w, 0.3 * h, 0.7 * h)
            page.mouse.move(box["x"] + x0, box["y"] + y0)
            page.mouse.down()
            page.mouse.move(box["x"] + (x0 + x1) / 2, box["y"] + (y0 + y1) / 2, steps=5)
            page.mouse.move(box["x"] + x1, box["y"] + y1, steps=5)
            page.mouse.up()
            page.wait_for_function(f"() => ({n_3d})() > 0", timeout=30_000)
        n_highlighted = page.evaluate(n_3d)
        page.get_by_text("Selection & neuroglancer").click()
        page.wait_for_function(
            "() => { const a = document.getElementById('ng-link'); return a && a.href && a.href.includes('#!'); }"
        )
        href = page.get_attribute("#ng-link", "href")
        page.screenshot(path=str(OUT / "explorer.png"), full_page=True)
        browser.close()
    assert not errors, errors
    mitos = xdata.mitos[xdata.mitos.cellid == pyramidal_id]
    state = decode_state(href)
    ann = [a for layer in state["layers"] if layer["type"] == "annotation" and layer["name"].startswith("mitochondria")
           for a in layer["annotations"]]  # fmt: skip
    ids = {int(a["description"].split()[1]) for a in ann}
    assert len(ann) == min(n_highlighted, 500) and ids <= set(mitos.mito_id) and int(fallback[1]) in set(mitos.mito_id)
    plotted = mitos[["volume_um3", "complexityindex"]].notna().all(axis=1)  # the default axes
    assert n_highlighted == plotted.sum()  # the box covered the whole plot
    assert (~plotted).sum() == (mitos.mesh_missing != "").sum()  # only mesh-less ones lack an MCI


def _figure_ready(page, graph: str, min_traces: int = 1) -> None:
    page.wait_for_function(
        f"() => {{ const g = document.querySelector('#{graph} .js-plotly-plot'); return g && g.data && g.data.length >= {min_traces}; }}",
        timeout=60_000,
    )


def test_gradients_dendrogram_and_several_cells(server, xdata, pyramidal_id, tmp_path):
    """A bin clicked in the gradients view lights up its mitochondria in 3D and in the dendrogram;
    two ticked cells show together in 3D."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    m = xdata.mitos
    in_bin = m[(m.cellid == pyramidal_id) & (m.compartment == "Basal") & m.path_dist_to_soma_um.between(20, 30, inclusive="left")]
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1400, "height": 1300},
        )  # fmt: skip
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_page(page, f"{server}/?cell={pyramidal_id}", "#f-search")
        _figure_ready(page, "graph-3d", 5)
        page.get_by_text("Gradients", exact=True).click()
        # the published statistic first: the mean over segments, and the segment regressions
        page.wait_for_function("() => /after diameter r = /.test(document.querySelector('#graph-density .js-plotly-plot')"
                               "?.layout?.title?.text || '')", timeout=60_000)  # fmt: skip
        page.screenshot(path=str(OUT / "gradients_segments.png"), full_page=True)
        page.get_by_text("median over cells", exact=True).click()
        page.wait_for_function("() => { const g = document.querySelector('#graph-gradients .js-plotly-plot');"
                               " return g && g.data.some(t => (t.name || '').startsWith('Basal:') && Array.isArray(t.customdata)"
                               " && Array.isArray(t.customdata[0]) && t.customdata[0][0] === 'Basal'); }",
                               timeout=60_000)  # fmt: skip
        _figure_ready(page, "graph-density", 1)
        page.screenshot(path=str(OUT / "gradients.png"), full_page=True)
        # a click on the Basal 20-30 um bin (plotly's own click event on the graph)
        page.evaluate("""() => { const g = document.querySelector('#graph-gradients .js-plotly-plot');
            const c = g.data.findIndex(t => (t.name || '').startsWith('Basal:'));
            const i = g.data[c].customdata.findIndex(d => d[1] == 20);
            g.emit('plotly_click', {points: [{curveNumber: c, pointNumber: i, customdata: g.data[c].customdata[i],
                                              x: g.data[c].x[i], y: g.data[c].y[i]}]}); }""")
        page.wait_for_function(
            f"() => document.querySelector('#graph-3d .js-plotly-plot').data[0].x.length === {len(in_bin)}", timeout=30_000
        )
        page.get_by_text("Dendrogram", exact=True).click()
        _figure_ready(page, "graph-dendrogram", 5)
        page.wait_for_function(
            f"() => document.querySelector('#graph-dendrogram .js-plotly-plot').data[0].x.filter(v => v === null).length === {len(in_bin)}",
            timeout=30_000,
        )
        page.screenshot(path=str(OUT / "dendrogram.png"), full_page=True)
        # the compartments view reports the published Mann-Whitney tests
        page.get_by_text("Compartments", exact=True).click()
        page.wait_for_selector("#comp-tests table", timeout=60_000)
        assert "Axonal < Somatic" in page.inner_text("#comp-tests")
        # tick two cells in the grid: the 3D view shows both, each with its soma
        boxes = page.locator("#cell-table .ag-row .ag-selection-checkbox input")
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.wait_for_function(
            "() => document.querySelector('#graph-3d .js-plotly-plot').data.filter(t => (t.name || '').startsWith('soma ')).length === 2",
            timeout=60_000,
        )
        assert page.inner_text("#cell-info").startswith("2 cells")
        page.screenshot(path=str(OUT / "two_cells.png"), full_page=True)
        browser.close()
    assert len(in_bin) > 0
    assert not errors, errors
