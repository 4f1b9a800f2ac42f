"""Fifteen kinds of damaged raw input, one build each: the damaged item is named and listed in
the build report (or the build stops with a message naming file and column), everything else
is built."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from meshparty import skeleton_io

from builder.__main__ import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, main
from builder.compute.meshes import MeshBatch
from builder.sources.mesh_bundle import ABSENT_REASON, read_bundle, write_bundle
from builder.sources.published import CELL_TYPE_TABLE, MESH_DIR, MITO_TABLE, SKELETON_DIR, SYNAPSE_TABLE
from builder.store.validate import validate_dataset
from tests.conftest import SMALL
from tests.test_bad_input import demo_cells, run
from tests.textedit import set_field


def _neuron(raw, k=0) -> int:
    cells = demo_cells(raw)
    return int(cells[cells.cell_type != "glia"].cell_segid.iloc[k])


def _absent(path):
    import h5py

    with h5py.File(path) as h5:
        return h5["absent_mito_id"][()]


def _edit_mesh(raw, edit) -> int:
    """Apply ``edit(vertices, faces) -> (vertices, faces)`` to the first mesh of a cell's bundle."""
    cid = _neuron(raw, 1)
    path = raw / MESH_DIR / f"{cid}.h5"
    batch, _ = read_bundle(path)
    meshes = [batch.mesh(i) for i in range(batch.n)]
    meshes[0] = edit(*meshes[0])
    write_bundle(path, MeshBatch.from_meshes(batch.ids, meshes), _absent(path))
    return int(batch.ids[0])


def _edit_skeleton(raw, edit) -> int:
    cid = _neuron(raw, 2)
    path = raw / SKELETON_DIR / f"{cid}_skeleton.h5"
    sk = skeleton_io.read_skeleton_h5(str(path))
    v, e = edit(np.array(sk.vertices), np.array(sk.edges))
    skeleton_io.write_skeleton_h5_by_part(
        str(path), v, e, sk.meta, vertex_properties=sk.vertex_properties, root=sk.root, overwrite=True
    )
    return cid


def _edit_csv(raw, name, edit) -> int:
    df = pd.read_csv(raw / name)
    item = edit(df)
    df.to_csv(raw / name, index=False)
    return item


