"""VOLUME.toml is checked key by key before any work; each mistake names its key and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.errors import VolumeConfigError
from builder.sources.volume_config import load_volume_config

BIG = 864691135494786192  # above 2**53: float would round it


def _layer(path, needs: str) -> None:
    from cloudvolume import CloudVolume

    info = CloudVolume.create_new_info(
        num_channels=1, layer_type="segmentation", data_type="uint64", encoding="raw", resolution=[16, 16, 40],
        voxel_offset=[0, 0, 0], chunk_size=[32, 32, 16], volume_size=[64, 64, 32],
    )  # fmt: skip
    info[needs] = needs
    CloudVolume(f"file://{path}", info=info, progress=False).commit_info()


VALID = """
format = 1

[cells]
segmentation = "cells"
resolution_nm = [16, 16, 40]
build = [BIG, 5]

[cells.somata]
table = "somata.csv"
position_unit = "nm"

[cells.somata.columns]
cell_id = "root_id"
x = "x_nm"
y = "y_nm"
z = "z_nm"

[mitochondria]
segmentation = "mito"
resolution_nm = [16, 16, 40]
meshes = "mito"

[skeletons]
swc = "swc"
labels = "swc_type"
position_unit = "um"

[skeletons.swc_types]
"1" = "Somatic"
"3" = "Basal"
"7" = 4

[synapses]
table = "syn.parquet"
position_unit = "voxels"
position_resolution_nm = [4, 4, 40]

[synapses.columns]
synapse_id = "id"
pre_root_id = "pre"
post_root_id = "post"
x = "cx"
y = "cy"
z = "cz"
""".replace("BIG", str(BIG))


@pytest.fixture()
def volume(tmp_path):
    """A folder with the layers' info files, the tables and the TOML; returns a writer of variants."""
    _layer(tmp_path / "cells", "skeletons")
    _layer(tmp_path / "mito", "mesh")
    (tmp_path / "swc").mkdir()
    pd.DataFrame({"root_id": [BIG, 5], "x_nm": [1.0, 2.0], "y_nm": [3.0, 4.0], "z_nm": [5.0, 6.0]}).to_csv(
        tmp_path / "somata.csv", index=False
    )
    syn = pd.DataFrame({"id": [1, 2], "pre": np.array([BIG, 5], np.int64), "post": np.array([5, BIG], np.int64)})
    syn[["cx", "cy", "cz"]] = [[10, 20, 3], [11, 21, 4]]
    syn["f"] = [1.5, 2.5]
    syn.to_parquet(tmp_path / "syn.parquet", index=False)

    def write(text: str = VALID, name: str = "VOLUME.toml"):
        p = tmp_path / name
        p.write_text(text)
        return p

    return write


def test_a_valid_file_loads_with_paths_units_and_exact_ids(volume):
    cfg = load_volume_config(volume())
    folder = cfg.path.parent
    assert cfg.cells.segmentation == f"file://{folder / 'cells'}" and cfg.cells.build == (BIG, 5)
    assert cfg.cells.resolution_nm == (16.0, 16.0, 40.0)
    assert cfg.mitochondria.meshes == f"file://{folder / 'mito'}" and cfg.mitochondria.table is None
    assert cfg.skeletons.swc == folder / "swc" and dict(cfg.skeletons.codes) == {1: 0, 3: 2, 7: 4}
    somata = cfg.cells.somata.read()
    assert somata["cell_id"].tolist() == [BIG, 5] and somata["cell_id"].dtype == np.int64  # CSV text, never float
    syn = cfg.synapses.read()
    assert syn["pre_root_id"].tolist() == [BIG, 5]
    assert syn[["x", "y", "z"]].to_numpy().tolist() == [[40, 80, 120], [44, 84, 160]]  # voxels at 4 x 4 x 40 nm
    with pytest.raises(AttributeError):
        cfg.cells.build = ()  # frozen


def test_relative_paths_are_read_from_the_toml_folder(volume, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "swc")  # not the TOML's folder
    assert load_volume_config(volume()).cells.somata.path == tmp_path / "somata.csv"
    sub = tmp_path / "sub"
    sub.mkdir()
    with pytest.raises(VolumeConfigError, match=r"cells\.segmentation: .*sub/cells does not exist.*relative paths are read from"):
        load_volume_config(volume(name="sub/VOLUME.toml"))


