"""``python -m builder analyze`` on a built dataset: wall time, median of ``--runs``.

Times the whole command as a user runs it (dataset read, published statistics, CSVs, JSON and
the three PNG figures) and, separately, the statistics alone
(:func:`builder.compute.statistics.published_analysis` on frames already in memory), so the
cost of reading and drawing shows beside the cost of the numbers. Target: under 30 s on the
450-cell demo (``python benchmarks/bench_scale.py --cells 450 --keep data/bench450`` builds it).

Usage: ``python benchmarks/bench_analyze.py --data data/bench450 [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from builder.analysis import Scope
from builder.compute.statistics import published_analysis
from builder.store.reader import Dataset


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/bench450"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/analyze.json"), help="where the figures are written")
    args = ap.parse_args()
    if not (args.data / "manifest.json").is_file():
        print(f"{args.data} is not a built dataset: build one with `python -m builder build --cells 450 --out {args.data}`")
        return 2
    cli = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):  # the command a user types, in a fresh process each time
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "builder", "analyze", str(args.data), "--out", f"{tmp}/{i}"], check=True,
                           capture_output=True)  # fmt: skip
            cli.append(time.perf_counter() - t)
    t = time.perf_counter()
    ds = Dataset.open(args.data)
    ids = Scope().select(ds)
    mito, seg = ds.mitochondria, ds.segments
    read_s = time.perf_counter() - t
    compute = []
    for _ in range(args.runs):
        t = time.perf_counter()
        r = published_analysis(mito, seg, ids)
        compute.append(time.perf_counter() - t)
    n_cells, n_mito, n_seg = len(ds.cells), len(mito), len(seg)
    res = {"cells": n_cells, "mitochondria": n_mito, "segments": n_seg, "pyramidal_in_scope": int(len(ids)),
           "analyze_cli_s": statistics.median(cli), "read_s": read_s, "statistics_s": statistics.median(compute),
           "segments_filtered": int(len(r.segments))}  # fmt: skip
    print(f"\n{args.data}: {n_cells} cells, {n_mito} mitochondria, {n_seg} segments ({len(ids)} pyramidal cells in scope); "
          f"median of {args.runs}")  # fmt: skip
    rows = [("python -m builder analyze (read, statistics, CSV, JSON, PNG), target < 30 s", f"{res['analyze_cli_s']:.2f} s"),
            ("  dataset tables read", f"{read_s:.2f} s"),
            ("  statistics alone (published_analysis)", f"{res['statistics_s']:.2f} s"),
            ("  statistics / whole command", f"{res['statistics_s'] / res['analyze_cli_s']:.2f}x")]  # fmt: skip
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a:<{w}}  {b:>10}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
