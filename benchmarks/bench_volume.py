"""The build from a volume: the chunked scan's throughput and memory, and the whole build.

Prints, side by side in one run, medians of ``--runs`` (docs/volume.md, Performance):

1. **Scan throughput**: :func:`builder.sources.volume_scan.scan_volumes` over the storage chunks
   the mitochondria layer holds (as ``VolumeSource`` scans them), with 1 and 2 workers, each run
   in a fresh process and a fresh scan folder (nothing resumed), the runs alternating: voxels
   scanned per second (a voxel is read from both segmentations), per second per core, and the
   ratio 2 workers / 1 worker.
2. **Scan memory**: the peak RSS of the scanning process and its worker processes summed,
   sampled with psutil every 20 ms from this process, for the demo written at ``--resolution``
   and at twice its voxel side (8x fewer voxels): both peaks, their ratio and the voxel-count
   ratio. The chunk bounds the memory, not the volume, when the peaks are about equal.
3. **Whole build**: ``python -m builder build --source volume`` (the scan's folder deleted
   before each run) beside ``python -m builder build --raw-dir DIR/demo-raw --cells N``, the
   same cells, ``--workers`` workers, alternating: wall time, peak RSS, ratio volume / demo.
4. **Agreement** of the last two datasets (:func:`agreement`): the same cells, every
   mitochondrion built once, the cell and compartment of each, node labels, the volume error,
   each synapse's nearest mitochondrion.

The demo volumes are written first (``write_demo_as_volume``; not measured) into ``--keep DIR``
(``DIR/<X>x<Y>x<Z>``, reused by the next run) or a temporary folder; ``--volume DIR`` uses a
volume already written by ``python -m builder demo --as-volume DIR`` as the first size.

Usage: ``python benchmarks/bench_volume.py [--cells 3] [--resolution 16,16,40] [--runs 3]
[--keep data/bench-volume | --volume DIR]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench_volume")
#: Seconds between two samples of the process tree's RSS.
SAMPLE_S = 0.02
_SCAN_SNIPPET = "import sys; sys.path.insert(0, sys.argv[1]); from bench_volume import scan_once; scan_once(*sys.argv[2:])"


def scan_once(toml: str, work: str, workers: str) -> None:
    """In a fresh process: the scan ``VolumeSource`` makes of the volume of ``toml``
    (:func:`builder.sources.volume.scan_plan`), timed, its figures printed as JSON."""
    import psutil

    from builder.sources.volume import scan_plan
    from builder.sources.volume_config import load_volume_config
    from builder.sources.volume_scan import _inside, chunk_boxes, scan_volumes

    plan = scan_plan(load_volume_config(toml), Path(toml))  # the scan build --source volume makes
    grid = chunk_boxes(plan.bbox, plan.chunk) if plan.boxes is None else _inside(plan.boxes, plan.bbox)
    voxels = sum((b1[0] - b0[0]) * (b1[1] - b0[1]) * (b1[2] - b0[2]) for b0, b1 in grid)
    rss_before = psutil.Process().memory_info().rss
    t = time.perf_counter()
    stats = scan_volumes(plan.mitochondria, plan.cells, plan.bbox, plan.chunk, Path(work), workers=int(workers), boxes=plan.boxes)
    seconds = time.perf_counter() - t
    box = [b - a for a, b in zip(*plan.bbox)]
    print(json.dumps({"seconds": seconds, "voxels": voxels, "chunks": len(grid), "chunk": plan.chunk, "mitochondria": stats.n,
                      "rss_before_scan": rss_before, "box_voxels": _prod(box)}))  # fmt: skip


def _prod(v: list[int]) -> int:
    out = 1
    for x in v:
        out *= int(x)
    return out


def run_sampled(cmd: list[str]) -> tuple[str, float, int]:
    """Run ``cmd`` (this checkout on its PYTHONPATH): its stdout, wall seconds, and the peak of
    its RSS and its descendants' summed (sampled every :data:`SAMPLE_S`; shared pages are
    counted once per process, so the sum is an upper bound)."""
    import psutil

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    peak = [0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for p in tree:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak[0] = max(peak[0], total)
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - t
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-2000:]}\n{err[-3000:]}")
    return out, seconds, peak[0]


def scan(toml: Path, workers: int, work: Path) -> dict:
    """One scan in a fresh process and a fresh folder ``work``: its figures and peak RSS."""
    shutil.rmtree(work, ignore_errors=True)
    out, _, peak = run_sampled(
        [sys.executable, "-c", _SCAN_SNIPPET, str(REPO / "benchmarks"), str(toml), str(work), str(workers)]
    )
    shutil.rmtree(work, ignore_errors=True)
    res = json.loads(out.strip().splitlines()[-1])
    return {**res, "workers": workers, "peak_rss": peak, "voxels_per_s": res["voxels"] / res["seconds"]}


def median_scans(runs: list[dict]) -> dict:
    """Medians of a worker count's scans (counts from the first: they are the same every run)."""
    first = runs[0]
    med = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "voxels_per_s", "peak_rss", "rss_before_scan")}
    per_core = med["voxels_per_s"] / first["workers"]
    keep = ("voxels", "chunks", "chunk", "mitochondria", "box_voxels", "workers")
    return {**{k: first[k] for k in keep}, **med, "voxels_per_s_per_core": per_core, "all_s": [r["seconds"] for r in runs]}


