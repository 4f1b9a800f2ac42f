"""Hostile requests to the explorer: every callback, fed junk through Dash's real endpoint, answers
with a message or a 4xx, never a 500 or a traceback, and no file outside the dataset is opened."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from explorer.app import create_app
from explorer.viewer import CORS

JUNK = [
    None, "", "../../../../etc/passwd", "/etc/passwd", "1" * 5000, 10**30, -1, 3.5, True, [], {},
    ["../x"] * 3, list(range(100_000)), "<script>alert(1)</script>", "?cell=../../etc/shadow&cell=1",
    {"points": [{"customdata": "../../etc/passwd", "x": 1, "y": 2}] * 30_000},
    {"points": "not a list"}, {"points": [{"customdata": None}, 7, "x"]},
    {"range": {"x": ["a", None], "y": [1]}}, {"lassoPoints": {"x": [1e308] * 10}},
    {"row": "x", "column_id": {"a": 1}}, {"data": "x" * 100_000},
]  # fmt: skip


def _parts(key: str) -> list[dict]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    return [dict(zip(("id", "property"), p.split(".", 1))) for p in parts]


def _body(key: str, cb: dict, value, cell: str | None) -> dict:
    def val(d):
        return cell if cell is not None and d["id"] == "cell-store" else value

    inputs = [{**d, "value": val(d)} for d in cb["inputs"]]
    state = [{**d, "value": val(d)} for d in cb.get("state", [])]
    return {
        "output": key,
        "outputs": _parts(key) if key.startswith("..") else _parts(key)[0],
        "inputs": inputs,
        "changedPropIds": [f"{d['id']}.{d['property']}" for d in cb["inputs"]],
        "state": state,
    }


class OpenedFiles:
    """Records every file the process opens (a CPython audit hook; it cannot be removed, so it
    only records while ``active``)."""

    def __init__(self) -> None:
        self.active = False
        self.paths: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if self.active and event == "open" and isinstance(args[0], (str, bytes, Path)):
            self.paths.append(str(args[0]))


@pytest.fixture(scope="module")
def opened() -> OpenedFiles:
    return OpenedFiles()


@pytest.mark.parametrize("with_cell", [False, True], ids=["junk-everywhere", "junk-with-a-real-cell"])
def test_every_callback_survives_junk(small_dataset, opened, with_cell, pyramidal_id):
    app = create_app(small_dataset)
    client = app.server.test_client()
    cell = str(pyramidal_id) if with_cell else None
    opened.active, opened.paths[:] = True, []
    try:
        for key, cb in app.callback_map.items():
            # a clientside callback runs in the browser: a request for it is refused, not served
            expected = (200, 204) if "callback" in cb else (400,)
            for value in JUNK:
                r = client.post(
                    "/_dash-update-component", data=json.dumps(_body(key, cb, value, cell)), content_type="application/json"
                )
                assert r.status_code in expected, (key, value if len(repr(value)) < 200 else repr(value)[:200], r.data[:300])
                assert b"Traceback" not in r.data
    finally:
        opened.active = False
    # a library's own caches (matplotlib's font list, read on its first import) are not user input
    allowed = (str(Path(small_dataset).resolve()), sys.prefix, sys.base_prefix, "/usr/lib/python3", "/dev/",
               str((Path.home() / ".cache" / "matplotlib").resolve()))  # fmt: skip
    outside = [p for p in opened.paths if not str(Path(p).resolve()).startswith(allowed)]
    assert outside == [], outside[:10]


def test_malformed_requests_are_4xx(small_dataset):
    client = create_app(small_dataset).server.test_client()
    for data in (b"{not json", b"[]", b'{"output": 5}', json.dumps({"output": "x.y", "inputs": "z"}).encode(), b"\x00" * 1000):
        r = client.post("/_dash-update-component", data=data, content_type="application/json")
        assert 400 <= r.status_code < 500 and b"Traceback" not in r.data, (data[:40], r.status_code, r.data[:200])
    for path in ("/assets/../../../../etc/passwd", "/assets/%2e%2e/%2e%2e/etc/passwd", "/_dash-component-suites/../../etc/passwd",
                 "/" + "a" * 10_000, "/?cell=" + "../" * 5000):  # fmt: skip
        r = client.get(path)
        assert r.status_code in (200, 404, 414) and b"root:" not in r.data, (path[:60], r.status_code)


def test_oversized_body_is_413(small_dataset):
    client = create_app(small_dataset).server.test_client()
    r = client.post("/_dash-update-component", data=b"[" + b"1," * (11 * 1024 * 1024) + b"1]", content_type="application/json")
    assert r.status_code == 413


def test_layer_route_serves_files_by_range_with_cors_and_nothing_outside(small_dataset):
    client = create_app(small_dataset).server.test_client()
    info = client.get("/precomputed/skeletons/info")
    assert info.status_code == 200 and info.json["@type"] == "neuroglancer_skeletons"
    assert info.headers["Access-Control-Allow-Origin"] == "*"
    shard = next((small_dataset / "precomputed/mitochondria").glob("*.shard"))
    whole = shard.read_bytes()
    part = client.get(f"/precomputed/mitochondria/{shard.name}", headers={"Range": "bytes=16-47"})
    assert (
        part.status_code == 206 and part.data == whole[16:48] and "Content-Range" in part.headers["Access-Control-Expose-Headers"]
    )
    pre = client.open(
        "/precomputed/mitochondria/info",
        method="OPTIONS",
        headers={"Origin": "http://127.0.0.1:1", "Access-Control-Request-Headers": "range"},
    )
    assert pre.status_code == 204 and "Range" in pre.headers["Access-Control-Allow-Headers"]
    for path in ("/precomputed/../manifest.json", "/precomputed/%2e%2e/manifest.json", "/precomputed/..%2fmanifest.json",
                 "/precomputed//etc/passwd", "/precomputed/skeletons/../../tables/cells.parquet", "/precomputed/nope/info",
                 "/precomputed/skeletons", "/precomputed/" + "a/" * 3000, "/precomputed/skeletons/info%00"):  # fmt: skip
        r = client.get(path)
        # 200 only for Dash's own page (a path its route does not match falls to the app's index)
        assert r.status_code in (404, 308, 414) or (r.status_code == 200 and r.mimetype == "text/html"), (
            path[:60],
            r.status_code,
        )
        assert b"root:" not in r.data and b"PAR1" not in r.data and b"format_version" not in r.data
    for junk in (
        "bytes=abc",
        "bytes=5-2",
        f"bytes={len(whole) + 10}-",
        "bytes=-0",
        "bytes=" + "1-2," * 2000,
        "items=0-5",
        "bytes=0-1" * 500,
    ):
        r = client.get(f"/precomputed/mitochondria/{shard.name}", headers={"Range": junk})
        assert r.status_code in (200, 206, 416), (junk[:40], r.status_code)
        if r.status_code == 200:
            assert r.data == whole
    assert client.post("/precomputed/skeletons/info").status_code == 405


def test_offline_viewer_route_redirects_to_the_bundled_viewer_on_this_machine(small_dataset):
    client = create_app(small_dataset).server.test_client()
    r = client.get("/offline-viewer")
    assert r.status_code == 302 and r.headers["Location"].startswith("http://127.0.0.1:") and "/v/" in r.headers["Location"]
    assert client.get("/offline-viewer?x=" + "../" * 1000).status_code == 302  # the query is never read
    assert client.post("/offline-viewer").status_code == 405


def _deep(n: int) -> bytes:
    return b"[" * n + b"1" + b"]" * n


def test_unparseable_callback_bodies_get_a_short_json_400(small_dataset):
    app = create_app(small_dataset)
    client = app.server.test_client()
    known = next(k for k, v in app.callback_map.items() if "callback" in v)
    bodies = [
        ("application/json", _deep(5000)),  # RecursionError in the parser
        ("application/json", b'{"output": "' + known.encode() + b'", "inputs": ' + _deep(5000) + b"}"),
        ("application/json", b'{"output": ' + _deep(500) + b"}"),  # a list is not an output name
        ("application/json", b"{not json"),
        ("application/json", b"\xff\xfe\x00garbage"),
        ("text/plain", b"\x00\xffgarbage{"),
        ("application/x-www-form-urlencoded", b"output=x&inputs=y"),
        (None, b"[1, 2"),
    ]
    for content_type, data in bodies:
        r = client.post("/_dash-update-component", data=data, content_type=content_type)
        assert r.status_code == 400, (content_type, data[:40], r.status_code, r.data[:200])
        assert r.is_json and set(r.json) == {"error"} and len(r.data) < 200, r.data[:300]


def test_callback_envelopes_of_the_wrong_shape_are_4xx(small_dataset):
    app = create_app(small_dataset)
    client = app.server.test_client()
    for key, cb in app.callback_map.items():
        if "callback" not in cb:
            continue
        good = _body(key, cb, None, None)
        for field, junk in (("outputs", [[1]]), ("outputs", [1, 2, 3]), ("outputs", {"a": 1}), ("outputs", json.loads(_deep(800))),
                            ("changedPropIds", [[1]]), ("changedPropIds", [{"a": 1}]), ("inputs", [{"id": [1], "property": 2}]),
                            ("state", [json.loads(_deep(800))])):  # fmt: skip
            r = client.post("/_dash-update-component", data=json.dumps({**good, field: junk}), content_type="application/json")
            assert r.status_code == 400 and r.is_json, (key, field, r.status_code, r.data[:200])


#: Every route of the app (its URL rule) and hostile requests for it; a new route fails
#: test_every_route_is_in_the_hostile_tests until it is added here.
ROUTES = {
    "/": ["/?cell=" + "../" * 300, "/?" + "a=1&" * 2000],
    "/<path:path>": ["/../../etc/passwd", "/%00", "/" + "x/" * 300, "/precomputedx/../manifest.json"],
    "/static/<path:filename>": ["/static/../../etc/passwd", "/static/%2e%2e/app.py", "/static/x"],
    "/assets/<path:filename>": ["/assets/../../../../etc/passwd", "/assets/%2e%2e/%2e%2e/etc/passwd", "/assets/" + "a" * 5000],
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": [
        "/_dash-component-suites/../../etc/passwd", "/_dash-component-suites/dash/../../../etc/passwd",
        "/_dash-component-suites/nope/x.js", "/_dash-component-suites/dash/dcc/nope.v1m1.js",
    ],
    "/_dash-layout": ["/_dash-layout?x=" + "[" * 5000],
    "/_dash-dependencies": ["/_dash-dependencies?x=%00"],
    "/_dash-update-component": ["/_dash-update-component"],
    "/_reload-hash": ["/_reload-hash?x=1"],
    "/_favicon.ico": ["/_favicon.ico?v=" + "9" * 5000],
    "/precomputed/<path:subpath>": ["/precomputed/../manifest.json", "/precomputed/skeletons/info%00", "/precomputed/nope"],
    "/offline-viewer": ["/offline-viewer?x=" + "../" * 1000],
    "/states/<name>": ["/states/../manifest.json", "/states/" + "a" * 64 + ".json", "/states/%00", "/states/" + "f" * 5000],
}  # fmt: skip
HOSTILE_BODIES = [
    ("application/json", _deep(5000)), ("application/json", b"{not json"), ("text/plain", b"\x00\xff" * 100),
    ("application/x-www-form-urlencoded", b"a=" + b"%00" * 1000), ("application/json", b'{"output": {"a": 1}}'),
]  # fmt: skip


def test_every_route_is_in_the_hostile_tests(small_dataset):
    rules = {r.rule for r in create_app(small_dataset).server.url_map.iter_rules()}
    assert rules == set(ROUTES), rules ^ set(ROUTES)


def test_every_route_answers_hostile_requests_without_a_500(small_dataset):
    client = create_app(small_dataset).server.test_client()
    for rule, paths in ROUTES.items():
        for path in paths:
            answers = [client.open(path, method=m) for m in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH")]
            answers += [client.post(path, data=data, content_type=ct) for ct, data in HOSTILE_BODIES]
            answers += [client.get(path, headers={"Range": "bytes=99999999-", "If-None-Match": "\x00" * 100})]
            for r in answers:
                assert r.status_code < 500, (rule, path[:60], r.request.method, r.status_code, r.data[:200])
                assert b"Traceback" not in r.data and b"root:" not in r.data, (rule, path[:60])


def _layers_copy(small_dataset, tmp_path) -> tuple[Path, Path]:
    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET outside the dataset")
    return ds, outside


def test_layer_route_serves_no_link_leading_out_of_the_layers(small_dataset, tmp_path):
    ds, outside = _layers_copy(small_dataset, tmp_path)
    pre = ds / "precomputed"
    (pre / "x").symlink_to("/etc/passwd")
    (pre / "secret").symlink_to(outside / "secret.txt")
    (pre / "manifest").symlink_to(ds / "manifest.json")  # in the dataset, not in its layers
    (pre / "out").symlink_to(outside, target_is_directory=True)
    (pre / "skeletons" / "up").symlink_to("../..", target_is_directory=True)
    (pre / "loop").symlink_to(pre / "loop")
    (pre / "skeletons" / "alias").symlink_to(pre / "skeletons" / "info")  # inside the layers: served
    client = create_app(ds).server.test_client()
    for path in ("/precomputed/x", "/precomputed/secret", "/precomputed/manifest", "/precomputed/out/secret.txt",
                 "/precomputed/skeletons/up/manifest.json", "/precomputed/loop"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code, r.data[:80])
        assert b"root:" not in r.data and b"SECRET" not in r.data and b"format_version" not in r.data
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = client.get("/precomputed/skeletons/alias")
    assert r.status_code == 200 and r.data == (pre / "skeletons" / "info").read_bytes()
    # a link to the layers' folder from inside them is inside too
    assert client.get("/precomputed/skeletons/up/precomputed/skeletons/info").status_code == 200


def test_layer_route_answers_every_status_with_cors(small_dataset):
    client = create_app(small_dataset).server.test_client()
    shard = next((small_dataset / "precomputed/mitochondria").glob("*.shard"))
    url = f"/precomputed/mitochondria/{shard.name}"
    ok = client.get(url)
    answers = {
        200: ok,
        206: client.get(url, headers={"Range": "bytes=0-9"}),
        304: client.get(url, headers={"If-None-Match": ok.headers["ETag"]}),
        404: client.get("/precomputed/mitochondria/nope"),
        405: client.post(url),
        416: client.get(url, headers={"Range": f"bytes={shard.stat().st_size + 10}-"}),
        204: client.options(url, headers={"Origin": "http://127.0.0.1:1", "Access-Control-Request-Headers": "range"}),
    }
    for status, r in answers.items():
        assert r.status_code == status, (status, r.status_code)
        for name, value in CORS.items():
            assert r.headers.get(name) == value, (status, name, dict(r.headers))
    assert client.head(url).status_code == 200 and client.head(url).headers["Access-Control-Allow-Origin"] == "*"


def test_state_route_serves_only_state_files_inside_the_dataset(small_dataset, tmp_path):
    ds, outside = _layers_copy(small_dataset, tmp_path)
    states = ds / "states"
    states.mkdir(exist_ok=True)  # the dataset may hold states already (explorers write them there)
    good = "a" * 64 + ".json"
    (states / good).write_text('{"layers": []}')
    (states / ("b" * 64 + ".json")).symlink_to(outside / "secret.txt")
    (states / "notes.txt").write_text("not a state")
    client = create_app(ds).server.test_client()
    r = client.get(f"/states/{good}")
    assert r.status_code == 200 and r.json == {"layers": []} and r.headers["Access-Control-Allow-Origin"] == "*"
    for name in ("b" * 64 + ".json", "notes.txt", "A" * 64 + ".json"):
        r = client.get(f"/states/{name}")
        assert r.status_code == 404 and b"SECRET" not in r.data and r.headers["Access-Control-Allow-Origin"] == "*"
    assert b"format_version" not in client.get("/states/../manifest.json").data  # the page, never the manifest
