"""Explorer benchmark: the cell view of the largest demo cell against navis.plot3d.

Prints, side by side in one run, medians over ``--runs``:

* server time of the 3D cell view through Dash's real endpoint (``/_dash-update-component``,
  figure built, serialised and gzip-compressed): cold = first request for this cell (its
  files read and decoded, meshes simplified) on an app that has served another cell; warm =
  the same request again;
* the gzipped payload the browser receives;
* the same skeleton and mitochondrion meshes drawn with ``navis.plot3d(..., backend="plotly")``
  (a TreeNeuron and one MeshNeuron per mitochondrion, as navis users do), serialised to JSON
  and gzipped;
* the ratios (targets: under 300 ms server time, navis at least 5x bigger and slower);
* the gradients, dendrogram and several-cells views of the same cell: view function, JSON and
  gzip, cold (fresh app data: files read) and warm.

Usage: ``python benchmarks/bench_explorer.py [--data data/demo] [--runs 5]``
(``--data`` defaults to building the 40-cell demo in a temporary directory).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import navis
import numpy as np
import plotly.io as pio

from builder.config import BuildConfig, DemoParams
from builder.pipeline import build_dataset
from builder.sources.demo import generate_demo_volume
from builder.store.reader import Dataset
from explorer.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dash_requests import callback_body  # noqa: E402


def _view_body(deps: list[dict], cell: str) -> dict:
    """The 3D view's request for ``cell``, built from the app's own dependencies."""
    return callback_body(deps, ("cell-store.data",), [cell], "graph-3d.figure")


def ours(data_dir: Path, cell_id: int, other_id: int, runs: int) -> dict:
    cold, warm, size = [], [], 0
    for _ in range(runs):
        app = create_app(data_dir)  # fresh reader: nothing of this cell cached
        client = app.server.test_client()
        deps = client.get("/_dash-dependencies").get_json()

        def post(cell: int, gzip_ok: bool, client=client, deps=deps):
            r = client.post("/_dash-update-component", data=json.dumps(_view_body(deps, str(cell))),
                            content_type="application/json", headers={"Accept-Encoding": "gzip"} if gzip_ok else {})  # fmt: skip
            if r.status_code != 200:
                raise SystemExit(f"the 3D view answered HTTP {r.status_code}: {r.get_data(as_text=True)[:300]}")
            return r

        post(other_id, False)  # app warm-up on another cell
        for i in range(2):
            t = time.perf_counter()
            r = post(cell_id, True)
            dt = time.perf_counter() - t
            assert r.headers.get("Content-Encoding") == "gzip", r.headers
            (cold if i == 0 else warm).append(dt)
            size = len(r.data)
    return {"cold_s": statistics.median(cold), "warm_s": statistics.median(warm), "gzip_bytes": size}


def with_navis(data_dir: Path, cell_id: int, runs: int) -> dict:
    ds = Dataset.open(data_dir)
    nodes = ds.skeleton_nodes(cell_id)
    meshes = ds.mito_meshes(cell_id)
    times, size, n_traces = [], 0, 0
    for _ in range(runs):
        t = time.perf_counter()
        swc = nodes.rename(columns={"parent": "parent_id"})[["node_id", "label", "x", "y", "z", "radius", "parent_id"]]
        neuron = navis.TreeNeuron(swc, units="nm")
        mito = [navis.MeshNeuron((v, f), units="nm") for v, f in (meshes.mesh(i) for i in range(meshes.n))]
        fig = navis.plot3d([neuron, *mito], backend="plotly", inline=False)
        payload = pio.to_json(fig)
        comp = gzip.compress(payload.encode(), compresslevel=6)
        times.append(time.perf_counter() - t)
        size, n_traces = len(comp), len(fig.data)
    return {"s": statistics.median(times), "gzip_bytes": size, "traces": n_traces}


def new_views(data_dir: Path, cell_id: int, runs: int) -> dict:
    """Server-side time of the gradients, dendrogram and several-cells views: the view function
    (figure built) + JSON + gzip, cold (fresh app data) and warm; medians."""
    import plotly.io as pio_

    from explorer.data import ExplorerData
    from explorer.panels import dendrogram, gradients, view3d

    def serialise(fig) -> int:
        js = pio_.to_json(fig) if hasattr(fig, "to_plotly_json") else json.dumps(fig, default=lambda o: o.tolist())
        return len(gzip.compress(js.encode(), compresslevel=6))

    cases = {
        "gradients (its cell type)": lambda d: [
            serialise(f) for f in gradients.gradients_view(d, str(cell_id), "mito_volume_per_um", "type", [], ["Basal"])
        ],
        "gradients (all cells)": lambda d: [
            serialise(f) for f in gradients.gradients_view(d, str(cell_id), "coverage_factor", "all", [], ["Basal"])
        ],
        "dendrogram": lambda d: serialise(dendrogram.dendrogram_view(d, str(cell_id), None)),
        "several cells (4) in 3D": lambda d: serialise(
            view3d.cells_view(d, d.ds.cells.sort_values("n_mito").cell_id.iloc[-4:].tolist())[0]
        ),
    }
    out = {}
    for name, fn in cases.items():
        cold, warm = [], []
        for _ in range(runs):
            d = ExplorerData.load(data_dir)
            t = time.perf_counter()
            fn(d)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            fn(d)
            warm.append(time.perf_counter() - t)
        out[name] = {"cold_s": statistics.median(cold), "warm_s": statistics.median(warm)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/explorer.json"), help="where the figures are written")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data
        if data_dir is None:
            params = DemoParams()
            src = generate_demo_volume(Path(tmp) / "raw", params, workers=2)
            build_dataset(BuildConfig(raw_dir=Path(tmp) / "raw", out_dir=Path(tmp) / "ds", demo=params, workers=2), src)
            data_dir = Path(tmp) / "ds"
        ds = Dataset.open(data_dir)
        cell = ds.cells.sort_values("n_mito").iloc[-1]
        cid = int(cell.cell_id)
        meshes = ds.mito_meshes(cid)
        other = int(ds.cells.sort_values("n_mito").iloc[0].cell_id)
        a = ours(data_dir, cid, other, args.runs)
        b = with_navis(data_dir, cid, max(1, args.runs // 2))
        views = new_views(data_dir, cid, args.runs)
    print(f"\nlargest cell {cid}: {int(cell.n_mito)} mitochondria, {len(meshes.vertices)} mesh vertices, "
          f"{int(cell.n_nodes)} skeleton nodes, {int(cell.n_syn_in + cell.n_syn_out)} synapses")  # fmt: skip
    rows = [
        ("explorer cell view, server time, cold (target < 300 ms)", f"{a['cold_s'] * 1000:.0f} ms"),
        ("explorer cell view, server time, warm", f"{a['warm_s'] * 1000:.0f} ms"),
        ("explorer payload, gzipped (with synapses)", f"{a['gzip_bytes'] / 1e6:.2f} MB"),
        (f"navis.plot3d plotly figure + JSON ({b['traces']} traces)", f"{b['s'] * 1000:.0f} ms"),
        ("navis payload, gzipped (no synapses)", f"{b['gzip_bytes'] / 1e6:.2f} MB"),
        ("navis / explorer time, cold (target >= 5x)", f"{b['s'] / a['cold_s']:.1f}x"),
        ("navis / explorer payload (target >= 5x)", f"{b['gzip_bytes'] / a['gzip_bytes']:.1f}x"),
    ]
    for name, v in views.items():
        rows.append(
            (f"{name}, server time, cold / warm (target < 300 ms)", f"{v['cold_s'] * 1000:.0f} / {v['warm_s'] * 1000:.0f} ms")
        )
    w = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{w}}  {value:>16}")
    out = args.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cell_id": cid, "ours": a, "navis": b, "views": views}, indent=2))
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