def measure_scans(volumes: dict[str, Path], runs: int, tmp: Path) -> dict:
    """Scans of every volume with 1 and 2 workers, ``runs`` rounds alternating; medians."""
    done: dict[str, dict[int, list[dict]]] = {k: {1: [], 2: []} for k in volumes}
    for i in range(runs):
        for key, toml in volumes.items():
            for workers in (1, 2):
                r = scan(toml, workers, tmp / f"scan-{key}-{workers}-{i}")
                log.info("scan %s, %d worker(s), run %d/%d: %.1f s, %d chunks, %.3g voxels, peak %.0f MB",
                         key, workers, i + 1, runs, r["seconds"], r["chunks"], r["voxels"], r["peak_rss"] / 1e6)  # fmt: skip
                done[key][workers].append(r)
    return {key: {str(w): median_scans(rs) for w, rs in by_w.items()} for key, by_w in done.items()}


def measure_builds(toml: Path, cells: int, seed: int, workers: int, runs: int, tmp: Path) -> dict:
    """``build --source volume`` (scan folder deleted first) beside the demo build of
    ``demo-raw/``, alternating, each in a fresh process; medians of ``runs``."""
    py = [sys.executable, "-m", "builder", "build", "--workers", str(workers)]
    cmds = {
        "volume": py + ["--source", "volume", "--volume", str(toml)],
        "demo": py + ["--raw-dir", str(toml.parent / "demo-raw"), "--cells", str(cells), "--seed", str(seed)],
    }
    times: dict[str, list[float]] = {"volume": [], "demo": []}
    peaks: dict[str, list[int]] = {"volume": [], "demo": []}
    for i in range(runs):
        for key, cmd in cmds.items():
            shutil.rmtree(toml.parent / f"{toml.stem}.scan", ignore_errors=True)  # the scan is part of the build
            out = tmp / f"build-{key}-{i}"
            _, seconds, peak = run_sampled([*cmd, "--out", str(out)])
            if i < runs - 1:  # the last run's datasets are compared (agreement)
                shutil.rmtree(out, ignore_errors=True)
            log.info("build %s, run %d/%d: %.1f s, peak %.0f MB", key, i + 1, runs, seconds, peak / 1e6)
            times[key].append(seconds)
            peaks[key].append(peak)
    res = {k: {"seconds": statistics.median(times[k]), "peak_rss": statistics.median(peaks[k]), "all_s": times[k]} for k in cmds}
    last = {k: str(tmp / f"build-{k}-{runs - 1}") for k in cmds}
    return {**res, "ratio": res["volume"]["seconds"] / res["demo"]["seconds"], "workers": workers, "runs": runs, "last": last}


