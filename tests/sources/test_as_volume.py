"""The demo written as a lab's volume reads back: exact ids, every mitochondrion found once and
in its cell, volumes within the derived voxelisation error, a VOLUME.toml that loads."""

from __future__ import annotations

import numpy as np
import pytest

from builder.compute import voxelise as vx
from builder.errors import InputFileError
from builder.sources.demo.as_volume import MARKER, write_demo_as_volume
from builder.sources.volume_config import load_volume_config
from builder.sources.volume_scan import scan_volumes

RES = (128.0, 128.0, 160.0)  # coarse: the test stays under ~30 s


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("as_volume") / "vol"
    return out, write_demo_as_volume(out, RES, cells=2, seed=1)


def _vol(path):
    from cloudvolume import CloudVolume

    return CloudVolume(f"file://{path}", fill_missing=True, progress=False)


def test_ids_round_trip_exactly_and_the_toml_loads(written):
    out, s = written
    cfg = load_volume_config(out / "VOLUME.toml")
    assert cfg.cells.build == tuple(s.cell_ids) and cfg.cells.resolution_nm == RES
    assert all(i > 2**53 for i in s.cell_ids)  # float64 would round them
    cells = _vol(out / "cells")
    assert cells.dtype == "uint64" and tuple(cells.resolution) == RES
    somata = cfg.cells.somata.read()
    for cid, x, y, z in somata[["cell_id", "x", "y", "z"]].itertuples(index=False):
        v = (np.array([x, y, z]) / np.asarray(RES)).astype(int)
        assert int(cells[v[0], v[1], v[2]][0, 0, 0, 0]) == cid  # the soma centre holds the exact id
    sk = cells.skeleton.get(s.cell_ids[0])
    assert set(np.unique(sk.compartment)) <= {0, 1, 2, 3, 4, 5} and len(sk.radius) == len(sk.vertices)
    syn = cfg.synapses.read()
    assert (
        syn["pre_root_id"].dtype == np.int64
        and (syn["pre_root_id"].isin(s.cell_ids) | syn["post_root_id"].isin(s.cell_ids)).all()
    )
    mito = _vol(out / "mitochondria")
    assert mito.mesh.get(int(s.per_mito["mito_id"].iloc[0])) is not None


def test_scan_finds_every_mitochondrion_once_in_its_cell(written, tmp_path):
    out, s = written
    mito = _vol(out / "mitochondria")
    lo = np.asarray(mito.voxel_offset)
    box = (tuple(int(x) for x in lo), tuple(int(x) for x in lo + np.asarray(mito.volume_size)))
    stats = scan_volumes(f"file://{out / 'mitochondria'}", f"file://{out / 'cells'}", box, (256, 256, 128), tmp_path / "w")
    found = stats.mito_id
    assert len(found) == len(set(found.tolist()))  # each once
    assert set(found.tolist()) == set(s.written_mito_ids.tolist())  # exactly those that kept a voxel in the layer
    per = s.per_mito.set_index("mito_id")
    assert set(s.written_mito_ids.tolist()) <= set(per.index[per["voxels"] > 0])
    from builder.compute.volume_stats import release_tables

    table = release_tables(stats, RES)[0]
    truth = {int(m): int(c) for c in s.cell_ids for m in _mito_ids_of(out, c)}
    right = sum(truth[int(m)] == int(c) for m, c in zip(table["mito_id"], table["cellid"]))
    assert right >= 0.99 * len(table)


def _mito_ids_of(out, cell_id):
    import pandas as pd

    rows = pd.read_csv(out / "demo-raw" / "211019_mitochondria_info.csv", dtype={"mito_id": "int64", "cellid": "int64"})
    return rows.loc[rows["cellid"] == cell_id, "mito_id"]


def test_voxel_volumes_agree_with_mesh_volumes_within_the_derived_error(written):
    _, s = written
    d = s.per_mito
    assert (d["error_nm3"].abs() <= d["bound_nm3"]).all()
    assert s.odd_columns == 0 and s.error_median < 0.1


