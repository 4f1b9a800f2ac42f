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

With ``--disable-gpu``, WebGL runs in software (SwiftShader): one redraw of the 200,000-point
scatter costs 0.3-0.5 s of CPU here (a GPU does it in milliseconds), and a box selection
redraws it at every mouse move and twice after the release.

Usage: ``python benchmarks/bench_browser.py [--data data/bench450] [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def one_session(data: Path, n_mito: int, profile: Path) -> dict:
    from playwright.sync_api import sync_playwright

    port = _port()
    server_log = profile.parent / f"{profile.name}-explorer.log"
    t0 = time.perf_counter()
    with server_log.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "explorer", "--data", str(data), "--port", str(port)],
                                stdout=log_file, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError as exc:
                if proc.poll() is not None or time.perf_counter() - t0 > 300:
                    raise RuntimeError("explorer did not start") from exc
                time.sleep(0.05)
        startup = time.perf_counter() - t0
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/bench450"))
    ap.add_argument("--small", type=Path, default=Path("data/demo"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/browser.json"), help="where the figures are written")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print("Debian chromium is not installed: make browser")
        return 2
    large = measure(ensure_dataset(args.data, 450), args.runs)
    small = measure(ensure_dataset(args.small, 40), args.runs)
    rows = [
        ("explorer start-up (process launched -> page answers)", "startup_s"),
        ("all-cells scatter, time to first paint (new browser profile)", "first_paint_s"),
        ("all-cells scatter, first paint on a repeat visit", "repeat_paint_s"),
        ("box selection highlighted in the browser", "select_client_s"),
        ("box selection answered by the server (panel shows it)", "select_server_s"),
    ]
    print(f"\nmedian of {args.runs} browser sessions; 450 cells: {large['mitochondria']} mitochondria, "
          f"40 cells: {small['mitochondria']}")  # fmt: skip
    w = max(len(r[0]) for r in rows)
    print(f"{'':<{w}}  {'450 cells':>10}  {'40 cells':>10}  {'ratio':>6}   target")
    for name, key in rows:
        print(f"{name:<{w}}  {large[key]:>9.2f}s  {small[key]:>9.2f}s  {large[key] / small[key]:>5.1f}x   < 2 s")
    print(f"selection (450 cells): {large['summary'].splitlines()[0] if large['summary'] else ''}")
    out = args.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cells_450": large, "cells_40": small, "runs": args.runs}, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
