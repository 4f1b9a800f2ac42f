"""Shared fixtures: a small demo volume and dataset built once per session, real samples."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.config import BuildConfig, DemoParams
from builder.pipeline import build_dataset
from builder.sources.demo import generate_demo_volume

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"
#: Real rows of the official Phase 1 tables shipped with the project (CC BY 4.0, see NOTICE.md).
PHASE1_ROWS = REPO / "tests" / "fixtures" / "phase1"
SMALL = DemoParams(seed=7, cells=6)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Larger reference samples of real MICrONS tables (third-party derived files the project does
    not ship) next to the repository; the tests that need them are skipped when they are absent."""
    if not REALDATA.is_dir():
        pytest.skip(
            f"the larger reference tests need third-party samples of the real MICrONS tables, not shipped with "
            f"the project (looked for them in {REALDATA})"
        )
    return REALDATA


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory) -> Path:
    """A 6-cell demo volume in the published layout (read-only: copy before damaging)."""
    raw = tmp_path_factory.mktemp("raw") / "demo"
    generate_demo_volume(raw, SMALL, workers=1)
    return raw


@pytest.fixture(scope="session")
def small_dataset(small_raw, tmp_path_factory) -> Path:
    """The dataset built from :func:`small_raw` (read-only)."""
    out = tmp_path_factory.mktemp("ds") / "demo"
    cfg = BuildConfig(source="demo", raw_dir=small_raw, out_dir=out, demo=SMALL, workers=1)
    res = build_dataset(cfg, generate_demo_volume(small_raw, SMALL))
    assert res.complete
    return out


@pytest.fixture()
def raw_copy(small_raw, tmp_path) -> Path:
    """A private copy of the small demo volume, free to damage."""
    dst = tmp_path / "raw"
    shutil.copytree(small_raw, dst)
    return dst


@pytest.fixture(scope="session")
def default_raw(tmp_path_factory) -> Path:
    """The default 40-cell demo volume (read-only), as ``python -m builder`` generates it."""
    raw = tmp_path_factory.mktemp("default") / "raw"
    generate_demo_volume(raw, DemoParams(), workers=2)
    return raw


@pytest.fixture(scope="session")
def default_dataset(default_raw) -> Path:
    """The default 40-cell demo, built as ``python -m builder`` does."""
    out = default_raw.parent / "demo"
    params = DemoParams()
    cfg = BuildConfig(source="demo", raw_dir=default_raw, out_dir=out, demo=params, workers=2)
    assert build_dataset(cfg, generate_demo_volume(default_raw, params)).complete
    return out
