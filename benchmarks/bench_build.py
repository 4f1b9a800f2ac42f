"""Builder benchmark: build times and association speed against the naive approach.

Prints, side by side in one run:

1. the default demo build (40 cells; volume generation and dataset build), median of N runs;
2. the Phase-1-sized build (``--cells 450``), once (skip with ``--no-large``);
3. association time per mitochondrion on the largest demo cell: the builder's vectorised
   code against the naive approach (one KD-tree query per vertex in a Python loop, counted
   with ``collections.Counter``), medians and the ratio; both must give the same answer.

4. with ``--baseline DIR`` (a checkout of an earlier commit, e.g. ``git worktree add /tmp/base
   <commit>``), the same build of the same raw volume by that code and by this one, side by
   side, medians and the ratio: the cost of a change to the builder, on identical inputs.

Usage: ``python benchmarks/bench_build.py [--runs 3] [--workers 2] [--no-large] [--baseline DIR]``
"""

from __future__ import annotations

import os

# single-threaded on both sides of the association comparison (pykdtree uses OpenMP)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from builder.compute.association import associate, majority_labels, nearest_nodes
from builder.compute.compartments import map_node_labels
from builder.config import BuildConfig, DemoParams
from builder.pipeline import build_dataset
from builder.sources.demo import demo_source, generate_demo_volume


def timed_build(root: Path, cells: int, workers: int) -> tuple[float, float, int]:
    params = DemoParams(seed=1, cells=cells)
    t0 = time.perf_counter()
    src = generate_demo_volume(root / "raw", params, workers=workers)
    t1 = time.perf_counter()
    res = build_dataset(BuildConfig(raw_dir=root / "raw", out_dir=root / "ds", demo=params, workers=workers), src)
    t2 = time.perf_counter()
    assert res.complete
    return t1 - t0, t2 - t1, res.counts["mitochondria"]


def naive_associate(nodes: np.ndarray, labels: np.ndarray, vertices: np.ndarray, owner: np.ndarray, n: int):
    """One KD-tree query per vertex in a Python loop, votes counted with Counter."""
    tree = cKDTree(nodes)
    covered: list[set[int]] = [set() for _ in range(n)]
    vcount: list[Counter] = [Counter() for _ in range(n)]
    for v, i in zip(vertices, owner):
        _, node = tree.query(v)
        covered[i].add(int(node))
        vcount[i][int(labels[node])] += 1
    out = []
    for i in range(n):
        votes = Counter(int(labels[k]) for k in covered[i])
        best = max(votes.values())
        tied = [c for c, k in votes.items() if k == best]
        out.append(min(tied, key=lambda c: (-vcount[i][c], c)))
    return [sorted(c) for c in covered], np.array(out)


def bench_association(raw: Path, repeats: int) -> dict:
    src = demo_source(raw)
    tables = src.tables()
    counts = tables.mitochondria.groupby("cellid").size()
    neurons = tables.cells.loc[tables.cells.cell_type != "astrocyte", "cell_id"]
    cid = int(counts.loc[counts.index.isin(neurons)].idxmax())
    sk = src.skeleton(cid)
    labels = map_node_labels(sk.labels, src.label_names)
    batch, _ = src.meshes(cid, tables.mitochondria.loc[tables.mitochondria.cellid == cid, "mito_id"].to_numpy())
    owner = batch.vertex_owner()

    def fast():
        node, _ = nearest_nodes(sk.vertices, batch.vertices)
        a = associate(owner, node, batch.n, len(sk.vertices))
        return a, majority_labels(a, labels)

    fast()  # warm-up (imports, allocator)
    fast_t = []
    for _ in range(repeats):
        t = time.perf_counter()
        a, lab = fast()
        fast_t.append(time.perf_counter() - t)
    slow_t = []
    for _ in range(3):
        t = time.perf_counter()
        cov, slow_lab = naive_associate(sk.vertices, labels, batch.vertices, owner, batch.n)
        slow_t.append(time.perf_counter() - t)
    assert [x.tolist() for x in a.split()] == cov and np.array_equal(lab, slow_lab), "results differ"
    f, s = statistics.median(fast_t), statistics.median(slow_t)
    return {
        "cell_id": cid,
        "mitochondria": batch.n,
        "vertices": int(len(batch.vertices)),
        "vectorised_us_per_mito": f / batch.n * 1e6,
        "naive_us_per_mito": s / batch.n * 1e6,
        "ratio": s / f,
    }