MISTAKES = [
    ("missing key", ("resolution_nm = [16, 16, 40]\nbuild", "build"), r"cells\.resolution_nm: missing key"),
    ("unknown key", ('labels = "swc_type"', 'labels = "swc_type"\nlabel = 1'), r"skeletons\.label: unknown key.*'labels'"),
    ("typo in a table", ("[synapses.columns]\n", "[synapses.columns]\npre_root = 'pre'\n"), r"synapses\.columns\.pre_root: unknown"),
    ("segmentation and table", ('meshes = "mito"', 'meshes = "mito"\ntable = "syn.parquet"'), r"mitochondria\.segmentation / table: both"),
    ("bad resolution", ("resolution_nm = [16, 16, 40]\nbuild", "resolution_nm = [16, 0, 40]\nbuild"), r"cells\.resolution_nm: .*positive"),
    ("resolution unlike the info", ('resolution_nm = [16, 16, 40]\nmeshes', 'resolution_nm = [8, 8, 40]\nmeshes'),
     r"mitochondria\.resolution_nm: .*info says \[16\.0, 16\.0, 40\.0\].*Write resolution_nm = \[16, 16, 40\]"),
    ("missing file", ('"somata.csv"', '"somas.csv"'), r"cells\.somata\.table: .*somas\.csv does not exist"),
    ("bad column mapping", ('x = "x_nm"', 'x = "x_um"'), r"cells\.somata\.columns\.x: no column 'x_um'.*'x_nm'"),
    ("float ids", ('synapse_id = "id"', 'synapse_id = "f"'), r"synapses\.columns\.synapse_id: .*floating point.*int64"),
    ("wrong format version", ("format = 1", "format = 2"), r"format: version 2 is not one.*format = 1"),
    ("no format", ("format = 1", ""), r"format: missing key"),
    ("voxels without resolution", ('position_resolution_nm = [4, 4, 40]\n', ""), r"synapses\.position_resolution_nm: missing"),
    ("labels that do not fit", ('labels = "swc_type"', 'labels = "attribute"'), r"skeletons\.labels: 'attribute' does not fit"),
    ("unknown compartment", ('"3" = "Basal"', '"3" = "Basel"'), r"skeletons\.swc_types\.3: 'Basel' is not a compartment"),
    ("bad id list", ("build = [", 'build = ["x", '), r"cells\.build: 'x' is not a cell id"),
    ("unknown scheme", ('segmentation = "mito"', 'segmentation = "ftp://host/mito"'), r"mitochondria\.segmentation: .*unknown scheme"),
    ("not a layer", ('segmentation = "cells"', 'segmentation = "swc"'), r"cells\.segmentation: .*no info file"),
    ("swc and h5 folders", ('swc = "swc"', 'swc = "swc"\nmeshparty_h5 = "swc"'),
     r"skeletons\.precomputed / swc / meshparty_h5: 'swc' and 'meshparty_h5' given; exactly one is needed.*"
     r"Keep one of precomputed = \.\.\., swc = \.\.\., meshparty_h5 = \.\.\."),
    ("no skeletons", ('swc = "swc"\n', ""), r"skeletons\.precomputed / swc / meshparty_h5: none of .* given.*Keep one of"),
    ("missing swc folder", ('swc = "swc"', 'swc = "swcs"'), r"skeletons\.swc: .*/swcs does not exist.*Fix the path"),
    ("missing h5 folder", ('swc = "swc"\nlabels = "swc_type"', 'meshparty_h5 = "h5"\nlabels = "swc_type"'),
     r"skeletons\.meshparty_h5: .*/h5 does not exist.*Fix the path"),
    ("a file for a folder", ('swc = "swc"', 'swc = "somata.csv"'), r"skeletons\.swc: .*somata\.csv is not a folder.*Give the folder"),
    ("h5 with swc types", ('swc = "swc"', 'meshparty_h5 = "swc"'),
     r"skeletons\.labels: 'swc_type' does not fit skeletons given as meshparty_h5.*labels = 'attribute' or 'infer'"),
]  # fmt: skip


@pytest.mark.parametrize(("old_new", "message"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_each_mistake_names_its_key_and_the_fix(volume, old_new, message):
    old, new = old_new
    assert old in VALID
    with pytest.raises(VolumeConfigError, match=message) as err:
        load_volume_config(volume(VALID.replace(old, new, 1)))
    assert str(err.value).startswith(str(err.value.path)) and err.value.key  # the file, then the key


def test_an_h5_folder_loads_in_nm_with_its_label_attribute(volume, tmp_path):
    old = 'swc = "swc"\nlabels = "swc_type"\nposition_unit = "um"\n\n[skeletons.swc_types]\n"1" = "Somatic"\n"3" = "Basal"\n"7" = 4\n'
    assert old in VALID
    h5 = 'meshparty_h5 = "swc"\nlabels = "attribute"\nattribute = "compartment"\n'
    sk = load_volume_config(volume(VALID.replace(old, h5))).skeletons
    assert (sk.form, sk.folder, sk.swc, sk.attribute) == ("meshparty_h5", tmp_path / "swc", None, "compartment")
    assert sk.positions.unit == "nm" and dict(sk.codes) == {c: c for c in range(6)}
    with pytest.raises(VolumeConfigError, match=r"skeletons\.position_unit: given, but .* meshparty_h5 are in nm.*Drop it"):
        load_volume_config(volume(VALID.replace(old, h5 + 'position_unit = "um"\n')))


def test_a_missing_or_broken_file_is_named(volume, tmp_path):
    with pytest.raises(VolumeConfigError, match="VOLUME.toml: file not found"):
        load_volume_config(tmp_path / "nothing" / "VOLUME.toml")
    with pytest.raises(VolumeConfigError, match=r"not a readable TOML file .*line"):
        load_volume_config(volume("format = 1\n[cells\n"))


def test_an_upper_case_csv_suffix_is_read_as_csv_with_exact_ids(volume, tmp_path):
    (tmp_path / "somata.csv").rename(tmp_path / "somata.CSV")
    cfg = load_volume_config(volume(VALID.replace('"somata.csv"', '"somata.CSV"')))
    somata = cfg.cells.somata.read()
    assert somata["cell_id"].tolist() == [BIG, 5] and somata["cell_id"].dtype == np.int64


def test_no_meshes_is_accepted_without_zmesh(volume, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "zmesh", None)  # import zmesh would fail
    cfg = load_volume_config(volume(VALID.replace('meshes = "mito"\n', "")))
    assert cfg.mitochondria.meshes is None