def agreement(demo: Path, volume: Path) -> dict:
    """How the dataset built from the volume agrees with the demo build of the same cells (issue
    30's criteria): cells and ids, mitochondria found (each once), the cell and compartment of each,
    skeleton node labels, mitochondrial volume (relative error), each synapse's nearest mitochondrion."""
    import numpy as np
    import pandas as pd

    def t(d: Path, n: str) -> pd.DataFrame:
        return pd.read_parquet(d / "tables" / f"{n}.parquet")

    cd, cv = t(demo, "cells"), t(volume, "cells")
    md, mv = t(demo, "mitochondria"), t(volume, "mitochondria")
    x = md.merge(mv, on="mito_id", suffixes=("_d", "_v"))
    nodes = t(demo, "skeleton_nodes").merge(t(volume, "skeleton_nodes"), on=["cell_id", "node_id"], suffixes=("_d", "_v"))
    rel = ((x["volume_um3_v"] - x["volume_um3_d"]).abs() / x["volume_um3_d"]).to_numpy()
    key = ["synapse_id", "cell_id", "synapse_type"]
    s = t(demo, "synapses").merge(t(volume, "synapses"), on=key, suffixes=("_d", "_v"))
    near_d, near_v = s["nearest_mito_id_d"].fillna(-1), s["nearest_mito_id_v"].fillna(-1)
    built = near_d.isin(mv["mito_id"]) | (near_d == -1)
    return {
        "cells_equal": cd["cell_id"].tolist() == cv["cell_id"].tolist(), "cells": len(cv),
        "mito_demo": len(md), "mito_built": len(mv), "mito_unique": bool(mv["mito_id"].is_unique),
        "mito_not_in_demo": int((~mv["mito_id"].isin(md["mito_id"])).sum()),
        "cellid_same": float((x["cellid_d"] == x["cellid_v"]).mean()),
        "compartment_same": float((x["compartment_d"] == x["compartment_v"]).mean()),
        "nodes": len(nodes), "label_same": float((nodes["label_d"] == nodes["label_v"]).mean()),
        "volume_error": [float(np.median(rel)), float(np.percentile(rel, 95)), float(rel.max())],
        "synapse_rows": len(s), "nearest_same": float((near_d == near_v).mean()),
        "nearest_same_built": float((near_d[built] == near_v[built]).mean()),
    }  # fmt: skip


def ensure_volume(folder: Path, res: tuple[float, ...], cells: int | tuple[int, ...]) -> Path:
    """The VOLUME.toml of the demo written at ``res`` into ``folder`` (reused when already there)."""
    from builder.sources.demo.as_volume import summary_text, write_demo_as_volume
    from builder.sources.volume_config import load_volume_config

    toml = folder / "VOLUME.toml"
    if toml.is_file():
        cfg = load_volume_config(toml)
        n = cells if isinstance(cells, int) else len(cells)
        if tuple(cfg.cells.resolution_nm) == tuple(res) and cfg.cells.build is not None and len(cfg.cells.build) == n:
            log.info("reusing the demo volume %s", folder)
            return toml
    log.info("writing the demo (%s cells) as a volume at %s nm into %s (not measured)", cells, list(res), folder)
    t = time.perf_counter()
    summary = write_demo_as_volume(folder, tuple(res), cells)
    log.info("written in %.0f s:\n%s", time.perf_counter() - t, summary_text(summary))
    return toml


def prepare(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, Path], int, int]:
    """The two volumes (``--resolution`` and twice its voxel side), the cells and the seed."""
    from builder.sources.volume_config import load_volume_config

    root = args.keep or tmp
    if args.volume is not None:
        large = args.volume / "VOLUME.toml"
        cfg = load_volume_config(large)
        res = tuple(float(v) for v in cfg.cells.resolution_nm)
    else:
        res = args.resolution
        large = ensure_volume(root / _tag(res), res, args.cells)
    marker = json.loads((large.parent / "demo-raw" / "demo_volume.json").read_text())
    ids = load_volume_config(large).cells.build or ()
    cells = marker["cells"] if marker["cells"] == len(ids) else tuple(ids)  # N cells, or ids of the 40-cell demo
    coarse = tuple(2 * v for v in res)
    small = ensure_volume(root / _tag(coarse), coarse, cells)
    return {_tag(res): large, _tag(coarse): small}, int(marker["cells"]), int(marker["seed"])


def _tag(res: tuple[float, ...]) -> str:
    return "x".join(f"{v:g}" for v in res)


