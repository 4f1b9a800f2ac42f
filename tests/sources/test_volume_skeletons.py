"""Skeletons of a lab's volume as SWC or MeshParty h5 folders: the same volume built from each of
the three forms gives the same nodes and labels; a bad SWC line is refused with its file and line
while the other cells build; the scan runs on the build's --scheduler."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import EXIT_OK, EXIT_PARTIAL, main
from builder.errors import CellInputError
from builder.sources.demo.as_volume import write_demo_as_volume
from builder.sources.demo.as_volume_skeletons import SKELETON_FOLDERS, SWC_TYPE_OF_CODE
from builder.sources.demo.as_volume_toml import volume_toml
from builder.sources.volume_config import DEFAULT_SWC_TYPES
from builder.sources.volume_skeletons import parse_swc, read_h5_skeleton, read_swc_skeleton
from builder.sources.volume_tables import Positions

RES = (128.0, 128.0, 160.0)  # coarse, as tests/sources/test_volume_source.py
ARGS = ["build", "--workers", "1", "--seed", "1", "--source", "volume"]


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    """One volume with its skeletons in the three forms, a VOLUME.toml for each and a build of each:
    precomputed (reference), SWC (with --scheduler local: the scan and the cells on Dask), h5."""
    from builder.sources import volume_scan

    root = tmp_path_factory.mktemp("volume_skeletons")
    vol = root / "vol"
    summary = write_demo_as_volume(vol, RES, cells=2, seed=1, skeletons=("precomputed", "swc", "h5"))
    for form in ("swc", "h5"):
        (vol / f"VOLUME-{form}.toml").write_text(volume_toml(summary.resolution_nm, summary.cell_ids, form))
    assert main([*ARGS, "--volume", str(vol / "VOLUME.toml"), "--out", str(root / "precomputed")]) == EXIT_OK
    schedulers = []
    scan = volume_scan.scan_volumes

    def spy(*args, **kw):
        schedulers.append(kw.get("scheduler"))
        return scan(*args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(volume_scan, "scan_volumes", spy)
        toml = str(vol / "VOLUME-swc.toml")
        assert main([*ARGS, "--scheduler", "local", "--volume", toml, "--out", str(root / "swc")]) == EXIT_OK
    shutil.copytree(vol / "VOLUME.scan", vol / "VOLUME-h5.scan")  # the same segmentations: the scan is reused
    assert main([*ARGS, "--volume", str(vol / "VOLUME-h5.toml"), "--out", str(root / "h5")]) == EXIT_OK
    return vol, summary, root, schedulers


def _table(dataset, name):
    return pd.read_parquet(dataset / "tables" / f"{name}.parquet")


@pytest.mark.parametrize("form", ["swc", "h5"])
def test_each_form_builds_the_nodes_and_labels_of_the_precomputed_one(forms, form):
    _, summary, root, _ = forms
    ref, got = _table(root / "precomputed", "skeleton_nodes"), _table(root / form, "skeleton_nodes")
    assert sorted(got["cell_id"].unique()) == sorted(summary.cell_ids) and len(got) == len(ref) > 1000
    m = ref.merge(got, on=["cell_id", "node_id"], validate="one_to_one")
    assert len(m) == len(ref)
    xyz = np.abs(m[["x_x", "y_x", "z_x"]].to_numpy() - m[["x_y", "y_y", "z_y"]].to_numpy())
    assert xyz.max() <= 0.05  # nm: SWC's 2 decimals, the precomputed layer's float32
    assert (m["label_x"] == m["label_y"]).all() and m["label_x"].nunique() >= 3
    assert np.abs(m["radius_x"] - m["radius_y"]).max() <= 0.05
    a, b = _table(root / "precomputed", "mitochondria"), _table(root / form, "mitochondria")
    assert a["mito_id"].tolist() == b["mito_id"].tolist() and (a["compartment"] == b["compartment"]).all()


def test_the_scan_ran_on_the_builds_scheduler(forms):
    vol, _, _, schedulers = forms
    assert schedulers == ["local"]
    assert (vol / "VOLUME-swc.scan").is_dir()  # scanned afresh (not the copy the h5 build reuses)


def test_a_bad_swc_line_skips_its_cell_with_file_and_line_and_the_others_build(forms, tmp_path):
    vol, summary, _, _ = forms
    bad, good = summary.cell_ids
    lines = (vol / "skeletons_swc" / f"{bad}.swc").read_text().splitlines()
    fields = lines[6].split()
    lines[6] = " ".join([fields[0], "basal", *fields[2:]])  # line 7: the type is no number
    (vol / "skeletons_swc" / f"{bad}.swc").rename(tmp_path / "keep.swc")
    try:
        (vol / "skeletons_swc" / f"{bad}.swc").write_text("\n".join(lines) + "\n")
        shutil.copytree(vol / "VOLUME.scan", vol / "VOLUME-bad.scan", dirs_exist_ok=True)
        shutil.copy(vol / "VOLUME-swc.toml", vol / "VOLUME-bad.toml")
        assert main([*ARGS, "--volume", str(vol / "VOLUME-bad.toml"), "--out", str(tmp_path / "ds")]) == EXIT_PARTIAL
    finally:
        (tmp_path / "keep.swc").replace(vol / "skeletons_swc" / f"{bad}.swc")
    report = json.loads((tmp_path / "ds" / "build_report.json").read_text())
    (skipped,) = report["skipped_cells"]
    assert skipped["cell_id"] == bad and skipped["file"] == str(vol / "skeletons_swc" / f"{bad}.swc")
    assert skipped["reason"] == f"{bad}.swc line 7: type 'basal' is not a number"
    assert _table(tmp_path / "ds", "cells")["cell_id"].tolist() == [good]


def test_the_fingerprint_follows_each_skeleton_file(forms):
    import os

    from builder.sources.volume import VolumeSource

    vol, summary, _, _ = forms
    for form, suffix in (("swc", "swc"), ("h5", "h5")):
        src = VolumeSource(vol / f"VOLUME-{form}.toml")
        before = src.fingerprint()
        f = vol / SKELETON_FOLDERS[form] / f"{summary.cell_ids[1]}.{suffix}"
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        try:
            assert src.fingerprint() != before
        finally:
            os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert src.fingerprint() == before


def test_the_demo_writes_swc_types_by_the_standard_mapping(forms):
    vol, summary, _, _ = forms
    standard = {t: c for c, t in SWC_TYPE_OF_CODE.items() if t in DEFAULT_SWC_TYPES}
    assert standard == dict(DEFAULT_SWC_TYPES)  # Somatic..Apical as SWC's types 1-4; the TOML lists 0 and 7 too
    text = (vol / "VOLUME-swc.toml").read_text()
    assert '"7" = "Unknown dendritic"' in text and '"0" = "Unknown"' in text
    first = (vol / "skeletons_swc" / f"{summary.cell_ids[0]}.swc").read_text().splitlines()[0].split()
    assert first[0] == "0" and first[1] == "1" and first[-1] == "-1"  # node 0, the soma, the root


SOMA = np.zeros(3)


def _swc(tmp_path, text, name="7.swc", **kw):
    from builder.sources.volume_config import SkeletonsConfig

    (tmp_path / name).write_text(text)
    cfg = SkeletonsConfig(None, tmp_path, kw.get("labels", "swc_type"), None, DEFAULT_SWC_TYPES,
                          kw.get("positions", Positions("nm")))  # fmt: skip
    return read_swc_skeleton(cfg, int(name.split(".")[0]), kw.get("soma", SOMA))


def test_swc_nodes_keep_file_order_with_edges_to_parents_units_and_labels(tmp_path):
    text = "# a header\n\n5\t3 2 0 0 0.5 9\n9 1 0 0 0 1 -1  # the soma\n7 2 1 0 0 0.25 9\n"
    sk = _swc(tmp_path, text, positions=Positions("um"), soma=np.array([1900.0, 0, 0]))
    assert sk.vertices.tolist() == [[2000, 0, 0], [0, 0, 0], [1000, 0, 0]]  # um -> nm, file order
    assert sorted(map(tuple, sk.edges.tolist())) == [(0, 1), (2, 1)]  # child -> parent, vertex indices
    assert sk.radius.tolist() == [500, 1000, 250] and sk.labels.tolist() == [2, 0, 1]
    assert sk.root == 0  # the vertex nearest the soma point, not the file's root
    vox = _swc(tmp_path, "1 1 1 2 3 2 -1\n", name="8.swc", positions=Positions("voxels", (4.0, 5.0, 40.0)), labels="infer")
    assert vox.vertices.tolist() == [[4, 10, 120]] and vox.radius.tolist() == [8] and vox.labels is None


BAD_SWC = [
    ("not a number", "1 1 0 0 0 1 -1\n2 3 1 y 0 1 1\n", "line 2: y 'y' is not a number"),
    ("short line", "1 1 0 0 0 1 -1\n2 3 1 0 0 1\n", "line 2: 6 fields; an SWC node line has 7"),
    ("repeated id", "1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n# c\n2 3 2 0 0 1 1\n", "line 4: node id 2 repeats line 2"),
    ("unknown parent", "1 1 0 0 0 1 -1\n2 3 1 0 0 1 8\n", "line 2: parent 8 is no node's id"),
    ("two roots", "1 1 0 0 0 1 -1\n2 3 1 0 0 1 -1\n", "2 root nodes (parent -1; lines 1, 2)"),
    ("no root", "1 1 0 0 0 1 2\n2 3 1 0 0 1 1\n", "0 root nodes"),
    ("negative radius", "1 1 0 0 0 -1 -1\n", "line 1: negative radius -1"),
    ("not finite", "1 1 0 0 nan 1 -1\n", "line 1: z 'nan' is not finite"),
    ("fractional id", "1.5 1 0 0 0 1 -1\n", "line 1: id '1.5' is not an integer"),
    ("own parent", "1 1 0 0 0 1 -1\n2 3 1 0 0 1 2\n", "line 2: node 2 is its own parent"),
    ("empty", "# only a comment\n", "no node lines"),
    ("id beyond int64", f"{2**63} 1 0 0 0 1 -1\n", f"line 1: id '{2**63}' is outside int64"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "reason"), [b[1:] for b in BAD_SWC], ids=[b[0] for b in BAD_SWC])
def test_a_bad_swc_file_is_refused_with_its_name_line_and_reason(tmp_path, text, reason):
    with pytest.raises(CellInputError) as err:
        _swc(tmp_path, text)
    assert err.value.cell_id == 7 and err.value.path == str(tmp_path / "7.swc")
    assert err.value.reason.startswith("7.swc") and reason in err.value.reason


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CellInputError, match=r"no SWC file 3\.swc in"):
        parse_swc(tmp_path / "3.swc", 3)
    from builder.sources.volume_config import SkeletonsConfig

    cfg = SkeletonsConfig(None, None, "attribute", "compartment", {}, Positions("nm"), tmp_path)
    with pytest.raises(CellInputError, match=r"no MeshParty file 3\.h5 in"):
        read_h5_skeleton(cfg, 3, SOMA)


def test_an_h5_without_the_label_property_is_refused_by_name(forms):
    from builder.sources.volume_config import SkeletonsConfig

    vol, summary, _, _ = forms
    cid = summary.cell_ids[0]
    cfg = SkeletonsConfig(None, None, "attribute", "axon_label", {}, Positions("nm"), vol / SKELETON_FOLDERS["h5"])
    with pytest.raises(CellInputError, match=r"\.h5: no vertex property 'axon_label' \(it has: compartment, radius\)"):
        read_h5_skeleton(cfg, cid, SOMA)