def truncated_csv(raw):
    path = raw / SYNAPSE_TABLE
    data = path.read_bytes()
    last_id = int(data.rstrip(b"\n").rsplit(b"\n", 1)[1].split(b",")[0])
    path.write_bytes(data[: -len(data.rstrip(b"\n").rsplit(b"\n", 1)[1]) // 2])  # half the last line
    return "issue", last_id, "incomplete last line (file truncated?)"


def missing_column(raw):
    _edit_csv(raw, MITO_TABLE, lambda df: df.drop(columns="mito_vx", inplace=True))
    return "error", MITO_TABLE, "missing column(s) ['mito_vx']"


def wrong_dtype_value(raw):
    def edit(df):
        df["ctr_pos_x_vx"] = df["ctr_pos_x_vx"].astype(object)
        df.loc[5, "ctr_pos_x_vx"] = "12,5e3vx"
        return int(df.loc[5, "id"])

    return "issue", _edit_csv(raw, SYNAPSE_TABLE, edit), "line 7: missing or non-finite ['x']"


def wrong_dtype_column(raw):
    df = pd.read_csv(raw / CELL_TYPE_TABLE, index_col=0)
    df["cell_segid"] = "cell-" + df["cell_segid"].astype(str)
    df.to_csv(raw / CELL_TYPE_TABLE)
    return "error", CELL_TYPE_TABLE, "column 'cell_segid' holds no integer ids"


def duplicate_ids(raw):
    path = raw / MITO_TABLE
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(path.read_bytes().rstrip(b"\n") + b"\n" + lines[4] + b"\n")  # line 5 again, at the end
    return "kept-issue", int(lines[4].split(b",")[0]), "duplicated mito_id"


def inf_skeleton_coordinates(raw):
    def edit(v, e):
        v[7, 1] = np.inf
        return v, e

    return "cell", _edit_skeleton(raw, edit), "node(s) with NaN/inf coordinates"


def nan_mito_position(raw):
    def edit(df):
        df.loc[10, "ctr_pos_z_vx"] = np.nan
        return int(df.loc[10, "mito_id"])

    return "issue", _edit_csv(raw, MITO_TABLE, edit), "missing or non-finite ['z']"


def empty_mesh(raw):
    return "meshless", _edit_mesh(raw, lambda v, f: (v[:0], f[:0])), "empty or too small mesh"


def open_mesh(raw):
    return "meshless", _edit_mesh(raw, lambda v, f: (v, f[1:])), "mesh not closed (not watertight)"


def degenerate_mesh(raw):
    def edit(v, f):
        f = f.copy()
        f[0, 1] = f[0, 0]
        return v, f

    return "meshless", _edit_mesh(raw, edit), "degenerate face (repeated vertex)"


def face_index_out_of_range(raw):
    def edit(v, f):
        f = f.copy()
        f[2, 2] = len(v) + 1000
        return v, f

    return "meshless", _edit_mesh(raw, edit), "face index out of range"


def corrupt_hdf5_skeleton(raw):
    cid = _neuron(raw, 2)
    path = raw / SKELETON_DIR / f"{cid}_skeleton.h5"
    path.write_bytes(path.read_bytes()[:300])  # a truncated HDF5 file
    return "cell", cid, "unreadable skeleton"


def several_roots(raw):
    return "cell", _edit_skeleton(raw, lambda v, e: (v, e[np.arange(len(e)) != 20])), "disconnected pieces"


def cycle(raw):
    return "cell", _edit_skeleton(raw, lambda v, e: (v, np.vstack([e, [[2, 30]]]))), "cycle"


def label_out_of_range(raw):
    cid = _neuron(raw, 0)
    path = raw / SKELETON_DIR / f"{cid}_skeleton_label.npy"
    lab = np.load(path)
    lab[3] = -1
    np.save(path, lab)
    return "cell", cid, "unknown label value(s) [-1]"


def mitochondrion_without_cell(raw):
    """A blank cellid, made in the text (a pandas round trip would write every id through float)."""
    mito_id = set_field(raw / MITO_TABLE, 14, "cellid", "")
    return "issue", int(mito_id), "line 14: blank cellid"


def synapse_to_unknown_cell(raw):
    def edit(df):
        df.loc[4, "post_root_id"] = 0
        return int(df.loc[4, "id"])

    return "issue", _edit_csv(raw, SYNAPSE_TABLE, edit), "root id 0 or negative (no segment)"


DAMAGES = [
    truncated_csv, missing_column, wrong_dtype_value, wrong_dtype_column, duplicate_ids, inf_skeleton_coordinates,
    nan_mito_position, empty_mesh, open_mesh, degenerate_mesh, face_index_out_of_range, corrupt_hdf5_skeleton,
    several_roots, cycle, label_out_of_range, mitochondrion_without_cell, synapse_to_unknown_cell,
]  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.__name__ for d in DAMAGES])
def test_damaged_input(damage, raw_copy, tmp_path, capsys):
    n_cells = len(demo_cells(raw_copy))
    kind, item, text = damage(raw_copy)
    out = tmp_path / "ds"
    if kind == "error":  # the table is unusable: stop, name file and column, write nothing
        code = main(["build", "--raw-dir", str(raw_copy), "--out", str(out), "--cells", str(SMALL.cells),
                     "--seed", str(SMALL.seed), "--workers", "1"])  # fmt: skip
        err = capsys.readouterr().err
        assert code == EXIT_ERROR and str(raw_copy / item) in err and text in err
        assert not (out / "manifest.json").exists()
        return
    code, report = run(raw_copy, out)
    if kind == "cell":
        assert code == EXIT_PARTIAL
        reasons = {c["cell_id"]: c["reason"] for c in report["skipped_cells"]}
        assert list(reasons) == [item] and text in reasons[item]
        assert report["cells_built"] == n_cells - 1
    elif kind in ("issue", "kept-issue"):
        issues = [i for i in report["input_issues"] if i["id"] == item]
        assert issues and text in issues[0]["reason"], report["input_issues"]
        assert issues[0]["dropped"] is (kind == "issue")
        assert code == (EXIT_PARTIAL if kind == "issue" else EXIT_OK)
        assert report["cells_built"] == n_cells and not report["skipped_cells"]
    else:  # meshless
        assert code == EXIT_OK and report["cells_built"] == n_cells
        meshless = {m["mito_id"]: m["reason"] for m in report["mitochondria_without_mesh"] if m["reason"] != ABSENT_REASON}
        assert list(meshless) == [item] and text in meshless[item]  # besides the demo's own mesh-less ones
        n = len(report["mitochondria_without_mesh"])
        assert f"{n} mitochondria kept without mesh measures" in capsys.readouterr().out
    assert validate_dataset(out) == []
