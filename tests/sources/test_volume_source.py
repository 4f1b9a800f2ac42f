"""``build --source volume`` on the demo written as a volume agrees with the demo build of the same
demo (its ``demo-raw/``): same cells, the mitochondria that kept voxels, labels, volumes within the
voxelisation error, each synapse's nearest mitochondrion, exact ids; and the CLI's refusals."""

from __future__ import annotations

import pickle
import shutil
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import EXIT_OK, EXIT_USAGE, main
from builder.errors import VolumeConfigError
from builder.sources.demo.as_volume import write_demo_as_volume
from builder.sources.volume import VolumeSource

RES = (128.0, 128.0, 160.0)  # coarse, as tests/sources/test_as_volume.py: the module stays under ~60 s


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("volume_source")
    vol = root / "vol"
    summary = write_demo_as_volume(vol, RES, cells=2, seed=1)
    args = ["build", "--workers", "1", "--seed", "1"]
    assert main([*args, "--cells", "2", "--raw-dir", str(vol / "demo-raw"), "--out", str(root / "demo")]) == EXIT_OK
    assert main([*args, "--source", "volume", "--volume", str(vol / "VOLUME.toml"), "--out", str(root / "volume")]) == EXIT_OK
    return vol, summary, root / "demo", root / "volume"


def _table(dataset, name):
    return pd.read_parquet(dataset / "tables" / f"{name}.parquet")


def _scanned(vol):
    """The scan's statistics of the written layers (the build left its chunks: this only merges them)."""
    from builder.sources.volume_scan import scan_volumes

    src = VolumeSource(vol / "VOLUME.toml")
    m = src.config.mitochondria.segmentation
    from builder.sources.volume import _open, present_chunks

    b = _open(m).bounds
    box = (tuple(int(x) for x in b.minpt), tuple(int(x) for x in b.maxpt))
    return scan_volumes(m, src.config.cells.segmentation, box, (128, 128, 64), src.scan_dir(), boxes=present_chunks(m))


def test_same_cells_and_exact_ids(builds):
    _, s, demo, volume = builds
    a, b = _table(demo, "cells"), _table(volume, "cells")
    assert a["cell_id"].dtype == b["cell_id"].dtype == np.int64
    assert a["cell_id"].tolist() == b["cell_id"].tolist() == sorted(s.cell_ids)
    assert all(c > 2**53 for c in b["cell_id"])  # float64 would round them
    assert (a[["cell_type", "cell_subtype"]].to_numpy() == b[["cell_type", "cell_subtype"]].to_numpy()).all()
    np.testing.assert_allclose(a[["x", "y", "z"]], b[["x", "y", "z"]], atol=1e-6)
    sa, sb = (t.sort_values(["synapse_id", "cell_id", "synapse_type"], ignore_index=True)
              for t in (_table(demo, "synapses"), _table(volume, "synapses")))  # fmt: skip
    for c in ("synapse_id", "pre_root_id", "post_root_id", "cell_id"):
        assert sb[c].dtype == np.int64 and sa[c].tolist() == sb[c].tolist()
    assert sb["pre_root_id"].max() > 2**53


def test_every_mitochondrion_that_kept_voxels_is_found_once(builds):
    vol, s, _, volume = builds
    from builder.compute.volume_stats import largest_overlap

    stats = _scanned(vol)
    assert set(stats.mito_id.tolist()) == set(s.written_mito_ids.tolist())  # the scan finds every written one
    in_a_cell = set(stats.mito_id[largest_overlap(stats) != 0].tolist())
    ids = _table(volume, "mitochondria")["mito_id"]
    assert ids.dtype == np.int64 and ids.is_unique
    assert set(ids.tolist()) == in_a_cell  # all those inside a cell's voxels; at 128 nm a few touch none
    assert len(in_a_cell) >= 0.97 * len(s.written_mito_ids)


def test_compartment_labels_agree(builds):
    _, _, demo, volume = builds
    n = _table(demo, "skeleton_nodes").merge(_table(volume, "skeleton_nodes"), on=["cell_id", "node_id"])
    assert len(n) == len(_table(demo, "skeleton_nodes"))
    assert (n["label_x"] == n["label_y"]).mean() >= 0.99
    m = _table(demo, "mitochondria").merge(_table(volume, "mitochondria"), on="mito_id")
    assert (m["cellid_x"] == m["cellid_y"]).all()
    assert (m["compartment_x"] == m["compartment_y"]).mean() >= 0.99


def test_volumes_within_the_voxelisation_error(builds):
    """Per mitochondrion, |V_volume - V_demo| / V_demo (the demo's volume is its mesh's): the median
    is at most 1.5 x the median voxelisation error the as-volume summary reports (the rest is the
    contested voxels a larger id took), and >= 95 % are within the first-order bound."""
    _, s, demo, volume = builds
    d = _table(demo, "mitochondria").set_index("mito_id")["volume_um3"]
    v = _table(volume, "mitochondria").set_index("mito_id")["volume_um3"]
    rel = ((v - d.reindex(v.index)).abs() / d.reindex(v.index)).to_numpy()
    assert np.median(rel) <= 1.5 * s.error_median
    per = s.per_mito.set_index("mito_id").reindex(v.index)
    bound = (per["bound_nm3"] / per["mesh_nm3"]).to_numpy()
    assert np.mean(rel <= bound) >= 0.95


