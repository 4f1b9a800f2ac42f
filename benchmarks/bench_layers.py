"""The dataset as neuroglancer layers: writing them, and drawing the densest cell offline.

1. **Write**: :func:`builder.store.precomputed.write_layers` (what ``python -m builder
   neuroglancer DATASET`` runs) into a scratch copy of ``--data`` (its tables linked, its own
   ``precomputed/`` untouched), median of ``--runs``: seconds, files and bytes per layer, and
   the mitochondrion meshes beside the legacy format's files and bytes for the same meshes.
   Side by side, the mesh shards assembled by this project (keys grouped by the vectorised
   murmurhash, :func:`builder.store.precomputed.common.write_objects`) and by cloud-volume's
   own ``synthesize_shard_files`` (the reference it reproduces byte for byte), same fragments.
2. **Draw**: the explorer (``python -m explorer --no-public-layers``) and its offline viewer
   (the PyPI ``neuroglancer`` client) in Debian's headless Chromium, a new profile each run:
   from navigation to the link of the densest pyramidal cell (all its mitochondria selected:
   skeleton, meshes, synapses, centres) until every layer is loaded and the display is drawn
   (``viewer.display.isReady()``); beside the same for the sparsest pyramidal cell.

Usage: ``python benchmarks/bench_layers.py --data data/bench450 [--runs 3]`` (``python
benchmarks/bench_scale.py --cells 450 --keep data/bench450`` builds the 450-cell demo).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]  # fmt: skip


def scratch_copy(data: Path, into: Path) -> Path:
    """``into`` with every entry of ``data`` linked except ``precomputed/``."""
    into.mkdir(parents=True)
    for entry in data.iterdir():
        if entry.name != "precomputed":
            (into / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return into


def measure_write(data: Path, runs: int) -> dict:
    from builder.store.paths import DatasetPaths
    from builder.store.precomputed import write_layers

    summaries = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            paths = DatasetPaths(scratch_copy(data, Path(tmp) / f"run{i}"))
            t = time.perf_counter()
            summary = write_layers(paths)
            summary["total_s"] = time.perf_counter() - t
            summaries.append(summary)
            shutil.rmtree(paths.root)
    out = {"total_s": statistics.median(s["total_s"] for s in summaries)}
    for layer in ("skeletons", "mitochondria", "synapses", "mito_centres"):
        last = summaries[-1][layer]
        out[layer] = {**last, "seconds": statistics.median(s[layer]["seconds"] for s in summaries)}
    return out


def measure_sharding(data: Path, runs: int) -> dict:
    """Seconds to assemble and write the mesh shards: this project's ``write_objects`` and
    cloud-volume's ``synthesize_shard_files``, the same fragments, median of ``runs``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from cloudvolume.datasource.precomputed.sharding import synthesize_shard_files

    from builder.store.meshes import decode_meshes
    from builder.store.precomputed.common import sharding_spec, write_objects
    from builder.store.precomputed.meshes import encode_cell_meshes

    table = pq.read_table(data / "tables" / "mito_meshes.parquet")
    blobs: dict[int, bytes] = {}
    offsets: dict[int, int] = {}
    for cell in np.unique(table.column("cell_id").to_numpy()):
        enc = encode_cell_meshes(decode_meshes(table.filter(pc.equal(table["cell_id"], int(cell)))))
        ids = enc.column("mito_id").to_numpy().tolist()
        blobs.update(zip(ids, enc.column("data").to_pylist()))
        offsets.update(zip(ids, enc.column("manifest_bytes").to_numpy().tolist()))
    spec = sharding_spec(len(blobs), data_encoding="raw")
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            t = time.perf_counter()
            files = write_objects(Path(tmp) / f"ours{i}", blobs, spec, data_offset=offsets)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            shards = synthesize_shard_files(spec, blobs, offsets)
            folder = Path(tmp) / f"cv{i}"
            folder.mkdir()
            for name, blob in shards.items():
                (folder / name).write_bytes(blob)
            theirs.append(time.perf_counter() - t)
            same = sorted(p.name for p in files) == sorted(shards) and all(
                (folder / p.name).read_bytes() == p.read_bytes() for p in files
            )
    return {"meshes": len(blobs), "shards": len(shards), "ours_s": statistics.median(ours),
            "cloudvolume_s": statistics.median(theirs), "identical": same}  # fmt: skip


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _link(data: Path, url: str, cell: int) -> tuple[str, int]:
    from explorer.data import ExplorerData
    from explorer.links import LinkOptions
    from explorer.panels.selection import selection_panel

    x = ExplorerData.load(data)
    ids = x.mitos.loc[x.mitos.cellid == cell, "mito_id"].astype(str).tolist()
    opts = LinkOptions(dataset=data, public_reachable=lambda: False)
    return selection_panel(x, {"ids": ids}, str(cell), opts, url)[3], len(ids)


