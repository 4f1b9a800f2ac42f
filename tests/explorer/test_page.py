"""The page's scripts (explorer/page.py): Dash's @babel/polyfill left out, regenerator-runtime
(built by tools/plotly-bundle/build.sh) in its place. The page itself, in a browser, loads and
runs every view without errors: tests/explorer/test_plotly_bundle.py."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from explorer.page import without_polyfill
from tests.conftest import REPO

MANIFEST = json.loads((REPO / "tools" / "plotly-bundle" / "bundle.json").read_text())


@pytest.mark.parametrize("full", [False, True])
def test_page_lists_the_runtime_never_the_polyfill(small_dataset, monkeypatch, full):
    from explorer.app import create_app

    monkeypatch.setenv("EXPLORER_FULL_PLOTLY", "1" if full else "")
    client = create_app(small_dataset).server.test_client()
    html = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert not [s for s in scripts if "polyfill" in s], scripts
    runtime = [i for i, s in enumerate(scripts) if "/assets/regenerator-runtime.min.js" in s]
    renderer = [i for i, s in enumerate(scripts) if "dash_renderer" in s]
    assert len(runtime) == 1 and renderer and runtime[0] < renderer[0], scripts  # defined before Dash runs
    res = client.get("/" + MANIFEST["runtime"]["path"])
    assert res.status_code == 200 and "javascript" in res.mimetype


def test_without_polyfill_drops_only_its_tag_and_needs_the_runtime():
    tags = ('<script src="/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m17.12.1.min.js"></script>\n'
            '<script src="/_dash-component-suites/dash/deps/react@18.v4_4_1m17.3.1.min.js"></script>\n'
            '<script src="/assets/regenerator-runtime.min.js?m=1"></script>')  # fmt: skip
    assert without_polyfill(tags) == tags.split("\n", 1)[1]
    with pytest.raises(RuntimeError, match="build.sh"):
        without_polyfill(tags.rsplit("\n", 1)[0])


def test_runtime_is_the_built_one_of_the_pinned_package():
    rt = MANIFEST["runtime"]
    code = (REPO / rt["path"]).read_bytes()
    assert hashlib.sha256(code).hexdigest() == rt["sha256"] and len(code) == rt["bytes"], "not written by build.sh"
    pinned = json.loads((REPO / "tools" / "plotly-bundle" / "package.json").read_text())["devDependencies"][rt["package"]]
    assert pinned == rt["version"] and code.startswith(f"/*! regenerator-runtime v{pinned} ".encode())
    assert b"regeneratorRuntime" in code


@pytest.mark.parametrize("full", [False, True])
def test_page_preloads_the_core_and_the_chunk_it_imports(small_dataset, monkeypatch, full):
    """With the partial bundle, the page preloads its core part and the shared chunk that part
    imports (the very URLs the loader and the core import, or the browser fetches them twice);
    with the full plotly.js, nothing."""
    from explorer.app import create_app

    monkeypatch.setenv("EXPLORER_FULL_PLOTLY", "1" if full else "")
    client = create_app(small_dataset).server.test_client()
    html = client.get("/").get_data(as_text=True)
    preloads = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    if full:
        assert preloads == []
        return
    core = REPO / "assets" / "plotly-explorer.min.js"
    imported = set(re.findall(r'from\s*"\./(plotly-explorer-shared-[A-Z0-9]+\.min\.js)"', core.read_text()))
    assert len(imported) == 1, imported
    assert sorted(preloads) == sorted(["/assets/plotly-explorer.min.js", "/assets/" + imported.pop()])
    assert html.index("modulepreload") < html.index("<script")  # in the head, before any script
    for href in preloads:
        assert client.get(href).status_code == 200