def test_nearest_mitochondrion_of_each_synapse_agrees(builds):
    """Over the synapses whose nearest mitochondrion in the demo build is in the volume build (or
    none): the others lost it to the voxelisation (no voxel, or none inside a cell)."""
    _, _, demo, volume = builds
    key = ["synapse_id", "cell_id", "synapse_type"]
    s = _table(demo, "synapses").merge(_table(volume, "synapses"), on=key)
    assert len(s) == len(_table(demo, "synapses"))
    a, b = s["nearest_mito_id_x"].fillna(-1), s["nearest_mito_id_y"].fillna(-1)
    kept = a.isin(_table(volume, "mitochondria")["mito_id"]) | (a == -1)
    assert kept.mean() >= 0.95 and (a[kept] == b[kept]).mean() >= 0.99


def test_source_is_picklable_and_its_fingerprint_follows_the_toml(builds, tmp_path):
    vol = builds[0]
    src = VolumeSource(vol / "VOLUME.toml")
    assert pickle.loads(pickle.dumps(src)) == src
    copy = vol / "copy.toml"
    shutil.copy(vol / "VOLUME.toml", copy)
    same = VolumeSource(copy).fingerprint()
    assert same == src.fingerprint()
    copy.write_text(copy.read_text() + "# changed\n")
    assert VolumeSource(copy).fingerprint() != same


