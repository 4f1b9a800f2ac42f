"""The neuroglancer client of the PyPI ``neuroglancer`` package, served offline by its Python
server, and the routes that give it the dataset's layers.

The client refuses to run as plain static files: it needs its Python server, which this
module starts on 127.0.0.1 (a daemon thread of the explorer's process, so it ends with it) the
first time a link asks for it. Opened with a state in its URL hash (``#!{json}``), the client
takes that state and needs nothing else from the server (neuroglancer ``src/main_python.ts``:
``if (window.location.hash)``), so an offline link is an ordinary neuroglancer link whose
viewer is ``/offline-viewer`` of the explorer: that route starts the viewer and redirects to it,
and the browser carries the hash across the redirect.

The layers are served under ``/precomputed/`` with CORS (the viewer runs on another port) and
HTTP Range (sharded layers are read by byte ranges); docs/neuroglancer.md.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.request
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from flask import Flask, Response, abort, redirect, request, send_file

from builder.store.reader import served_file
from explorer.links import PHASE1_EM

log = logging.getLogger(__name__)
#: The dataset's folder of link states (:class:`explorer.links.StateStore`), and their names.
STATES_DIR = "states"
STATE_NAME = re.compile(r"[0-9a-f]{64}\.json")
CORS = MappingProxyType(
    {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": "Range",
        "Access-Control-Expose-Headers": "Content-Range, Content-Length, Accept-Ranges",
    }
)


class PublicProbe:
    """Whether the public Phase 1 layers answer (one request for the EM's ``info``, in a daemon
    thread, at most ``timeout_s``); ``enabled`` True or False skips the request."""

    def __init__(self, enabled: bool | None = None, timeout_s: float = 3.0) -> None:
        self._result = enabled
        if enabled is None:
            threading.Thread(target=self._probe, args=(timeout_s,), daemon=True, name="phase1-probe").start()

    def _probe(self, timeout_s: float) -> None:
        # gs://bucket/path is served at https://storage.googleapis.com/bucket/path (cloudfiles/paths.py to_https_protocol)
        url = PHASE1_EM.replace("precomputed://gs://", "https://storage.googleapis.com/") + "/info"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as r:
                self._result = r.status == 200
        except OSError as exc:
            log.info("public Phase 1 layers not reachable (%s): offline links show the dataset's layers only", exc)
            self._result = False

    def reachable(self) -> bool:
        """True once the probe answered yes (False while it is under way)."""
        return bool(self._result)


# neuroglancer's UrlHashBinding (src/ui/url_hash_binding.ts) writes the state back to the URL
# through a lodash debounce with ``maxWait``: when restoring a state from the hash takes longer
# than maxWait (400 ms; a slow or busy machine, a state with many layers), lodash calls it
# synchronously in the middle of the restore, the annotation layers not restored yet fail to
# serialize (AnnotationUserLayer.toJSON: "Cannot read properties of undefined (reading
# 'length')") and the layer being restored at that moment is deleted (TopLevelLayerListSpecification
# .restoreState). Client 2.41.2, measured on this project's links: the first layer vanished in
# most loads. Without maxWait the write-back waits for the restore to end (a timer); nothing else
# changes. A client without this code is served as it is (and the browser test says so).
_HASH_WRITE_MAXWAIT = re.compile(rb"\(\)=>this\.setUrlHash\(\),(\w+),\{maxWait:2\*\1\}\)")


def patch_client_script(name: str, data: bytes) -> bytes:
    """The bundled client's ``main.*.js`` with the URL-hash write-back debounced without
    ``maxWait`` (see ``_HASH_WRITE_MAXWAIT``); every other file, or a client whose code differs,
    unchanged."""
    if not (name.startswith("main.") and name.endswith(".js")):
        return data
    patched, n = _HASH_WRITE_MAXWAIT.subn(rb"()=>this.setUrlHash(),\1)", data)
    if n != 1:
        log.warning("neuroglancer client %s: URL-hash debounce not found (%d matches), served unpatched", name, n)
        return data
    return patched


class _PatchedClientSource:
    """neuroglancer's static content source (the PyPI package's client) through
    ``patch_client_script``, each file patched once."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - neuroglancer.static.StaticContentSource
        self._inner = inner
        self._cache: dict[str, tuple[bytes, str]] = {}

    def get(self, name: str, query: str) -> tuple[bytes, str]:
        if name not in self._cache:
            data, content_type = self._inner.get(name, query)
            if not name.startswith("main."):
                return data, content_type
            self._cache[name] = (patch_client_script(name, data), content_type)
        return self._cache[name]


