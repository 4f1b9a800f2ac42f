"""The app as a server: start-up errors, compression, a callback through Dash's endpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builder.errors import DatasetError
from explorer.app import create_app


@pytest.fixture(scope="module")
def client(small_dataset):
    app = create_app(small_dataset)
    return app.server.test_client()


def test_missing_dataset_names_the_builder(tmp_path):
    with pytest.raises(DatasetError, match="python -m builder"):
        create_app(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "explorer", "--data", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 1 and "python -m builder" in r.stderr and "Traceback" not in r.stderr


def test_page_and_compression(client):
    r = client.get("/")
    assert r.status_code == 200 and b"L2/3 mitochondria explorer" in r.data
    r = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("Content-Encoding") == "gzip"


def test_binds_loopback_and_no_debug_unless_asked(small_dataset, monkeypatch, capsys):
    from dash import Dash
    from werkzeug import serving

    from explorer.__main__ import main

    calls = []
    monkeypatch.setattr(serving, "run_simple", lambda host, port, app, **kw: calls.append((host, port, app.debug)))
    monkeypatch.setattr(Dash, "run", lambda self, **kw: calls.append((kw["host"], kw["port"], kw["debug"])))
    assert main(["--data", str(small_dataset)]) == 0
    assert main(["--data", str(small_dataset), "--debug", "--port", "8123"]) == 0
    assert calls == [("127.0.0.1", 8050, False), ("127.0.0.1", 8123, True)]
    out = capsys.readouterr().out.splitlines()  # one line: where the app is, and how to serve many users
    assert out[0].startswith("explorer on http://127.0.0.1:8050/ ") and "gunicorn -w 2 -b 127.0.0.1:8050" in out[0]


def test_a_link_to_a_cell_reads_it_ahead(small_dataset, monkeypatch):
    """The page of ``/?cell=ID`` starts reading the cell while it loads; nothing else does."""
    from explorer.data import ExplorerData

    asked: list = []
    monkeypatch.setattr(ExplorerData, "read_ahead", lambda self, cell, then=None: asked.append((cell, then is not None)))
    client = create_app(small_dataset).server.test_client()
    assert client.get("/?cell=990000000000000030").status_code == 200
    client.get("/_dash-layout?cell=1")
    client.post("/?cell=2")
    client.get("/")
    assert asked == [("990000000000000030", True)]  # and its 3D view is made ahead too


def test_read_ahead_fills_the_caches_and_ignores_bad_ids(xdata_fresh):
    import time

    data, cid = xdata_fresh
    for junk in ("abc", "", "1" * 30, "12345"):
        data.read_ahead(junk)
    assert data._ahead.qsize() == 0 and not data._reader
    data.read_ahead(str(cid))
    deadline = time.monotonic() + 60
    while int(cid) not in data._display and time.monotonic() < deadline:
        time.sleep(0.05)
    assert int(cid) in data._display and len(data._reader) == 1 and data._reader[0].daemon
    from explorer.panels.view3d import cell_view

    made: list[int] = []
    data.read_ahead(str(cid), lambda c: made.append(c) or cell_view(data, str(c)))
    while not made and time.monotonic() < deadline:
        time.sleep(0.05)
    assert made == [int(cid)] and cell_view(data, str(cid)) is cell_view(data, str(cid))  # kept, not made again
    for _ in range(50):  # a flood of links: at most the queue's few cells wait, one thread reads
        data.read_ahead(str(cid))
    assert data._ahead.qsize() <= 4 and len(data._reader) == 1


def test_mesh_ids_without_reading_the_meshes(xdata_fresh):
    data, cid = xdata_fresh
    ids = data.ds.mesh_ids(cid)
    assert ids.dtype == "int64" and len(ids) > 0
    assert ids.tolist() == data.ds.mito_meshes(cid).ids.tolist()
    assert ("meshes", cid) in data.ds._cache  # and once the meshes are read, from them
    assert data.ds.mesh_ids(cid).tolist() == ids.tolist()


@pytest.fixture
def xdata_fresh(small_dataset):
    """A new ExplorerData (empty caches) and the pyramidal cell with the most mitochondria."""
    from explorer.data import ExplorerData

    data = ExplorerData.load(small_dataset)
    cells = data.ds.cells
    cid = int(cells[cells.cell_type == "pyramidal"].sort_values("n_mito").cell_id.iloc[-1])
    return data, cid


def test_start_up_imports_nothing_in_a_background_thread(small_dataset):
    """create_app starts no thread (an import in a background thread racing the first page's
    imports once served that page a 500: "partially initialized module 'PIL.Image'"), and nglui,
    which the first neuroglancer link needs, is imported before the server serves anything."""
    import threading

    before = set(threading.enumerate())
    create_app(small_dataset)  # public_layers=False: no probe thread either
    started = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert started == []
    assert "nglui.statebuilder" in sys.modules


def test_the_scatter_and_the_meshes_wait_for_the_3d_view(client):
    """Opening a cell: the 3D view draws first. The scatter waits (returns nothing) while the cell
    is not drawn yet, and both it and the mesh patch are asked again once the browser says the 3D
    view is drawn (ids.DRAWN, written by set_props: no callback outputs it, so nothing waits for
    the 3D view's round trip when there is no cell to draw, as on the landing page)."""
    from explorer import ids
    from explorer.panels import scatter, view3d

    deps = json.loads(client.get("/_dash-dependencies").data)

    def inputs_of(output: str) -> list[list[str]]:
        found = [d for d in deps if output in d["output"]]
        return [[i["id"] + "." + i["property"] for i in d["inputs"]] for d in found]

    drawn, cell = f"{ids.DRAWN}.data", f"{ids.CELL}.data"
    assert [i[:2] for i in inputs_of(f"{scatter.GRAPH}.figure") if drawn in i] == [[drawn, cell]]
    patches = [i for i in inputs_of(f"{view3d.GRAPH}.figure") if i == [drawn]]
    assert len(patches) == 1  # the mesh patch
    assert not [d for d in deps if ids.DRAWN in d["output"]]  # set_props in the browser, which knows when it has drawn
    writer = [d for d in deps if d["clientside_function"] and [i["id"] for i in d["inputs"]] == [view3d.TRACES]]
    assert len(writer) == 1 and f'set_props("{ids.DRAWN}"' in view3d.DRAWN_JS
    wait = scatter.waits_for_3d
    assert wait(None, "123", None) and wait(ids.CELL, "123", "456")  # a cell's link, a switch: wait for its draw
    assert not wait(None, None, None) and not wait(ids.CELL, None, "123")  # the landing page: nothing to wait for
    assert not wait(ids.DRAWN, "123", "123") and not wait(ids.DRAWN, "123", "cells:1,2") and not wait(scatter.X, "123", None)
    assert not wait(ids.CELL, "123", "123")  # already drawn
    from explorer.panels import cells

    first = cells.waits_for_first_draw
    assert first(None, "123", None) and not first(ids.DRAWN, "123", "123") and not first(None, None, None)
    assert not first(ids.CELL, "456", "123")  # a switch: the table has its rows
    table = [[i["id"] + "." + i["property"] for i in d["inputs"]] for d in deps if f"{ids.TABLE}.rowData" in d["output"]]
    assert len(table) == 1 and {cell, drawn} <= set(table[0])
