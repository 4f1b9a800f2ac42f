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


def _url_callback(client, search: str):
    body = {
        "output": "..cell-store.data...message.children..",
        "outputs": [{"id": "cell-store", "property": "data"}, {"id": "message", "property": "children"}],
        "inputs": [{"id": "url", "property": "search", "value": search}],
        "changedPropIds": ["url.search"],
        "state": [],
    }
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("search", ["?cell=123", "?cell=..%2F..%2Fetc%2Fpasswd", "?cell=" + "1" * 10000, "?" + "x" * 50000])
def test_hostile_urls_get_a_message(client, search):
    r = _url_callback(client, search)
    assert r.status_code == 200
    out = r.get_json()["response"]
    assert out["cell-store"]["data"] is None and out["message"]["children"]


def test_good_url(client, xdata, pyramidal_id):
    out = _url_callback(client, f"?cell={pyramidal_id}").get_json()["response"]
    assert out["cell-store"]["data"] == str(pyramidal_id)


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
    monkeypatch.setattr(ExplorerData, "read_ahead", lambda self, cell: asked.append(cell))
    client = create_app(small_dataset).server.test_client()
    assert client.get("/?cell=990000000000000030").status_code == 200
    client.get("/_dash-layout?cell=1")
    client.post("/?cell=2")
    client.get("/")
    assert asked == ["990000000000000030"]


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
    """Opening a cell: the 3D view draws first; the scatter and the mesh patch are asked for once
    the browser says the 3D view is drawn (ids.DRAWN), never on the cell itself (their drawing
    used to compete with the 3D view's first draw)."""
    from explorer import ids
    from explorer.panels import scatter, view3d

    deps = json.loads(client.get("/_dash-dependencies").data)

    def inputs_of(output: str) -> list[list[str]]:
        found = [d for d in deps if output in d["output"]]
        return [[i["id"] + "." + i["property"] for i in d["inputs"]] for d in found]

    scatter_cbs = [i for i in inputs_of(f"{scatter.GRAPH}.figure") if f"{ids.DRAWN}.data" in i or f"{ids.CELL}.data" in i]
    assert scatter_cbs and all(f"{ids.CELL}.data" not in i for i in scatter_cbs)
    patches = [i for i in inputs_of(f"{view3d.GRAPH}.figure") if i == [f"{ids.DRAWN}.data"]]
    assert len(patches) == 1  # the mesh patch
    drawn = [d for d in deps if d["output"] == f"{ids.DRAWN}.data"]
    assert len(drawn) == 1 and drawn[0]["clientside_function"]  # in the browser, which knows when it has drawn
    assert [i["id"] for i in drawn[0]["inputs"]] == [view3d.TRACES]