def time_to_drawn(link: str, profile: Path, timeout_s: float = 300) -> float:
    """Seconds from navigation until every layer is loaded and the display is drawn."""
    from playwright.sync_api import sync_playwright

    from explorer.viewer import LAYER_STATUS_JS

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=FLAGS, headless=True,
                                                   viewport={"width": 1200, "height": 900})  # fmt: skip
        try:
            page = ctx.new_page()
            t = time.perf_counter()
            page.goto(link)
            page.wait_for_function("() => window.viewer && window.viewer.layerManager", timeout=timeout_s * 1000)
            while time.perf_counter() - t < timeout_s:
                status = page.evaluate(LAYER_STATUS_JS)
                errors = {s["name"]: s["errors"] for s in status if s["errors"]}
                if errors:
                    raise RuntimeError(f"layer errors in the offline viewer: {errors}")
                if all(s["ready"] and not s["loading"] for s in status) and page.evaluate("() => viewer.display.isReady()"):
                    return time.perf_counter() - t
                time.sleep(0.05)
            raise RuntimeError(f"the offline viewer did not draw {link[:120]}... in {timeout_s} s")
        finally:
            ctx.close()


def measure_draw(data: Path, runs: int) -> dict:
    """Time to drawn for the densest and the sparsest pyramidal cell, median of ``runs``, one
    explorer for all runs, a new browser profile for each."""
    from builder.store.reader import Dataset

    cells = Dataset.open(data).cells
    pyr = cells.loc[cells.cell_type == "pyramidal"].sort_values("n_mito")
    chosen = {"densest": int(pyr.cell_id.iloc[-1]), "sparsest": int(pyr.cell_id.iloc[0])}
    port = _port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "--data", str(data), "--port", str(port), "--no-public-layers"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    out: dict = {}
    try:
        t0 = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError as exc:
                if proc.poll() is not None or time.perf_counter() - t0 > 300:
                    raise RuntimeError("explorer did not start") from exc
                time.sleep(0.1)
        for key, cell in chosen.items():
            link, n = _link(data, url, cell)
            times = []
            for _ in range(runs):
                with tempfile.TemporaryDirectory() as prof:
                    times.append(time_to_drawn(link, Path(prof)))
            out[key] = {"cell": cell, "mitochondria": n, "seconds": statistics.median(times), "all_s": times}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/bench450"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true", help="the write figures only")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/layers.json"), help="where the figures are written")
    args = ap.parse_args()
    if not (args.data / "manifest.json").is_file():
        print(
            f"{args.data} is not a built dataset: build one with `python benchmarks/bench_scale.py --cells 450 --keep {args.data}`"
        )
        return 2
    res: dict = {"data": str(args.data), "runs": args.runs, "write": measure_write(args.data, args.runs),
                 "sharding": measure_sharding(args.data, args.runs)}  # fmt: skip
    w, sh = res["write"], res["sharding"]
    print(f"\nneuroglancer layers of {args.data}, median of {args.runs}")
    print(f"  {'layer':<14}{'files':>8}{'MB':>10}{'seconds':>10}")
    for layer in ("skeletons", "mitochondria", "synapses", "mito_centres"):
        r = w[layer]
        print(f"  {layer:<14}{r['files']:>8}{r['bytes'] / 1e6:>10.1f}{r['seconds']:>10.2f}")
    print(f"  {'all layers':<14}{sum(w[k]['files'] for k in w if k != 'total_s'):>8}"
          f"{sum(w[k]['bytes'] for k in w if k != 'total_s') / 1e6:>10.1f}{w['total_s']:>10.2f}")  # fmt: skip
    m = w["mitochondria"]
    print(f"mitochondrion meshes: {m['mitochondria']} meshes; legacy format {m['legacy_files']} files, "
          f"{m['legacy_bytes'] / 1e6:.1f} MB")  # fmt: skip
    print(f"  legacy / sharded files {m['legacy_files'] / m['files']:.1f}x")
    print(f"  legacy / sharded bytes {m['legacy_bytes'] / m['bytes']:.1f}x")
    print(f"mesh shards ({sh['shards']} shards, {sh['meshes']} meshes): this project {sh['ours_s']:.2f} s, "
          f"cloud-volume synthesize_shard_files {sh['cloudvolume_s']:.2f} s, identical files: {sh['identical']}")  # fmt: skip
    print(f"  cloud-volume / this project {sh['cloudvolume_s'] / sh['ours_s']:.2f}x")
    if not args.no_browser:
        res["draw"] = measure_draw(args.data, args.runs)
        d = res["draw"]
        print(f"offline viewer, navigation until every layer is loaded and drawn (new profile each run, median of {args.runs}):")
        for key in ("densest", "sparsest"):
            r = d[key]
            print(f"  {key} pyramidal cell {r['cell']} ({r['mitochondria']} mitochondria)  {r['seconds']:.2f} s")
        print(f"  densest / sparsest {d['densest']['seconds'] / d['sparsest']['seconds']:.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
