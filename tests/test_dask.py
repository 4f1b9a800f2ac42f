"""The per-cell work on Dask: a LocalCluster gives the same bytes, and survives a lost worker."""

from __future__ import annotations

from pathlib import Path

from builder.config import BuildConfig
from builder.pipeline import build_dataset
from builder.sources.demo import demo_source
from builder.store.manifest import read_manifest
from builder.store.paths import DatasetPaths
from tests.conftest import SMALL
from tests.faults import KillsItsWorker


def files_of(ds: Path) -> dict:
    return read_manifest(DatasetPaths(ds))["files"]


def test_local_cluster_matches_local_processes(small_raw, small_dataset, tmp_path):
    cfg = BuildConfig(raw_dir=small_raw, out_dir=tmp_path / "dask", demo=SMALL, workers=2, scheduler="local")
    res = build_dataset(cfg, demo_source(small_raw))
    assert res.complete and res.cells_computed == SMALL.cells
    assert files_of(tmp_path / "dask") == files_of(small_dataset)


def test_lost_worker_is_retried_without_losing_finished_cells(small_raw, small_dataset, tmp_path):
    inner = demo_source(small_raw)
    victim = int(inner.tables().cells.cell_id.iloc[3])
    src = KillsItsWorker(inner, victim, str(tmp_path / "killed"))
    cfg = BuildConfig(raw_dir=small_raw, out_dir=tmp_path / "ds", demo=SMALL, workers=2, scheduler="local")
    res = build_dataset(cfg, src)
    assert (tmp_path / "killed").exists()  # the fault happened
    assert res.complete and files_of(tmp_path / "ds") == files_of(small_dataset)


def test_scheduler_address(small_raw, small_dataset, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        cfg = BuildConfig(raw_dir=small_raw, out_dir=tmp_path / "ds", demo=SMALL, workers=1, scheduler=address)
        assert build_dataset(cfg, demo_source(small_raw)).complete
    assert files_of(tmp_path / "ds") == files_of(small_dataset)
