"""A Zenodo-like records server on 127.0.0.1 for the download tests (never the network).

Serves ``/api/records/{id}`` (file listing with md5), ``/records/{id}/files/{name}`` (with HTTP
Range support) and, under ``/static/``, the files of a directory (for cloud-volume layers).
``cut_after[name] = n`` makes the next transfer of ``name`` stop after n bytes, as a dropped
connection would.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class RecordsServer:
    def __init__(self, records: dict[int, dict[str, bytes]], static_dir: Path | None = None) -> None:
        self.records = records
        self.static_dir = static_dir
        self.cut_after: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.listing_md5: dict[str, str] = {}  # override the md5 a listing reports
        self.listing_style = "current"  # or "2023": entries with filename and a bare checksum
        self.fail_next: list[tuple[int, str | None]] = []  # answer the next requests with these codes

    def handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, code: int, body: bytes, headers: dict | None = None, cut: int | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body if cut is None else body[:cut])
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                path = unquote(urlparse(self.path).path)
                server.requests.append((path, self.headers.get("Range")))
                if server.fail_next:
                    code, retry_after = server.fail_next.pop(0)
                    return self._send(code, b"busy", {"Retry-After": retry_after} if retry_after is not None else None)
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "records"] and len(parts) == 3:
                    files = server.records.get(int(parts[2]))
                    if files is None:
                        return self._send(404, b"{}")
                    md5 = {k: server.listing_md5.get(k, hashlib.md5(v).hexdigest()) for k, v in files.items()}
                    if server.listing_style == "2023":
                        listing = [{"filename": k, "filesize": len(v), "checksum": md5[k]} for k, v in files.items()]
                    else:
                        listing = [{"key": k, "size": len(v), "checksum": "md5:" + md5[k]} for k, v in files.items()]
                    return self._send(200, json.dumps({"files": listing}).encode(), {"Content-Type": "application/json"})
                if parts[0] == "records" and len(parts) == 4 and parts[2] == "files":
                    body = server.records.get(int(parts[1]), {}).get(parts[3])
                    if body is None:
                        return self._send(404, b"not found")
                    start = 0
                    rng = self.headers.get("Range")
                    if rng and rng.startswith("bytes="):
                        start = int(rng[6:].split("-")[0])
                        if start >= len(body):
                            return self._send(416, b"")
                    cut = server.cut_after.pop(parts[3], None)
                    if start:
                        hdr = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
                        return self._send(206, body[start:], hdr, cut)
                    return self._send(200, body, None, cut)
                if parts[0] == "static" and server.static_dir is not None:
                    f = server.static_dir.joinpath(*parts[1:])
                    if f.is_file():
                        return self._send(200, f.read_bytes())
                return self._send(404, b"not found")

        return Handler


@contextmanager
def serve(records: dict[int, dict[str, bytes]], static_dir: Path | None = None):
    """Run a :class:`RecordsServer` on a free loopback port; yields ``(server, base_url)``."""
    rs = RecordsServer(records, static_dir)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), rs.handler())
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield rs, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
