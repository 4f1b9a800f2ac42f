"""Proof in a real browser: every kind of link the explorer makes opens in the bundled
neuroglancer client (headless Debian chromium), served offline by the explorer, with every
layer loaded and nothing asked of any host but this machine.

A screenshot call hangs when a layer fails, so each link is first waited on for its layers'
load states (errors reported with the layer's name), then for the display to be drawn, with
deadlines. Screenshots land under ``test-output/neuroglancer/``.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from builder.config import BuildConfig
from builder.pipeline import build_dataset
from builder.sources.phase1 import NO_MESHES, Phase1Source
from explorer.data import ExplorerData
from explorer.links import LinkOptions, decode_state
from explorer.palette import COMPARTMENT_COLORS
from explorer.panels.selection import selection_panel
from explorer.viewer import LAYER_STATUS_JS
from tests.conftest import SMALL
from tests.explorer.test_browser import CHROMIUM, FLAGS, start_explorer
from tests.procs import stop, wait_until

OUT = Path(__file__).resolve().parents[2] / "test-output" / "neuroglancer"
OFFLINE = LinkOptions(public_reachable=lambda: False)  # no internet here: the dataset's layers only

STATUS_TEXT_JS = "() => { const e = document.getElementById('neuroglancer-status-container'); return e ? e.innerText : ''; }"


def _start_explorer(dataset: Path):
    proc, url = start_explorer(dataset, "--no-public-layers")
    return proc, url + "/"


@pytest.fixture(scope="module")
def explorer(small_dataset):
    proc, url = _start_explorer(small_dataset)
    try:
        yield ExplorerData.load(small_dataset), small_dataset, url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def meshless_explorer(small_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("meshless-ng") / "ds"
    cfg = BuildConfig(source="phase1", raw_dir=small_raw, out_dir=out, demo=SMALL, workers=1, mesh_source=NO_MESHES)
    assert build_dataset(cfg, Phase1Source(small_raw, mesh_source=NO_MESHES)).complete
    proc, url = _start_explorer(out)
    try:
        yield ExplorerData.load(out), out, url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("ng-profile")), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1200, "height": 900},
        )  # fmt: skip
        hosts: set[str] = set()
        failed: list[str] = []
        ctx.on("request", lambda r: hosts.add(urllib.parse.urlsplit(r.url).netloc) if r.url.startswith(("http", "ws")) else None)
        ctx.on(
            "response",
            lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/favicon.ico") else None,
        )
        try:
            yield ctx, hosts, failed
        finally:
            ctx.close()


def _densest_cell(data: ExplorerData) -> int:
    c = data.ds.cells
    return int(c.loc[c.cell_type == "pyramidal"].sort_values("n_mito").cell_id.iloc[-1])


def _offline_link(data: ExplorerData, dataset: Path, url: str, ids, cell: int | None) -> str:
    opts = LinkOptions(dataset=dataset, public_reachable=OFFLINE.public_reachable)
    offline = selection_panel(data, {"ids": [str(i) for i in ids]}, None if cell is None else str(cell), opts, url)[3]
    assert offline and offline.startswith(url + "offline-viewer#!"), offline
    return offline


def _open(browser, link: str, name: str, timeout_s: float = 180, state: dict | None = None) -> tuple[object, np.ndarray]:
    """Open ``link`` (whose ``state``, for a short link, is in a file); wait for every layer to
    load without error and the display to be drawn; return the page and its screenshot
    (H x W x 3 uint8), also saved as ``name``.png."""
    from PIL import Image

    ctx, hosts, failed = browser
    page = ctx.new_page()
    page.goto(link)
    page.wait_for_function("() => window.viewer && window.viewer.layerManager", timeout=timeout_s * 1000)
    status: list[dict] = []

    def settled() -> bool:
        status[:] = page.evaluate(LAYER_STATUS_JS)
        return any(s["errors"] for s in status) or all(s["ready"] and not s["loading"] for s in status)

    assert wait_until(settled, timeout=timeout_s, interval=0.25), f"{name}: layers still loading after {timeout_s} s: {status}"
    errors = {s["name"]: s["errors"] for s in status if s["errors"]}
    assert not errors, f"{name}: layer errors {errors}"
    wanted = [layer["name"] for layer in (state or decode_state(link))["layers"]]
    assert [s["name"] for s in status] == wanted, f"{name}: the client dropped layers of the link"
    drawn = wait_until(lambda: page.evaluate("() => window.viewer.display.isReady()"), timeout=timeout_s, interval=0.25)
    assert drawn, f"{name}: the display was not drawn in {timeout_s} s"
    text = page.evaluate(STATUS_TEXT_JS).lower()
    assert not any(w in text for w in ("error", "cannot", "failed", "not found")), f"{name}: status bar says {text!r}"
    assert not failed, f"{name}: failed requests {failed}"
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), timeout=60_000)
    img = np.asarray(Image.open(OUT / f"{name}.png").convert("RGB"))
    return page, img


def _colour_pixels(img: np.ndarray, tol: int = 12) -> dict[str, int]:
    """Pixels within ``tol`` (each channel) of each compartment colour."""
    out = {}
    for name, hexc in COMPARTMENT_COLORS.items():
        rgb = np.array([int(hexc[i : i + 2], 16) for i in (1, 3, 5)])
        out[name] = int((np.abs(img.astype(int) - rgb).max(axis=2) <= tol).sum())
    return out


def _only_127(hosts: set[str]) -> None:
    assert hosts and {h.rsplit(":", 1)[0] for h in hosts} == {"127.0.0.1"}, f"the browser contacted {sorted(hosts)}"


def test_a_cells_selection_and_its_synapses_open_with_skeletons_in_compartment_colours(explorer, browser):
    data, dataset, url = explorer
    cell = _densest_cell(data)
    ids = data.mitos.loc[data.mitos.cellid == cell, "mito_id"].tolist()
    link = _offline_link(data, dataset, url, ids, cell)
    names = [layer["name"] for layer in decode_state(link)["layers"]]
    assert {"cells", "mitochondrion meshes", "synapses", "mitochondrion centres"} <= set(names)
    page, img = _open(browser, link, "selection")
    seen = _colour_pixels(img)
    assert sum(n >= 200 for n in seen.values()) >= 3, seen
    # the skeleton alone: its compartment colours come from the shader on the compartment attribute
    page.evaluate("() => { for (const ml of window.viewer.layerManager.managedLayers) ml.setVisible(ml.name === 'cells'); }")
    assert wait_until(lambda: page.evaluate("() => window.viewer.display.isReady()"), timeout=120, interval=0.25)
    page.screenshot(path=str(OUT / "skeleton.png"), timeout=60_000)
    from PIL import Image

    # the client still writes its state back to the URL (a user shares it by copying the URL)
    assert wait_until(
        lambda: '"visible":false' in urllib.parse.unquote(page.evaluate("() => location.hash")), timeout=60, interval=0.25
    )
    skel = _colour_pixels(np.asarray(Image.open(OUT / "skeleton.png").convert("RGB")))
    assert sum(n >= 200 for n in skel.values()) >= 3, skel
    assert skel["Somatic"] + skel["Axonal"] + skel["Basal"] + skel["Apical"] > 0.5 * sum(skel.values())
    page.close()
    _only_127(browser[1])


def test_a_selection_across_several_cells_opens(explorer, browser):
    data, dataset, url = explorer
    cells = data.mitos.cellid.unique()[:3]
    assert len(cells) >= 2
    ids = data.mitos.loc[data.mitos.cellid.isin(cells)].groupby("cellid").head(40).mito_id.tolist()
    link = _offline_link(data, dataset, url, ids, None)
    state = decode_state(link)
    assert {int(s) for s in state["layers"][0]["segments"]} == {int(c) for c in cells}
    page, img = _open(browser, link, "several-cells")
    assert sum(n >= 100 for n in _colour_pixels(img).values()) >= 3
    page.close()
    _only_127(browser[1])


def test_a_meshless_dataset_opens_without_a_mesh_layer(meshless_explorer, browser):
    data, dataset, url = meshless_explorer
    cell = _densest_cell(data)
    ids = data.mitos.loc[data.mitos.cellid == cell, "mito_id"].tolist()
    link = _offline_link(data, dataset, url, ids, cell)
    names = [layer["name"] for layer in decode_state(link)["layers"]]
    assert "cells" in names and "mitochondrion meshes" not in names
    page, img = _open(browser, link, "meshless")
    assert sum(n >= 200 for n in _colour_pixels(img).values()) >= 3
    page.close()
    _only_127(browser[1])


@pytest.fixture(scope="module")
def own_explorer(small_dataset, tmp_path_factory):
    """An explorer on a copy of the small dataset: it writes the states of short links into it."""
    import shutil

    ds = tmp_path_factory.mktemp("short") / "ds"
    shutil.copytree(small_dataset, ds)
    proc, url = _start_explorer(ds)
    try:
        yield ExplorerData.load(ds), ds, url
    finally:
        stop(proc)


def _cell_pixels_box(page, img: np.ndarray) -> tuple[np.ndarray, dict]:
    """Rows and columns of compartment-coloured pixels inside the 3D panel, and the panel's box."""
    box = page.evaluate("() => { const r = document.querySelector('.neuroglancer-rendered-data-panel')"
                        ".getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }")  # fmt: skip
    mask = np.zeros(img.shape[:2], bool)
    for hexc in (COMPARTMENT_COLORS[c] for c in ("Somatic", "Axonal", "Basal", "Apical")):
        rgb = np.array([int(hexc[i : i + 2], 16) for i in (1, 3, 5)])
        mask |= np.abs(img.astype(int) - rgb).max(axis=2) <= 12
    t, b, left, r = (int(box[k]) for k in ("top", "bottom", "left", "right"))
    rows, cols = np.nonzero(mask[t:b, left:r])
    return np.array([rows.min(), rows.max(), cols.min(), cols.max(), b - t, r - left]), box


def test_a_short_link_opens_framed_on_the_whole_cell(own_explorer, browser):
    import json

    from explorer.links import StateStore

    data, dataset, url = own_explorer
    cell = _densest_cell(data)
    ids = data.mitos.loc[data.mitos.cellid == cell, "mito_id"].tolist()
    opts = LinkOptions(dataset=dataset, public_reachable=OFFLINE.public_reachable, states=StateStore(dataset / "states"))
    offline = selection_panel(data, {"ids": [str(i) for i in ids]}, str(cell), opts, url)[3]
    name = offline.rsplit("/", 1)[1]
    assert offline == f"{url}offline-viewer#!{url}states/{name}" and len(offline) < 200  # not 190,000 characters
    state = json.loads((dataset / "states" / name).read_text())
    page, img = _open(browser, offline, "short-link", state=state)
    top, bottom, left, right, height, width = _cell_pixels_box(page, img)[0]
    # the whole cell in view: clear of every edge of the 3D panel, and filling a good part of it
    assert top > 0.02 * height and bottom < 0.98 * height and left > 0.02 * width and right < 0.98 * width, (top, bottom, height)
    assert bottom - top > 0.35 * height
    page.close()
    _only_127(browser[1])
