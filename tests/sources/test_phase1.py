"""The Phase 1 source end to end: records server + cloud-volume mesh layer on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

import builder.sources.phase1 as phase1
from builder.__main__ import EXIT_OK, EXIT_PARTIAL, main
from builder.compute.meshes import mesh_problems
from builder.sources.mesh_bundle import ABSENT_REASON, read_bundle
from builder.sources.published import MESH_DIR
from tests.conftest import SMALL
from tests.sources.phase1_fixture import published_records, write_mesh_layer
from tests.sources.records_server import serve


@pytest.fixture()
def demo_catalog(monkeypatch):
    """The real catalogue, minus the soma table's recorded md5 (the demo table is not the real one)."""
    files = tuple(dataclasses.replace(f, md5=None) for f in phase1.PHASE1_FILES)
    monkeypatch.setattr(phase1, "PHASE1_FILES", files)
    return files


def _build(base, raw, out, mesh_source, *extra) -> tuple[int, dict]:
    code = main(["build", "--source", "phase1", "--base-url", base, "--mesh-source", mesh_source,
                 "--raw-dir", str(raw), "--out", str(out), "--workers", "1", *extra])  # fmt: skip
    return code, json.loads((out / "build_report.json").read_text()) if (out / "build_report.json").exists() else {}


def test_phase1_build_equals_demo_build(small_raw, small_dataset, demo_catalog, tmp_path, capsys):
    static = tmp_path / "static"
    some = pd.read_parquet(small_dataset / "tables" / "mitochondria.parquet").mito_id.iloc[[3, 50]].tolist()
    write_mesh_layer(small_raw, static / "mito", drop=set(some))
    raw, out = tmp_path / "raw", tmp_path / "ds"
    layer = f"precomputed://file://{static / 'mito'}"  # over HTTP: test_meshes_over_http below
    with serve(published_records(small_raw)) as (srv, url):
        code, report = _build(url, raw, out, layer)
        assert code == EXIT_OK, report
        got = pd.read_parquet(out / "tables" / "mitochondria.parquet").set_index("mito_id")
        ref = pd.read_parquet(small_dataset / "tables" / "mitochondria.parquet").set_index("mito_id")
        assert got.index.equals(ref.index) and (got.compartment == ref.compartment).all()
        assert np.array_equal(got.volume_um3, ref.volume_um3)
        # the two dropped meshes (and the demo's own mesh-less ones): kept, measured from the table
        absent = set(some) | set(ref.index[ref.mesh_missing != ""])
        assert (got.loc[list(absent), "mesh_missing"] == ABSENT_REASON).all() and got.loc[
            list(absent), "surface_area"
        ].isna().all()
        assert {m["mito_id"] for m in report["mitochondria_without_mesh"]} == absent
        # every other mesh came through cloud-volume, its two fragments merged into a closed surface
        rest, ref_rest = got.drop(index=list(absent)), ref.drop(index=list(absent))
        assert (rest.mesh_missing == "").all() and len(rest) > 0.95 * len(got)
        assert np.allclose(rest.surface_area, ref_rest.surface_area, rtol=1e-5)
        assert np.allclose(rest.complexityindex, ref_rest.complexityindex, rtol=1e-4)
        assert (rest.n_nodes == ref_rest.n_nodes).all()
        # the release's layout: the archive's inner folder, no overlap table in any record
        assert (raw / "smoothed_skeletons_v185").is_dir() and not (raw / "211019_smoothed_skeletons.tgz").exists()
        check = report["input_checks"]["mito_cell_overlaps"]
        assert check.startswith("skipped: pni_mito_cell_overlaps_v185.csv not in") and "MicronsBinder" in check
        # positions: mesh centroids where both builds have the mesh, else the table's centre
        both = got.index[(got.mesh_missing == "") & (ref.mesh_missing == "")]
        assert np.allclose(got.loc[both, ["x", "y", "z"]], ref.loc[both, ["x", "y", "z"]], rtol=0, atol=0.05)
        off = np.abs(got.loc[list(absent), ["x", "y", "z"]].to_numpy() - ref.loc[list(absent), ["x", "y", "z"]].to_numpy())
        assert (off <= [1.8, 1.8, 20.0]).all()  # within half a 3.58 x 3.58 x 40 nm voxel
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["source"] == {"name": "phase1", "synthetic": False}
        assert manifest["units"]["mesh_scaling_nominal_to_em"] == [0.895, 0.895, 1.0]
        assert manifest["parameters"]["mesh_source"] == layer
        assert len(list((raw / MESH_DIR).glob("*.h5"))) == SMALL.cells  # the local mesh cache

        srv.requests.clear()  # a rerun: everything cached, nothing downloaded, nothing rebuilt
        (static / "mito" / "mesh").rename(static / "mito" / "gone")  # meshes come from the cache now
        capsys.readouterr()
        code, _ = _build(url, raw, out, layer)
        assert code == EXIT_OK and srv.requests == [] and ": up to date;" in capsys.readouterr().out


