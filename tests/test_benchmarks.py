"""Every benchmark under ``benchmarks/`` runs end to end at a tiny size and prints its figures.

A change that breaks a benchmark (a callback that gains an input, a renamed column) fails
here instead of on the day someone reruns the README's figures. Sizes are tiny: the numbers
mean nothing, the ratios and the rows must be there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

RATIO = r"\d+(\.\d+)?x"
BENCHMARKS = sorted(p.name for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith(("_", "dash_")))


def _run(script: str, *args: str, timeout: float = 900) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, f"benchmarks/{script}", *args], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=timeout)  # fmt: skip
    assert r.returncode == 0, f"{script} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def _line(out: str, start: str) -> str:
    rows = [ln for ln in out.splitlines() if ln.strip().startswith(start)]
    assert rows, f"no line starting with {start!r} in:\n{out[-3000:]}"
    return rows[0]


def test_every_benchmark_has_a_smoke_test():
    here = Path(__file__).read_text()
    missing = [b for b in BENCHMARKS if f'"{b}"' not in here]
    assert not missing, f"benchmarks without a smoke test in {Path(__file__).name}: {missing}"


@pytest.mark.slow
def test_bench_build(tmp_path):
    # the side-by-side build against a baseline checkout, here this very code (ratio about 1)
    out = _run("bench_build.py", "--runs", "1", "--no-large", "--cells", "4", "--workers", "1", "--json", str(tmp_path / "b.json"),
               "--baseline", str(REPO))  # fmt: skip
    assert re.search(r"default demo \(4 cells\), median of 1\s+\d+\.\d s", out), out
    assert re.search(r"association speed-up \(target >= 50x\)\s+" + RATIO, out), out
    assert re.search(r"this code / baseline \(target <= 1.10x\)\s+\d+\.\d\dx", out), out
    res = json.loads((tmp_path / "b.json").read_text())
    assert res["association"]["ratio"] > 1 and res["default"]["mitochondria"] > 0
    assert 0.3 < res["side_by_side"]["ratio"] < 3


@pytest.mark.slow
def test_bench_scale(tmp_path):
    out = _run("bench_scale.py", "--cells", "4", "--json", str(tmp_path / "s.json"))
    for mode in ("1 worker", "2 local workers", "Dask LocalCluster, 2 workers"):
        assert re.search(re.escape(mode) + r"\s+\d+\.\ds\s+\d+\.\d\dx\s+\d+\.\d\d GB", _line(out, mode)), out
    assert "identical manifest checksums in all modes: True" in out


def test_bench_volume(tmp_path):
    # 1 cell at 128 x 128 x 160 nm (and 256 x 256 x 320): the scan with 1 and 2 workers, its memory, both builds
    out = _run("bench_volume.py", "--cells", "1", "--resolution", "128,128,160", "--runs", "1", "--keep", str(tmp_path / "v"),
               "--json", str(tmp_path / "v.json"))  # fmt: skip
    for row in ("scan, 1 worker", "scan, 2 workers"):
        assert re.search(r"\d+\.\d s\s+\S+ voxels/s, \S+ voxels/s/core$", _line(out, row)), out
    for size in ("128x128x160", "256x256x320"):
        for row in (f"peak memory, {size} nm, 1 worker", f"peak memory, {size} nm, 2 workers"):
            assert re.search(r"\d+ MB\s+\S+ voxels, \d+ chunks; \d+ MB before the scan$", _line(out, row)), out
    assert re.search(RATIO + r"\s+the scan reads only the chunks holding mitochondria$",
                     _line(out, "volume box voxels 128x128x160 / 256x256x320")), out  # fmt: skip
    assert re.search(r"\d+\.\d s\s+peak \d+ MB$", _line(out, "build --source volume (scan folder deleted)")), out
    assert re.search(r"\d+\.\d s\s+peak \d+ MB$", _line(out, "build of demo-raw/, the same cells")), out
    for row in ("scan 2 workers / 1 worker, voxels/s", "scan 2 workers / 1 worker, voxels/s/core",
                "peak memory 128x128x160 / 256x256x320, 1 worker", "peak memory 128x128x160 / 256x256x320, 2 workers",
                "voxels scanned 128x128x160 / 256x256x320", "build volume / demo"):  # fmt: skip
        assert re.search(RATIO + "$", _line(out, row)), out
    res = json.loads((tmp_path / "v.json").read_text())
    scans = res["scan"]["128x128x160"]
    assert scans["1"]["mitochondria"] == scans["2"]["mitochondria"] > 0  # the same scan whatever the workers
    assert scans["1"]["voxels"] > res["scan"]["256x256x320"]["1"]["voxels"] > 0 and res["build"]["ratio"] > 0
    assert _line(out, "agreement: cells equal").split()[3] == "True"
    for row in ("agreement: cell of each mitochondrion", "agreement: skeleton node labels", "agreement: nearest mitochondrion"):
        assert re.search(r"\d+\.\d\d %", _line(out, row)), out
    a = res["agreement"]  # even this coarse grid keeps labels and cells (the suite's test_volume_source checks more)
    assert a["cells_equal"] and a["mito_unique"] and a["mito_not_in_demo"] == 0 and a["label_same"] > 0.99


def test_bench_explorer(small_dataset, tmp_path):
    out = _run("bench_explorer.py", "--data", str(small_dataset), "--runs", "1", "--json", str(tmp_path / "e.json"))
    assert re.search(r"\d+ ms$", _line(out, "explorer cell view, server time, cold"))
    for row in ("navis / explorer time, cold", "navis / explorer payload"):
        assert re.search(RATIO + "$", _line(out, row)), out
    for view in ("gradients (its cell type)", "dendrogram", "several cells (4) in 3D"):
        assert re.search(r"\d+ / \d+ ms$", _line(out, view)), out


def test_bench_browser(small_dataset, tmp_path):
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it")
        pytest.skip("Debian chromium not installed: run `make browser`")
    out = _run("bench_browser.py", "--data", str(small_dataset), "--small", str(small_dataset), "--runs", "1",
               "--json", str(tmp_path / "w.json"))  # fmt: skip
    for row in ("explorer start-up", "all-cells scatter, time to first paint", "box selection answered by the server",
                "landing page, time to first paint", "open a cell by its link", "switch cells"):  # fmt: skip
        assert re.search(r"\d+\.\d\ds\s+\d+\.\d\ds\s+" + RATIO, _line(out, row)), out
    assert json.loads((tmp_path / "w.json").read_text())["plotly_bundle"]["sizes"]["bundle"]["bytes"] > 0


def test_bench_layers(small_dataset, tmp_path):
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it")
        pytest.skip("Debian chromium not installed: run `make browser`")
    before = sorted(p.name for p in (small_dataset / "precomputed").rglob("*"))
    out = _run("bench_layers.py", "--data", str(small_dataset), "--runs", "1", "--json", str(tmp_path / "l.json"))
    for layer in ("skeletons", "mitochondria", "synapses", "mito_centres", "all layers"):
        assert re.search(r"\s+\d+\s+\d+\.\d\s+\d+\.\d\d$", _line(out, layer)), out
    for row in ("legacy / sharded files", "legacy / sharded bytes", "cloud-volume / this project", "densest / sparsest"):
        assert re.search(RATIO + "$", _line(out, row)), out
    assert "identical files: True" in out
    assert re.search(r"densest pyramidal cell \d+ \(\d+ mitochondria\)\s+\d+\.\d\d s", out), out
    res = json.loads((tmp_path / "l.json").read_text())
    assert res["write"]["mitochondria"]["files"] < res["write"]["mitochondria"]["legacy_files"]
    assert sorted(p.name for p in (small_dataset / "precomputed").rglob("*")) == before  # the dataset's own layers untouched


def test_bench_analyze(small_dataset, tmp_path):
    out = _run("bench_analyze.py", "--data", str(small_dataset), "--runs", "1", "--json", str(tmp_path / "a.json"))
    assert re.search(r"python -m builder analyze .*target < 30 s\s+\d+\.\d\d s", out), out
    assert re.search(r"statistics / whole command\s+" + RATIO, out), out
    assert json.loads((tmp_path / "a.json").read_text())["segments"] > 0


def test_load_test(small_dataset):
    out = _run("load_test.py", "--data", str(small_dataset), "--clients", "2", "--iterations", "1", "--workers", "1",
               "--max-seconds", "240")  # fmt: skip
    assert "errors 0" in out and "ratio" in out, out


def test_eval_axon_split(small_raw):
    out = _run("eval_axon_split.py", "--raw", str(small_raw))
    assert re.search(r"pyramidal\s+n=\s*\d+\s+axon recall median \d\.\d{3}", out), out


def test_skeleton_distances(small_dataset):
    out = _run("skeleton_distances.py", str(small_dataset))
    row = _line(out, str(small_dataset))
    assert len(re.findall(r"\d+\.\d\d", row)) == 4, row


def test_fit_mito_shapes(realdata):
    out = _run("fit_mito_shapes.py", str(realdata / "layer23-volume"))
    assert re.search(r"183663 mitochondria from 3 files", out), out
    for comp in ("Axonal", "Basal", "Apical", "Somatic"):
        assert _line(out, comp)
