"""Phase-1-scale build: 1 worker, 2 local workers and a 2-worker Dask LocalCluster, side by side.

For each way of running the ``--cells 450`` demo build (the raw volume is generated once and
shared) it prints the wall time (median of ``--runs``), the speed-up against 1 worker, the peak
memory of the whole process tree (resident set sizes of the main process and every worker,
summed, sampled every 0.1 s with psutil), and the per-mitochondrion cost of each stage
(read, morphometrics, association, write; CPU seconds summed over cells / mitochondria).

Usage: ``python benchmarks/bench_scale.py [--cells 450] [--runs 1] [--keep data/bench450]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from builder.config import BuildConfig, DemoParams
from builder.pipeline import build_dataset
from builder.sources.demo import generate_demo_volume
from builder.store.manifest import read_manifest
from builder.store.paths import DatasetPaths


class PeakRSS:
    """Peak of the summed RSS of this process and all its descendants."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def one_build(raw: Path, out: Path, params: DemoParams, workers: int, scheduler: str | None, src) -> dict:
    cfg = BuildConfig(raw_dir=raw, out_dir=out, demo=params, workers=workers, scheduler=scheduler)
    with PeakRSS() as mem:
        t = time.perf_counter()
        res = build_dataset(cfg, src)
        wall = time.perf_counter() - t
    assert res.complete
    return {"wall_s": wall, "peak_rss_gb": mem.peak / 1e9, "timings": res.timings,
            "files": read_manifest(DatasetPaths(out))["files"]}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=450)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="keep the 2-worker dataset here (for bench_browser.py)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/scale.json"), help="where the figures are written")
    args = ap.parse_args()
    params = DemoParams(seed=1, cells=args.cells)
    modes = [("1 worker", 1, None), ("2 local workers", 2, None), ("Dask LocalCluster, 2 workers", 2, "local")]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        t = time.perf_counter()
        src = generate_demo_volume(raw, params, workers=2)
        gen_s = time.perf_counter() - t
        for name, workers, scheduler in modes:
            runs = [
                one_build(raw, Path(tmp) / f"{workers}{scheduler}{i}", params, workers, scheduler, src) for i in range(args.runs)
            ]
            results[name] = {
                "wall_s": statistics.median(r["wall_s"] for r in runs),
                "peak_rss_gb": max(r["peak_rss_gb"] for r in runs),
                "timings": runs[0]["timings"],
                "files": runs[0]["files"],
            }
        if args.keep is not None:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(Path(tmp) / "2None0", args.keep)
    same = len({json.dumps(r["files"], sort_keys=True) for r in results.values()}) == 1
    base = results["1 worker"]["wall_s"]
    n_mito = results["1 worker"]["timings"]["mitochondria"]
    print(
        f"\n--cells {args.cells}: {n_mito} mitochondria; raw volume generated once in {gen_s:.1f} s; median of {args.runs} run(s)"
    )
    print(f"{'mode':<30} {'build':>9} {'speed-up':>9} {'peak RSS (all processes)':>26}")
    for name, r in results.items():
        print(f"{name:<30} {r['wall_s']:>8.1f}s {base / r['wall_s']:>8.2f}x {r['peak_rss_gb']:>24.2f} GB")
    print(f"identical manifest checksums in all modes: {same}")
    us = results["1 worker"]["timings"]["us_per_mito"]
    print(
        "per mitochondrion (1 worker): "
        + ", ".join(f"{k} {v:.0f} us" for k, v in us.items())
        + f" (total {sum(us.values()):.0f} us)"
    )
    out = args.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {k: {kk: vv for kk, vv in v.items() if kk != "files"} for k, v in results.items()} | {"identical": same}, indent=2
        )
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