def test_meshes_over_http(small_raw, tmp_path):
    static = tmp_path / "static"
    batch, _ = read_bundle(next((small_raw / MESH_DIR).glob("*.h5")))
    write_mesh_layer(small_raw, static / "mito", drop={int(batch.ids[1])})
    ids = np.r_[batch.ids[:4], 123]
    with serve({}, static) as (srv, url):
        assert phase1.choose_mesh_source(f"precomputed://{url}/static/mito") == f"precomputed://{url}/static/mito"
        got, absent = phase1.fetch_layer_meshes(f"precomputed://{url}/static/mito", ids)
    assert sorted(absent.tolist()) == sorted([int(batch.ids[1]), 123])
    assert got.ids.tolist() == sorted(int(i) for i in (batch.ids[0], batch.ids[2], batch.ids[3]))
    assert (mesh_problems(got) == "").all()  # two fragments per mesh merged into closed surfaces
    for k, mid in enumerate(got.ids):
        v, f = got.mesh(k)
        v0, f0 = batch.mesh(int(np.flatnonzero(batch.ids == mid)[0]))
        assert np.allclose(np.sort(v, axis=0), np.sort(v0, axis=0)) and len(f) == len(f0)
    assert any(p.startswith("/static/mito/mesh/") for p, _ in srv.requests)


def test_unreachable_mesh_layer_stops_before_any_cell(small_raw, demo_catalog, tmp_path, capsys):
    with serve(published_records(small_raw)) as (_, url):
        code, _ = _build(url, tmp_path / "raw", tmp_path / "ds", "precomputed://http://127.0.0.1:9/mito")
    err = capsys.readouterr().err
    assert code == 1 and "mesh layer cannot be read at any endpoint tried" in err
    assert "precomputed://http://127.0.0.1:9/mito" in err and "http://127.0.0.1:9/mito/info" in err
    assert "--mesh-source none" in err and "--mesh-source URL" in err
    assert not (tmp_path / "ds" / "tables").exists()


def test_known_mesh_endpoints_are_probed_in_order(small_raw, tmp_path, monkeypatch):
    static = tmp_path / "static"
    write_mesh_layer(small_raw, static / "mito")
    with serve({}, static) as (srv, url):
        dead, live = "precomputed://http://127.0.0.1:9/gone", f"precomputed://{url}/static/mito"
        monkeypatch.setattr(phase1, "MESH_ENDPOINTS", (dead, live))
        assert phase1.choose_mesh_source(None, timeout=5) == live
        monkeypatch.setattr(phase1, "MESH_ENDPOINTS", (dead, dead + "2"))
        with pytest.raises(phase1.DownloadError) as err:
            phase1.choose_mesh_source(None, timeout=5)
    assert str(err.value).count("precomputed://http://127.0.0.1:9/gone") == 2


def test_build_without_meshes(small_raw, small_dataset, demo_catalog, tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "ds"
    with serve(published_records(small_raw)) as (_, url):
        code, report = _build(url, raw, out, "none")
    assert code == EXIT_OK
    got = pd.read_parquet(out / "tables" / "mitochondria.parquet").set_index("mito_id")
    ref = pd.read_parquet(small_dataset / "tables" / "mitochondria.parquet").set_index("mito_id")
    assert (got.mesh_missing == "built without meshes (--mesh-source none)").all()
    assert got.surface_area.isna().all() and got.complexityindex.isna().all()
    assert np.array_equal(got.volume_um3, ref.volume_um3.loc[got.index])  # from mito_vx
    assert (got.compartment == ref.compartment.loc[got.index]).mean() > 0.9  # nearest node of the centre
    assert len(report["mitochondria_without_mesh"]) == len(got)


def test_mesh_layer_lost_mid_build_skips_cells_then_a_rerun_completes(small_raw, demo_catalog, tmp_path, monkeypatch):
    static = tmp_path / "static"
    write_mesh_layer(small_raw, static / "mito")
    raw, out = tmp_path / "raw", tmp_path / "ds"
    real_fetch = phase1.fetch_layer_meshes
    calls = []

    def flaky(source, ids):  # the first two cells lose the connection
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionError("connection reset by peer")
        return real_fetch(source, ids)

    monkeypatch.setattr(phase1, "fetch_layer_meshes", flaky)
    layer = f"precomputed://file://{static / 'mito'}"
    with serve(published_records(small_raw)) as (_, url):
        code, report = _build(url, raw, out, layer)
        assert code == EXIT_PARTIAL and len(report["skipped_cells"]) == 2
        assert all("unavailable (ConnectionError: connection reset by peer)" in c["reason"] for c in report["skipped_cells"])
        # not degraded: skipped, to be built in full (only the demo's own mesh-less ones are listed)
        assert {m["reason"] for m in report["mitochondria_without_mesh"]} == {ABSENT_REASON}
        code, report = _build(url, raw, out, layer)
        assert code == EXIT_OK and report["cells_built"] == SMALL.cells and report["cells_computed_this_run"] == 2


def test_offline_build_names_the_missing_files(tmp_path, capsys):
    code = main(["build", "--source", "phase1", "--offline", "--raw-dir", str(tmp_path / "raw"), "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err
    assert code == 1 and "5 published file(s) are missing" in err
    for f in phase1.PHASE1_FILES:
        assert f"records/{f.record}/files/{f.name}?download=1" in err


def test_without_mesh_source_cached_bundles_are_used(small_raw, demo_catalog, tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "ds"
    shutil.copytree(small_raw, raw)  # tables, skeletons and per-cell bundles placed by hand
    code, report = _build("http://127.0.0.1:9", raw, out, "", "--offline")
    assert code == EXIT_OK and {m["reason"] for m in report["mitochondria_without_mesh"]} == {ABSENT_REASON}
