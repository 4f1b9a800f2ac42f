"""``python -m explorer [--data data/demo] [--host 127.0.0.1] [--port 8050] [--debug]``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from builder.errors import DatasetError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m explorer", description="Explore a built L2/3 dataset in the browser.")
    p.add_argument("--data", type=Path, default=Path("data/demo"), help="dataset directory (default data/demo)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--debug", action="store_true", help="Dash debug mode (never on a shared server)")
    p.add_argument("--viewer-url", default=None, help="neuroglancer deployment for links")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from explorer.app import create_app
    from explorer.links import DEFAULT_VIEWER

    try:
        app = create_app(args.data, viewer_url=args.viewer_url or DEFAULT_VIEWER)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"explorer: http://{args.host}:{args.port}/  (dataset {args.data})")
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
