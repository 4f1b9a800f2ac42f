"""``create_app``: the Dash app for one dataset. No module-level state; one app per dataset path."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dash import Dash, Input, Output, State
from dash.exceptions import DependencyException
from flask import jsonify, request
from werkzeug.exceptions import BadRequest

from explorer import ids, panels
from explorer.data import ExplorerData
from explorer.inputs import MAX_BODY, callback_request_problem
from explorer.layout import shell
from explorer.links import DEFAULT_VIEWER, LinkOptions, StateStore
from explorer.page import ExplorerDash
from explorer.viewer import STATES_DIR, OfflineViewer, PublicProbe, register_routes

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parents[1] / "assets"


def create_app(
    data_dir: Path | str, viewer_url: str = DEFAULT_VIEWER, layers_url: str | None = None, public_layers: bool | None = False
) -> Dash:
    """Build the explorer for the dataset at ``data_dir``.

    ``viewer_url`` and ``layers_url`` (a published copy of the dataset's layers) make the shared
    links; the offline viewer reads the layers from this explorer, with the public Phase 1
    layers beside them when ``public_layers`` (None: when they answer, checked once in the
    background; ``python -m explorer`` does that, a library call contacts nothing by default).

    Raises
    ------
    builder.errors.DatasetError
        If ``data_dir`` is not a built dataset (the message names the builder command).
    """
    data = ExplorerData.load(data_dir)
    _import_link_builder()
    app = ExplorerDash(
        __name__,
        title="L2/3 mitochondria explorer",
        assets_folder=str(ASSETS),
        assets_ignore=_assets_ignore(),
        compress=True,
        suppress_callback_exceptions=False,
    )
    # gzip at level 3: 3x faster than the default 6 for 10 % more bytes (browsers that accept
    # zstd or brotli get those, at their own fast defaults)
    app.server.config["COMPRESS_LEVEL"] = 3
    app.layout = shell(data)
    # the public Phase 1 EM and segmentation lie under the release and the demo, not under a lab's volume
    probe = PublicProbe(public_layers if data.ds.in_phase1_space else False)
    states = StateStore(Path(data_dir) / STATES_DIR)
    register_panels(app, data, LinkOptions(viewer_url, layers_url, Path(data_dir), probe.reachable, states,
                                           phase1_space=data.ds.in_phase1_space))  # fmt: skip
    register_routes(app.server, Path(data_dir), OfflineViewer())
    _guard(app)
    log.info("explorer ready for %s (%d cells)", data_dir, len(data.ds.cells))
    return app


#: dcc.Graph configs with plotly's WebGL pixel ratio set to 1 on standard screens, 2 on HiDPI
#: ones: plotly draws WebGL at plotGlPixelRatio (default 2) whatever the screen, on a standard
#: screen 4x the pixels for nothing
GL_PIXEL_RATIO_JS = """function(_, ...configs) {
    const ratio = (window.devicePixelRatio || 1) > 1 ? 2 : 1;
    return configs.map(c => Object.assign({}, c, {plotGlPixelRatio: ratio}));
}"""


def register_panels(app: Dash, data: ExplorerData, opts: LinkOptions) -> None:
    """Every panel's callbacks, and the one clientside callback of all graphs."""
    for panel in panels.PANELS:
        if panel is panels.selection:
            panel.register(app, data, opts)
        else:
            panel.register(app, data)
    app.clientside_callback(GL_PIXEL_RATIO_JS, [Output(g, "config") for g in panels.GRAPHS], Input(ids.URL, "pathname"),
                            [State(g, "config") for g in panels.GRAPHS])  # fmt: skip


def _assets_ignore() -> str:
    """Dash's ``assets_ignore``, the assets the page does not list: the partial plotly.js bundle
    (``assets/plotly-explorer*.min.js``, ES modules built by ``tools/plotly-bundle/build.sh``),
    which ``assets/plotly-explorer-loader.js`` imports without holding up the page; with
    ``EXPLORER_FULL_PLOTLY=1`` the loader too, so that dcc.Graph loads the full ``plotly.min.js``
    (the benchmarks' baseline)."""
    return r"^plotly-explorer" if os.environ.get("EXPLORER_FULL_PLOTLY") == "1" else r"^plotly-explorer.*\.min\.js$"


def _import_link_builder() -> None:
    """Import nglui (1-2 s) before serving, so that the first neuroglancer link is not kept waiting.

    Not in a background thread: a module imported in one thread while a request imports another
    that depends on it can deadlock, and Python then hands one of them the half-initialised
    module. That happened: 3 s after start-up the warm-up thread was importing PIL for nglui while
    the first page's ``/_dash-layout`` (plotly's JSON encoder) asked for ``PIL.Image``, got
    "partially initialized module 'PIL.Image' has no attribute 'Image'", and the page stayed
    blank (CI's browser test, and the browser benchmark, once in about a dozen start-ups).
    """
    import nglui.statebuilder  # noqa: F401


def _guard(app: Dash) -> None:
    """Reject, with a 4xx, requests that are not this app's callbacks before Dash parses them."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY  # larger bodies: 413
    known = {k for k, v in app.callback_map.items() if "callback" in v}  # clientside ones never reach us
    # Dash answers a request for a script it does not serve with an exception (a 500): it is a 404
    server.register_error_handler(DependencyException, lambda exc: (jsonify(error="not found"), 404))

    @server.before_request
    def _check_callback_request():
        if request.path.endswith("/_dash-update-component") and request.method == "POST":
            body, problem = _json_body()
            problem = problem or callback_request_problem(body, known)
            if problem:
                log.info("rejected callback request: %s", problem)
                return jsonify(error=problem), 400
        return None


def _json_body() -> tuple[object, str]:
    """The request's JSON body and "", or None and why it is not one (not JSON, malformed,
    nested deeper than the parser goes). Parsed once: Dash reads the same parsed body."""
    if not request.is_json:
        return None, "the request body must be JSON (Content-Type: application/json)"
    try:
        return request.get_json(), ""
    except BadRequest:  # not JSON, not UTF-8
        return None, "the request body is not valid JSON"
    except RecursionError:  # the parser's depth limit (about 1000 levels)
        return None, "the request body is nested too deeply"


def create_server():
    """WSGI entry for gunicorn: ``gunicorn 'explorer.app:create_server()'``.

    The dataset comes from ``EXPLORER_DATA`` (default ``data/demo``).
    """
    return create_app(os.environ.get("EXPLORER_DATA", "data/demo")).server