def _rows(res: dict, large: str, small: str) -> list[tuple[str, str, str]]:
    """The printed table: (what, value, note)."""
    s, b = res["scan"], res["build"]
    one, two = s[large]["1"], s[large]["2"]
    rows = []
    for r in (one, two):
        w = r["workers"]
        rows.append((f"scan, {w} worker{'s' if w > 1 else ''}", f"{r['seconds']:.1f} s",
                     f"{r['voxels_per_s']:.3g} voxels/s, {r['voxels_per_s_per_core']:.3g} voxels/s/core"))  # fmt: skip
    rows.append(("scan 2 workers / 1 worker, voxels/s", f"{two['voxels_per_s'] / one['voxels_per_s']:.2f}x", ""))
    rows.append(
        ("scan 2 workers / 1 worker, voxels/s/core", f"{two['voxels_per_s_per_core'] / one['voxels_per_s_per_core']:.2f}x", "")
    )
    for key in (large, small):
        for w in ("1", "2"):
            r = s[key][w]
            rows.append((f"peak memory, {key} nm, {w} worker{'s' if w == '2' else ''}", f"{r['peak_rss'] / 1e6:.0f} MB",
                         f"{r['voxels']:.3g} voxels, {r['chunks']} chunks; {r['rss_before_scan'] / 1e6:.0f} MB before the scan"))  # fmt: skip
    for w in ("1", "2"):
        ratio = s[large][w]["peak_rss"] / s[small][w]["peak_rss"]
        rows.append((f"peak memory {large} / {small}, {w} worker{'s' if w == '2' else ''}", f"{ratio:.2f}x", ""))
    rows.append((f"voxels scanned {large} / {small}", f"{s[large]['1']['voxels'] / s[small]['1']['voxels']:.2f}x", ""))
    rows.append((f"volume box voxels {large} / {small}", f"{s[large]['1']['box_voxels'] / s[small]['1']['box_voxels']:.2f}x",
                 "the scan reads only the chunks holding mitochondria"))  # fmt: skip
    rows.append(
        (
            "build --source volume (scan folder deleted)",
            f"{b['volume']['seconds']:.1f} s",
            f"peak {b['volume']['peak_rss'] / 1e6:.0f} MB",
        )
    )
    rows.append(
        ("build of demo-raw/, the same cells", f"{b['demo']['seconds']:.1f} s", f"peak {b['demo']['peak_rss'] / 1e6:.0f} MB")
    )
    rows.append(("build volume / demo", f"{b['ratio']:.2f}x", ""))
    a = res["agreement"]
    rows += [
        ("agreement: cells equal", str(a["cells_equal"]), f"{a['cells']} cells"),
        ("agreement: mitochondria built", f"{a['mito_built']}", f"of {a['mito_demo']} in the demo build; each once: "
         f"{a['mito_unique']}; not in the demo: {a['mito_not_in_demo']}"),
        ("agreement: cell of each mitochondrion", f"{100 * a['cellid_same']:.2f} %", ""),
        ("agreement: compartment of each mitochondrion", f"{100 * a['compartment_same']:.2f} %", ""),
        ("agreement: skeleton node labels", f"{100 * a['label_same']:.2f} %", f"{a['nodes']} nodes"),
        ("agreement: volume error median", f"{100 * a['volume_error'][0]:.2f} %",
         f"95th percentile {100 * a['volume_error'][1]:.2f} %, max {100 * a['volume_error'][2]:.2f} %"),
        ("agreement: nearest mitochondrion", f"{100 * a['nearest_same']:.2f} %",
         f"of {a['synapse_rows']} synapse rows; {100 * a['nearest_same_built']:.2f} % where the demo's is built"),
    ]  # fmt: skip
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=3, help="cells of the demo written as a volume")
    ap.add_argument("--resolution", type=lambda s: tuple(float(v) for v in s.split(",")), default=(16.0, 16.0, 40.0),
                    metavar="X,Y,Z", help="voxel size (nm) of the first volume; the second has twice its side")  # fmt: skip
    ap.add_argument("--runs", type=int, default=3, help="runs of each measurement (median reported)")
    ap.add_argument("--workers", type=int, default=2, help="workers of both whole builds")
    ap.add_argument("--keep", type=Path, default=None, metavar="DIR", help="write (or reuse) the volumes under DIR")
    ap.add_argument("--volume", type=Path, default=None, metavar="DIR",
                    help="a volume written by `demo --as-volume DIR` (its cells and resolution; --cells and --resolution unused)")  # fmt: skip
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/volume.json"), help="where the figures are written")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        volumes, cells, seed = prepare(args, tmp)
        large, small = volumes
        res = {"volumes": {k: str(v) for k, v in volumes.items()}, "cells": cells, "runs": args.runs}
        res["scan"] = measure_scans(volumes, args.runs, tmp)
        res["build"] = measure_builds(volumes[large], cells, seed, args.workers, args.runs, tmp)
        res["agreement"] = agreement(Path(res["build"]["last"]["demo"]), Path(res["build"]["last"]["volume"]))
    chunk = res["scan"][large]["1"]["chunk"]
    print(f"\nthe demo ({cells} cells) as a volume at {large} nm (and {small} nm), median of {args.runs}; "
          f"scan chunks of {' x '.join(map(str, chunk))} voxels; memory: peak RSS of the process and its workers summed "
          f"(psutil, every {SAMPLE_S * 1000:.0f} ms); builds with --workers {args.workers}")  # fmt: skip
    rows = _rows(res, large, small)
    w = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"  {r[0]:<{w}}  {r[1]:>10}  {r[2]}".rstrip())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