#: JavaScript for a page of the client (Playwright ``page.evaluate``), for scripts that drive it
#: (the browser test, ``benchmarks/bench_layers.py``): per managed layer its name, whether it is
#: ready, whether a data source is still loading, and its errors (a data source that failed, or
#: an error message of one of its subsources).
LAYER_STATUS_JS = """() => window.viewer.layerManager.managedLayers.map(ml => {
  const out = {name: ml.name, ready: ml.isReady(), loading: false, errors: []};
  for (const ds of (ml.layer ? ml.layer.dataSources : [])) {
    const st = ds.loadState;
    if (st === undefined) { out.loading = true; continue; }
    if (st.error !== undefined) { out.errors.push(String(st.error.message || st.error)); continue; }
    for (const s of st.subsources) for (const m of s.messages) if (m.severity === 2) out.errors.push(m.message);
  }
  return out;
})"""


class OfflineViewer:
    """The bundled neuroglancer client behind its Python server, started on first use."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._url: str | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._url is not None

    def url(self) -> str:
        """The viewer's address (``http://127.0.0.1:PORT/v/TOKEN/``), starting it if needed."""
        with self._lock:
            if self._url is None:
                import neuroglancer
                import neuroglancer.server
                import neuroglancer.static

                # the package's own client, patched (see _HASH_WRITE_MAXWAIT); neuroglancer reads
                # its source from this module attribute (server.py StaticPathHandler)
                neuroglancer.server.global_static_content_source = _PatchedClientSource(
                    neuroglancer.static.get_default_static_content_source()
                )
                neuroglancer.set_server_bind_address(self.host, 0)  # a free port, this machine only
                # unsynchronized: a synchronized viewer's event stream wants the shared state's
                # generation, which a client that took its state from the URL hash never sends
                # (neuroglancer server.py EventStreamHandler: 400 "missing gs", again and again)
                self._viewer = neuroglancer.UnsynchronizedViewer()
                # its URL carries its own state in the hash, which would replace the link's
                # across the redirect: the bare address only
                self._url = self._viewer.get_viewer_url().split("#", 1)[0]
                log.info("offline neuroglancer viewer on %s", self._url)
            return self._url


def register_routes(server: Flask, data_dir: Path, viewer: OfflineViewer) -> None:
    """``/precomputed/<path>`` (the dataset's layers), ``/states/<name>`` (the states of short
    links) and ``/offline-viewer`` on ``server``; files found through the builder's reader
    (:func:`builder.store.reader.served_file`).

    Every answer under ``/precomputed/`` and ``/states/`` carries the CORS headers, errors
    included (404, 405, 416, 304): a viewer on another origin then sees the status, not a
    network error.
    """

    @server.route("/precomputed/<path:subpath>", methods=["GET", "HEAD", "OPTIONS"])
    def _layer_file(subpath: str) -> Response:
        if request.method == "OPTIONS":  # CORS preflight
            return Response(status=204)
        path = served_file(data_dir, "precomputed", subpath)
        if path is None:
            abort(404)
        mimetype = "application/json" if PurePosixPath(subpath).name == "info" else "application/octet-stream"
        return send_file(path, mimetype=mimetype, conditional=True, max_age=0)

    @server.route(f"/{STATES_DIR}/<name>", methods=["GET", "HEAD", "OPTIONS"])
    def _state_file(name: str) -> Response:
        if request.method == "OPTIONS":
            return Response(status=204)
        path = served_file(data_dir, STATES_DIR, name) if STATE_NAME.fullmatch(name) else None
        if path is None:
            abort(404)
        return send_file(path, mimetype="application/json", conditional=True, max_age=0)

    @server.after_request
    def _cors(resp: Response) -> Response:
        if request.path.startswith(("/precomputed/", f"/{STATES_DIR}/")):
            resp.headers.update(CORS)
        return resp

    @server.route("/offline-viewer", methods=["GET"])
    def _offline_viewer() -> Response:
        # the state travels in the URL hash, which the browser keeps across this redirect
        return redirect(viewer.url(), code=302)
