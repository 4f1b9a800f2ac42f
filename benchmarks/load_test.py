"""Load test of the explorer served by gunicorn: concurrent users switching cells, changing the
scatter axes and building neuroglancer links, on 127.0.0.1 only.

    python benchmarks/load_test.py --data data/demo --clients 20 --iterations 10 --workers 3

Each client repeats ``--iterations`` times: open a cell (URL callback + 3D view), redraw the
scatter with other axes, select mitochondria and build their neuroglancer link. Requests are
bounded in number (clients x iterations x 4) and in time (``--max-seconds``). Prints latency
percentiles per request kind and the error count; exits 1 on any error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dash_requests import callback_body  # noqa: E402

HOST = "127.0.0.1"  # loopback only, by design


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _post(base: str, body: dict, timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(
        f"{base}/_dash-update-component", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Scenario:
    """Callback request bodies of the three user actions (the URL is read in the browser), from the app's ``/_dash-dependencies``."""

    def __init__(self, base: str, cells: list[str], columns: list[str], mito_ids: list[str]) -> None:
        with urllib.request.urlopen(f"{base}/_dash-dependencies", timeout=30) as r:
            deps = json.load(r)
        self.deps = deps
        self.cells, self.columns, self.mito_ids = cells, columns, mito_ids

    def _body(self, inputs: tuple[str, ...], values: list, output: str, state_values: dict | None = None) -> dict:
        return callback_body(self.deps, inputs, values, output, state_values)

    def actions(self, rng: random.Random) -> list[tuple[str, dict]]:
        cell = rng.choice(self.cells)
        x, y = rng.sample(self.columns, 2)
        ids = rng.sample(self.mito_ids, min(len(self.mito_ids), rng.randint(5, 300)))
        return [
            ("3D view", self._body(("cell-store.data",), [cell], "graph-3d.figure")),
            ("scatter axes", self._body(
                ("view3d-drawn.data", "cell-store.data", "sc-x.value", "sc-y.value", "sc-color.value", "sc-log.value",
                 "sc-scope.value"),
                [cell, cell, x, y, rng.choice(["compartment", "cell_type"]), ["log x"] if rng.random() < 0.5 else [], rng.choice(["cell", "all"])],
                "graph-scatter.figure",
            )),
            ("neuroglancer link", self._body(("selection-store.data",), [{"ids": ids, "source": "scatter"}], "ng-link.href", {"cell-store": cell})),
        ]  # fmt: skip


def _dataset_lists(data: Path) -> tuple[list[str], list[str], list[str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from builder.store.reader import Dataset

    ds = Dataset.open(data)
    cells = ds.cells["cell_id"].astype(str).tolist()
    return cells, ds.numeric_mito_columns(), ds.mitochondria["mito_id"].astype(str).tolist()


def start_gunicorn(data: Path, workers: int, port: int, threads: int = 1) -> subprocess.Popen:
    """gunicorn with ``workers`` processes (``threads`` each) on 127.0.0.1:port; returns when it answers."""
    env = {**os.environ, "EXPLORER_DATA": str(data)}
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads), "-b", f"{HOST}:{port}",
           "--timeout", "120", "--log-level", "warning", "explorer.app:create_server()"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parents[1], start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("gunicorn did not answer within 180 s")


def run_load(base: str, scenario: Scenario, clients: int, iterations: int, max_seconds: float, seed: int) -> dict:
    """Run the clients; returns latencies (s) per kind, errors and wall time."""
    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds

    def client(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        for _ in range(iterations):
            for kind, body in scenario.actions(rng):
                if time.perf_counter() > deadline:
                    with lock:
                        errors.append(f"{kind}: time budget of {max_seconds} s exhausted")
                    return
                t0 = time.perf_counter()
                try:
                    status, data = _post(base, body, timeout=max(1.0, deadline - t0))
                except OSError as exc:
                    status, data = -1, str(exc).encode()
                dt = time.perf_counter() - t0
                with lock:
                    lat[kind].append(dt)
                    if status not in (200, 204):
                        errors.append(f"{kind}: HTTP {status} {data[:120]!r}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latency": dict(lat), "errors": errors, "wall_s": time.perf_counter() - t0}


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(result: dict, clients: int, server: str, baseline: dict | None = None) -> str:
    """Percentiles per request kind; with ``baseline`` (one client alone), p50 ratios beside them."""
    lines = [f"{clients} clients, gunicorn {server}, {result['wall_s']:.1f} s wall"]

    def kinds(res: dict) -> dict[str, list[float]]:
        everything = [v for vs in res["latency"].values() for v in vs]
        return {**res["latency"], "all requests": everything}

    base = kinds(baseline) if baseline else {}
    for kind, vs in kinds(result).items():
        line = (
            f"  {kind:20s} n={len(vs):5d}  p50 {_pct(vs, 50) * 1000:7.1f} ms  p95 {_pct(vs, 95) * 1000:7.1f} ms  "
            f"max {max(vs) * 1000:7.1f} ms"
        )
        if base.get(kind):
            b50 = _pct(base[kind], 50)
            line += f"   | 1 client alone: p50 {b50 * 1000:6.1f} ms, ratio {_pct(vs, 50) / b50:4.1f}x"
        lines.append(line)
    everything = kinds(result)["all requests"]
    lines.append(f"  throughput {len(everything) / result['wall_s']:.1f} requests/s; errors {len(result['errors'])}")
    lines += [f"    {e}" for e in result["errors"][:10]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/demo"), help="built dataset (python -m builder)")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=10, help="action rounds per client (4 requests each)")
    ap.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    ap.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread when > 1)")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="time budget of the whole run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the one-client run first")
    args = ap.parse_args(argv)
    if not (args.data / "manifest.json").is_file():
        print(f"{args.data} is not a built dataset; build one with: python -m builder", file=sys.stderr)
        return 2
    cells, columns, mito_ids = _dataset_lists(args.data)
    port = _free_port()
    proc = start_gunicorn(args.data, args.workers, port, args.threads)
    try:
        base = f"http://{HOST}:{port}"
        scenario = Scenario(base, cells, columns, mito_ids)
        baseline = run_load(base, scenario, 1, args.iterations, args.max_seconds, args.seed + 1) if args.baseline else None
        result = run_load(base, scenario, args.clients, args.iterations, args.max_seconds, args.seed)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    server = f"{args.workers} workers" + (f" x {args.threads} threads" if args.threads > 1 else "")
    print(report(result, args.clients, server, baseline))
    return 1 if result["errors"] or (baseline and baseline["errors"]) else 0


if __name__ == "__main__":
    sys.exit(main())