#: Builds a demo volume already on disk with whichever builder is on PYTHONPATH (the API both
#: sides share; the CLI would regenerate a volume made by another generator version).
_BUILD_SNIPPET = (
    "import sys; from pathlib import Path; from builder.config import BuildConfig, DemoParams; "
    "from builder.pipeline import build_dataset; from builder.sources.demo import demo_source; "
    "raw, out, w, seed, cells = sys.argv[1:]; "
    "r = build_dataset(BuildConfig(raw_dir=Path(raw), out_dir=Path(out), demo=DemoParams(seed=int(seed), cells=int(cells)), "
    "workers=int(w)), demo_source(Path(raw))); sys.exit(0 if r.complete else 3)"
)


def side_by_side(baseline: Path, raw: Path, tmp: Path, runs: int, workers: int) -> dict:
    """The build of the demo volume ``raw`` by the baseline checkout and by this code,
    alternating, each in a fresh process; medians of ``runs``."""
    import subprocess

    here = Path(__file__).resolve().parents[1]
    marker = json.loads((raw / "demo_volume.json").read_text())
    times: dict[str, list[float]] = {"baseline": [], "current": []}
    for i in range(runs):
        for name, code in (("baseline", Path(baseline).resolve()), ("current", here)):
            out = tmp / f"sbs-{name}-{i}"
            cmd = [
                sys.executable,
                "-c",
                _BUILD_SNIPPET,
                str(raw),
                str(out),
                str(workers),
                str(marker["seed"]),
                str(marker["cells"]),
            ]
            t = time.perf_counter()
            subprocess.run(cmd, cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, check=True, capture_output=True)
            times[name].append(time.perf_counter() - t)
    b, c = statistics.median(times["baseline"]), statistics.median(times["current"])
    return {"baseline_s": b, "current_s": c, "ratio": c / b, "runs": runs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs of the default build (median reported)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-large", action="store_true", help="skip the 450-cell build")
    ap.add_argument("--cells", type=int, default=40, help="cells of the default build (40; the smoke test uses fewer)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/build.json"))
    ap.add_argument("--baseline", type=Path, default=None, help="checkout of earlier code to build the same raw volume with")
    args = ap.parse_args()
    results: dict = {"workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        runs = [timed_build(Path(tmp) / f"r{i}", args.cells, args.workers) for i in range(args.runs)]
        results["default"] = {
            "volume_s": statistics.median(r[0] for r in runs),
            "build_s": statistics.median(r[1] for r in runs),
            "total_s": statistics.median(r[0] + r[1] for r in runs),
            "mitochondria": runs[0][2],
            "runs": args.runs,
        }
        results["association"] = bench_association(Path(tmp) / "r0" / "raw", repeats=15)
        if args.baseline is not None:
            results["side_by_side"] = side_by_side(args.baseline, Path(tmp) / "r0" / "raw", Path(tmp), args.runs, args.workers)
        if not args.no_large:
            v, b, n = timed_build(Path(tmp) / "large", 450, args.workers)
            results["cells_450"] = {"volume_s": v, "build_s": b, "total_s": v + b, "mitochondria": n}
    d, a = results["default"], results["association"]
    rows = [
        (
            f"default demo ({args.cells} cells), median of {d['runs']}",
            f"{d['total_s']:.1f} s",
            f"volume {d['volume_s']:.1f} s + build {d['build_s']:.1f} s, {d['mitochondria']} mitochondria",
        ),
    ]
    if "cells_450" in results:
        L = results["cells_450"]
        rows.append(
            (
                "--cells 450 (target < 300 s)",
                f"{L['total_s']:.1f} s",
                f"volume {L['volume_s']:.1f} s + build {L['build_s']:.1f} s, {L['mitochondria']} mitochondria",
            )
        )
    rows.append(
        (
            "association, vectorised",
            f"{a['vectorised_us_per_mito']:.1f} us/mito",
            f"cell {a['cell_id']}: {a['mitochondria']} mitos, {a['vertices']} vertices",
        )
    )
    rows.append(("association, naive loop + Counter", f"{a['naive_us_per_mito']:.1f} us/mito", ""))
    rows.append(("association speed-up (target >= 50x)", f"{a['ratio']:.0f}x", ""))
    if "side_by_side" in results:
        sb = results["side_by_side"]
        rows.append((f"build of the same volume, baseline {args.baseline}", f"{sb['baseline_s']:.1f} s", ""))
        rows.append(("build of the same volume, this code", f"{sb['current_s']:.1f} s", ""))
        rows.append(("this code / baseline (target <= 1.10x)", f"{sb['ratio']:.2f}x", f"median of {sb['runs']}"))
    w = max(len(r[0]) for r in rows)
    print(f"\nworkers={args.workers}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>16}  {r[2]}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    sys.exit(main())
