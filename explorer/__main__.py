"""``python -m explorer [--data data/demo] [--host 127.0.0.1] [--port 8050] [--debug]``."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
from pathlib import Path

from builder.clihelp import DefaultsFormatter
from builder.errors import DatasetError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m explorer",
        description="Explore a built L2/3 dataset in the browser (a development server for one user; "
        "for several users serve `explorer.app:create_server()` with gunicorn).",
        formatter_class=DefaultsFormatter,
    )
    p.add_argument("--data", type=Path, default=Path("data/demo"), help="dataset directory")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050, help="port to listen on")
    p.add_argument("--debug", action="store_true", help="Dash debug mode (never on a shared server)")
    p.add_argument("--viewer-url", default=None, help="neuroglancer deployment for shared links (default: neuroglancer-demo)")
    p.add_argument("--layers-url", default=None,
                   help="a published copy of the dataset's layers (python -m builder publish), e.g. gs://bucket/l23: "
                   "shared links then show them too")  # fmt: skip
    p.add_argument(
        "--no-public-layers",
        action="store_true",
        help="offline links without the public Phase 1 EM and segmentation (default: with them when they answer)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log start-up and every request")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # `kill -USR1 <pid>` prints every thread's stack to stderr: what a server that stopped answering is doing
    if hasattr(signal, "SIGUSR1") and sys.__stderr__ is not None:
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        from explorer.app import create_app
        from explorer.links import DEFAULT_VIEWER
    except ModuleNotFoundError as exc:  # run outside the project's environment
        from builder.__main__ import missing_dependency_message

        print(missing_dependency_message(exc), file=sys.stderr)
        return 1
    try:
        app = create_app(args.data, viewer_url=args.viewer_url or DEFAULT_VIEWER, layers_url=args.layers_url,
                         public_layers=False if args.no_public_layers else None)  # fmt: skip
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    url = f"http://{args.host}:{args.port}/"
    print(
        f"explorer on {url} (dataset {args.data}; Ctrl+C stops it). For several users: "
        f"EXPLORER_DATA={args.data} gunicorn -w 2 -b {args.host}:{args.port} 'explorer.app:create_server()'",
        flush=True,
    )
    if args.debug:
        app.run(host=args.host, port=args.port, debug=True)
        return 0
    from werkzeug import serving

    if not args.verbose:  # no development-server banner, no line per request
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    serving.run_simple(args.host, args.port, app.server, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