def test_the_capsule_union_is_exact_against_brute_force():
    res = np.array([50.0, 50.0, 50.0])
    v = np.array([[0, 0, 0], [7000, 0, 0], [7150, 0, 0], [7300, 100, 0.0], [-3000, 2000, 500]])
    e = np.array([[1, 0], [2, 1], [3, 2], [4, 0]])
    r = np.array([7000, 300, 290, 280.0, 800])
    shapes = vx.node_spheres_and_capsules(v, e, r)
    assert len(shapes[0]) < len(v) + len(e)  # the soma edge needs no capsule
    lo, shape = np.array([-160, -60, -60]), (320, 120, 120)
    got = vx.capsules_mask(*shapes, lo, shape, res)
    g = (np.stack(np.meshgrid(*[np.arange(a, a + n) for a, n in zip(lo, shape)], indexing="ij"), -1) + 0.5) * res
    want = np.zeros(shape, bool)
    for c, rr in zip(v, r):
        want |= ((g - c) ** 2).sum(-1) <= rr**2
    for i, j in e:
        u, d = v[j] - v[i], g - v[i]
        t = (d @ u) / (u @ u)
        want |= (((d - t[..., None] * u) ** 2).sum(-1) <= (r[i] + t * (r[j] - r[i])) ** 2) & (t >= 0) & (t <= 1)
    assert np.array_equal(got, want)


def test_a_lab_volume_without_the_marker_is_refused_and_left_intact(tmp_path):
    lab = tmp_path / "lab"
    (lab / "cells").mkdir(parents=True)
    (lab / "cells" / "info").write_text("{}")
    (lab / "mitochondria").mkdir()
    (lab / "VOLUME.toml").write_text("format = 1\n")
    before = sorted(p.relative_to(lab) for p in lab.rglob("*"))
    with pytest.raises(InputFileError, match=f"no marker {MARKER}.*Give a new or empty folder") as err:
        write_demo_as_volume(lab, RES, cells=1)
    assert str(lab) in str(err.value)
    assert sorted(p.relative_to(lab) for p in lab.rglob("*")) == before  # not even a lock file
    assert (lab / "cells" / "info").read_text() == "{}"


def test_the_marker_is_written(written):
    out, _ = written
    assert (out / MARKER).is_file()


def test_cells_without_meshed_mitochondria_report_zero_and_the_meshless_are_logged(tmp_path, monkeypatch, caplog):
    from builder.compute.meshes import MeshBatch
    from builder.sources.demo.as_volume import summary_text
    from builder.sources.published import PublishedLayoutSource

    def no_meshes(self, cell_id, mito_ids):
        return MeshBatch.from_meshes([], []), {int(m): "no mesh" for m in mito_ids}

    monkeypatch.setattr(PublishedLayoutSource, "meshes", no_meshes)
    with caplog.at_level("WARNING", logger="builder.sources.demo.as_volume"):
        s = write_demo_as_volume(tmp_path / "vol", RES, cells=1)
    assert s.n_mito == 0 and s.mito_voxels == 0 and len(s.meshless) > 0 and s.cell_voxels > 0
    assert f"{len(s.meshless)} mitochondria of these cells have no mesh" in caplog.text
    assert str(s.meshless[0]) in caplog.text
    text = summary_text(s)
    assert f"0 mitochondria ({len(s.meshless)} more without a mesh, not written)" in text
    assert "none (no meshed mitochondria)" in text


def test_labels_map_by_lookup_and_unknown_values_become_unknown():
    from builder.sources.demo.as_volume import UNLABELLED, _codes_of

    keys, codes = np.array([0, 1, 2, 7]), np.array([3, 2, 1, 0], np.uint8)
    got = _codes_of(np.array([7, 0, 9, 2, -1, 1]), keys, codes, cell_id=1)
    assert got.tolist() == [0, 3, UNLABELLED, 1, UNLABELLED, 2] and got.dtype == np.uint8