def test_bad_id_rows_are_set_aside_with_file_and_line(builds, tmp_path):
    from builder.sources.volume_read import read_volume_synapses
    from builder.sources.volume_tables import Positions, TableSpec

    syn = pd.read_parquet(builds[0] / "synapses.parquet").head(5).astype({"id": str, "pre_root_id": str})
    syn.loc[2, "id"] = "12x"
    syn.loc[3, "pre_root_id"] = str(2**63)  # outside int64
    path = tmp_path / "syn.csv"
    syn.to_csv(path, index=False)
    cols = {"synapse_id": "id", "pre_root_id": "pre_root_id", "post_root_id": "post_root_id",
            "x": "ctr_pos_x_vx", "y": "ctr_pos_y_vx", "z": "ctr_pos_z_vx", "size": "cleft_vx"}  # fmt: skip
    issues: list = []
    out = read_volume_synapses(TableSpec(path, cols, Positions("voxels", (3.58, 3.58, 40.0))), issues)
    assert len(out) == 3 and out["synapse_id"].dtype == np.int64
    assert [(i.file, i.line) for i in issues] == [("syn.csv", 4), ("syn.csv", 5)]
    assert "not an integer" in issues[0].reason and "int64" in issues[1].reason
    assert out["x"].iloc[0] == pytest.approx(syn["ctr_pos_x_vx"].iloc[0] * 3.58)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["build", "--source", "volume"], "--source volume needs --volume"),
        (["build", "--volume", "x.toml"], "--volume is read only with --source volume"),
        (["build", "--source", "phase1", "--volume", "x.toml"], "--volume is read only with --source volume"),
        (["build", "--scan-dir", "x"], "--scan-dir is read only with --source volume"),
    ],
)
def test_cli_refuses_volume_without_its_source(argv, message, capsys):
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_cli_reports_a_bad_toml_in_one_line_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "VOLUME.toml"
    bad.write_text("format = 2\n")
    assert main(["build", "--source", "volume", "--volume", str(bad), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and "format" in err
    assert not (tmp_path / "o").exists()


def test_download_offers_only_phase1(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["download", "--source", "volume"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_labels_map_through_the_code_table_and_unknown_values_become_unknown():
    from builder.sources.volume import map_codes

    got = map_codes(np.array([3, 1, 9, 2, 4]), {1: 0, 2: 1, 3: 2, 4: 3}, cell_id=1)  # SWC-like types
    assert got.tolist() == [2, 0, 5, 1, 3] and got.dtype == np.uint8


def test_the_explorer_neither_calls_a_volume_phase1_nor_lays_phase1_em_under_it(builds):
    """A dataset built from a lab's volume: the header says so, and neither the shared nor the
    offline neuroglancer link shows the public Phase 1 EM or segmentation (another volume's
    image); the demo build of the same cells, placed in Phase 1's space, keeps them."""
    from builder.store.reader import Dataset
    from explorer.app import create_app
    from explorer.data import ExplorerData
    from explorer.layout import header
    from explorer.links import PHASE1_EM, LinkOptions
    from explorer.panels.selection import selection_panel

    _vol, _summary, demo, volume = builds
    ds = Dataset.open(volume)
    assert (ds.source_name, ds.in_phase1_space) == ("volume", False)
    assert (Dataset.open(demo).source_name, Dataset.open(demo).in_phase1_space) == ("demo", True)
    badge = header(ExplorerData.load(volume)).children[1]
    assert badge.children == "your volume" and "VOLUME.toml" in badge.title
    create_app(volume)  # starts with the public layers off, without asking
    data = ExplorerData.load(volume)
    sel = {"ids": [str(i) for i in data.mitos["mito_id"].head(5)], "source": "scatter"}
    cell = str(data.mitos["cellid"].iloc[0])
    for phase1_space, shown in ((False, False), (True, True)):
        opts = LinkOptions(dataset=volume, public_reachable=lambda: True, phase1_space=phase1_space)
        _summary, href, _text, offline, _msg = selection_panel(data, sel, cell, opts, "http://127.0.0.1:8050/")
        for link in (href, offline):
            assert link and (quote(PHASE1_EM.split("//", 1)[1], safe="") in link or PHASE1_EM.split("//", 1)[1] in link) is shown


def test_the_manifest_names_the_volume_and_its_voxels(builds):
    """A volume's dataset is not called the Phase 1 L2/3 dataset, and its manifest states the
    voxel sizes its positions were converted from (the TOML's), not the release's scalings."""
    import json

    vol, _, demo, volume = builds
    m = json.loads((volume / "manifest.json").read_text())
    assert "Phase 1" not in m["dataset"] and str(vol / "VOLUME.toml") in m["dataset"]
    assert m["units"]["cells_voxel_nm"] == list(RES) and m["units"]["mitochondria_voxel_nm"] == list(RES)
    assert "scalings_applied" not in m["units"] and "VOLUME.toml" in m["units"]["output_space"]
    assert m["units"]["mito_vx_voxel_nm"] == [3.58, 3.58, 40.0]
    d = json.loads((demo / "manifest.json").read_text())
    assert "Phase 1" in d["dataset"] and "scalings_applied" in d["units"]


def test_the_scan_folder_can_be_chosen_and_an_unwritable_one_is_refused_before_work(builds, tmp_path, capsys):
    vol = builds[0]
    default = VolumeSource(vol / "VOLUME.toml")
    assert default.scan_dir().parent == vol / "VOLUME.scan" and default.scan_dir().is_dir()  # the build's scan is there
    chosen = VolumeSource(vol / "VOLUME.toml", scan_root=tmp_path / "scans")
    assert chosen.scan_dir().parent == tmp_path / "scans" and chosen.scan_dir().name == default.scan_dir().name
    chosen.check_scan_dir()  # a folder still to be made under a writable one
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(VolumeConfigError, match="--scan-dir"):
        VolumeSource(vol / "VOLUME.toml", scan_root=tmp_path / "a-file" / "scans").check_scan_dir()
    out = tmp_path / "out"
    argv = [
        "build",
        "--source",
        "volume",
        "--volume",
        str(vol / "VOLUME.toml"),
        "--scan-dir",
        str(tmp_path / "a-file" / "s"),
        "--out",
        str(out),
    ]
    assert main(argv) == 2 and "--scan-dir" in capsys.readouterr().err and not out.exists()


def test_without_a_mesh_layer_the_mitochondria_are_meshed_from_the_segmentation(builds, tmp_path):
    """The same volume with no ``meshes`` line: the manifest says zmesh made the meshes, and the
    mitochondria get mesh measures, in place (a misplaced mesh is set aside). At 128 x 128 x 160 nm
    a mitochondrion is 1 to 3 voxels across, and marching cubes cuts the corners of so few voxels:
    measured, the median area is 0.70 of the demo mesh's and the mesh holds 0.49 of its voxels'
    volume (docs/volume.md gives the finer resolutions)."""
    import json

    vol, _, demo, volume = builds
    toml = vol / "VOLUME-zmesh.toml"
    toml.write_text("".join(line for line in (vol / "VOLUME.toml").read_text().splitlines(True) if not line.startswith("meshes")))
    out = tmp_path / "zmesh"
    args = ["build", "--workers", "1", "--seed", "1", "--source", "volume", "--volume", str(toml), "--out", str(out)]
    assert main(args) == EXIT_OK
    params = json.loads((out / "manifest.json").read_text())["parameters"]
    assert params["mesh_source"] == f"zmesh:file://{(vol / 'mitochondria').resolve()}"
    assert json.loads((volume / "manifest.json").read_text())["parameters"]["mesh_source"].endswith("mitochondria")
    z, d = _table(out, "mitochondria").set_index("mito_id"), _table(demo, "mitochondria").set_index("mito_id")
    assert z.index.tolist() == _table(volume, "mitochondria")["mito_id"].tolist()  # the same mitochondria
    has = z["surface_area"].notna()
    assert has.mean() >= 0.97
    assert (z.loc[~has, "mesh_missing"] != "").all() and (z.loc[has, "mesh_missing"] == "").all()
    ratio = (z.loc[has, "surface_area"] / d["surface_area"].reindex(z.index[has])).to_numpy()
    assert 0.55 < np.median(ratio) < 0.9
    mesh_v = z.loc[has, "mesh_volume_um3"] / z.loc[has, "volume_um3"]  # the mesh against its own voxels
    assert 0.35 < np.median(mesh_v) < 0.65
