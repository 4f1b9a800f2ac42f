"""Parsers of the published tables: fixtures in the exact published format, and real samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.errors import InputFileError
from builder.schema import EM_VOXEL_NM, complexity_index, mito_vx_to_um3
from builder.sources.csv_checks import parse_position_strings
from builder.sources.release_tables import (
    one_soma_per_cell,
    read_cell_types,
    read_mito_table,
    read_overlaps,
    read_soma_table,
    read_synapses,
    select_cells,
)
from tests.conftest import PHASE1_ROWS

SOMA_CSV = """id,cell_type,pt_position,pt_root_id,soma_x_nm,soma_y_nm,soma_z_nm
17,e,[103860  44385    891],648518346349540057,415440,415440,4154400
453,e,[84054 50604  1424],648518346349538466,336216,336216,3362160
9,g,[70000 40000  100],648518346349500001,280000,280000,2800000
10,g,[70000 40000  100],648518346349500001,280000,280000,2800000
"""


def test_soma_positions_recomputed_from_pt_position_and_duplicates_reported(tmp_path):
    p = tmp_path / "soma_valence_v185.csv"
    p.write_text(SOMA_CSV)
    issues = []
    df = read_soma_table(p, issues)
    # guards the soma conversion: pt_position voxels at 3.58 x 3.58 x 40 nm (not the nominal 4)
    assert np.allclose(df.loc[0, ["x", "y", "z"]].tolist(), [103860 * 3.58, 44385 * 3.58, 891 * 40], rtol=0, atol=1e-6)
    assert len(df) == 4 and issues == []
    cells = one_soma_per_cell(df, p, issues)
    assert len(cells) == 3 and cells.cell_id.is_unique
    assert [(i.id, i.dropped) for i in issues] == [(648518346349500001, False)]
    assert "2 somata (soma ids [9, 10])" in issues[0].reason


def test_missing_column_names_file_and_column(tmp_path):
    p = tmp_path / "soma_valence_v185.csv"
    p.write_text(SOMA_CSV.replace("pt_position", "position"))
    with pytest.raises(InputFileError, match=r"soma_valence_v185.csv: missing column\(s\) \['pt_position'\]"):
        read_soma_table(p, [])


def test_missing_file_says_where_to_put_it(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        read_soma_table(tmp_path / "soma_valence_v185.csv", [])


def test_bad_synapse_rows_dropped_with_their_id_and_row(tmp_path):
    p = tmp_path / "pni_synapses_v185.csv"
    p.write_text(
        "id,pre_root_id,post_root_id,cleft_vx,ctr_pt_x_nm,ctr_pt_y_nm,ctr_pt_z_nm,ctr_pos_x_vx,ctr_pos_y_vx,ctr_pos_z_vx\n"
        "1,10,20,50,400,800,400,100,200,10\n"
        "2,10,20,50,400,800,400,,200,10\n"
        "3,10,20,50,400,800,400,inf,200,10\n"
    )
    issues = []
    df = read_synapses(p, issues)
    assert df["synapse_id"].tolist() == [1]
    assert np.allclose(df.loc[0, ["x", "y", "z"]].tolist(), [358.0, 716.0, 400.0])  # from ctr_pos_*_vx at 3.58
    assert [(i.id, i.dropped) for i in issues] == [(2, True), (3, True)]
    assert "line 3" in issues[0].reason and "'x'" in issues[0].reason


def test_overlap_table_in_its_published_columns(tmp_path):
    p = tmp_path / "pni_mito_cell_overlaps_v185.csv"
    p.write_text(",row_id,col_id,vals\n0,11,648518346349538102,100\n1,11,648518346349500001,3\n2,12,648518346349538102,7\n")
    df = read_overlaps(p, [])
    # vals count mip-1 voxels: x4 into mito_vx units (MicronsBinder formatoverlap)
    assert df.to_dict("list") == {
        "mito_id": [11, 11, 12],
        "cellid": [648518346349538102, 648518346349500001, 648518346349538102],
        "overlap_vx": [400, 12, 28],
    }


def test_mito_nm_columns_are_checked_against_the_voxels(tmp_path):
    head = "mito_id,mito_vx,ctr_pos_x_vx,ctr_pos_y_vx,ctr_pos_z_vx,cellid,ctr_pos_x_nm,ctr_pos_y_nm,ctr_pos_z_nm\n"
    p = tmp_path / "211019_mitochondria_info.csv"
    p.write_text(head + "1,10,100,200,3,7,358,716,120\n2,10,100,200,3,7,400,800,120\n")  # row 2: nominal 4-nm
    issues = []
    df = read_mito_table(p, issues)
    assert len(df) == 2 and [(i.id, i.dropped) for i in issues] == [(2, False)]
    assert "differ from ctr_pos_*_vx x (3.58, 3.58, 40)" in issues[0].reason
    assert np.allclose(df[["x", "y", "z"]].to_numpy(), [[358, 716, 120]] * 2)


def test_non_numeric_column_is_a_file_error(tmp_path):
    p = tmp_path / "211019_mitochondria_info.csv"
    p.write_text("mito_id,mito_vx,ctr_pos_x_vx,ctr_pos_y_vx,ctr_pos_z_vx,cellid\n1,abc,1,2,3,4\n2,def,1,2,3,4\n")
    with pytest.raises(InputFileError, match="column 'mito_vx' holds no numbers"):
        read_mito_table(p, [])


def test_shipped_soma_table_is_the_official_file():
    import hashlib

    from builder.sources.phase1 import PHASE1_FILES

    pinned = next(f.md5 for f in PHASE1_FILES if f.name == "soma_valence_v185.csv")
    assert hashlib.md5((PHASE1_ROWS / "soma_valence_v185.csv").read_bytes()).hexdigest() == pinned


def test_real_soma_table_positions():
    path = PHASE1_ROWS / "soma_valence_v185.csv"
    issues = []
    df = read_soma_table(path, issues)
    raw = pd.read_csv(path)
    known = df[df.valence.isin(["e", "i", "g"])]
    assert len(known) == 455 and known.valence.value_counts()[["e", "i", "g"]].tolist() == [362, 34, 59]
    assert df.valence.tolist().count("uncertain") == 1 and len(df) == len(raw) and issues == []
    assert np.array_equal(
        df[["x", "y", "z"]].to_numpy(), parse_position_strings(raw.pt_position, path, "pt_position") * EM_VOXEL_NM
    )
    row = df.set_index("soma_id").loc[17]
    assert row.cell_id == 648518346349540057
    assert np.allclose(row[["x", "y", "z"]].astype(float), [103860 * 3.58, 44385 * 3.58, 891 * 40], rtol=0, atol=1e-6)
    assert not np.allclose(raw["soma_z_nm"], df["z"])  # the published nm columns are the broken ones
    cells = one_soma_per_cell(df, path, issues)
    assert len(cells) == 453 and sorted(i.id for i in issues) == [648518346349525545, 648518346349525715, 648518346349536717]
    assert not any(i.dropped for i in issues)


def test_real_soma_subgraph_synapses_nm_from_voxels():
    path = PHASE1_ROWS / "soma_subgraph_synapses_spines_v185_first400.csv"
    issues = []
    syn = read_synapses(path, issues)
    raw = pd.read_csv(path)
    assert len(syn) == len(raw) == 400 and issues == []
    from_vx = raw[["ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx"]].to_numpy() * np.asarray(EM_VOXEL_NM)
    assert np.array_equal(syn[["x", "y", "z"]].to_numpy(), from_vx)
    # the published ctr_pt_*_nm are the nominal grid (vx x 4): not what the dataset uses
    nominal = raw[["ctr_pt_x_nm", "ctr_pt_y_nm", "ctr_pt_z_nm"]].to_numpy()
    assert np.array_equal(nominal, raw[["ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx"]].to_numpy() * [4, 4, 40])
    assert np.median(np.abs(syn["x"].to_numpy() - nominal[:, 0])) > 10_000  # x differs by 0.42 nm per voxel
    assert syn.synapse_id.tolist() == raw.id.tolist() and (syn["size"] == raw.cleft_vx).all()


def test_real_cell_selection():
    path = PHASE1_ROWS / "soma_valence_v185.csv"
    somata = one_soma_per_cell(read_soma_table(path, []), path, [])
    types = read_cell_types(PHASE1_ROWS / "220309_cell_type_classification.csv", [])
    cells = select_cells(somata, types)
    assert set(cells["cell_type"]) == {"pyramidal", "inhibitory", "astrocyte"}
    # 34 classified interneurons, one of which (subtype unknown_type) has no soma entry
    assert (cells["cell_type"] == "inhibitory").sum() == 33
    # the one soma of 'uncertain' valence is a pyramidal cell in the classification: it is kept
    assert cells.set_index("cell_id").loc[648518346349527116, "cell_type"] == "pyramidal"
    assert cells["cell_id"].is_unique and cells["cell_id"].is_monotonic_increasing
    assert {"basket", "chandelier", "bipolar", "martinotti", "neurogliaform"} <= set(
        cells.loc[cells.cell_type == "inhibitory", "cell_subtype"]
    )


def test_a_segment_of_many_somata_outside_the_built_types_loses_nothing(tmp_path):
    """The release lists the vasculature's endothelial cells and pericytes under one segment id."""
    issues: list = []
    types = read_cell_types(PHASE1_ROWS / "220309_cell_type_classification.csv", issues)
    vessel = [i for i in issues if i.id == 648518346349526102]
    assert len(vessel) == 49 and not any(i.dropped for i in vessel)  # 50 rows: OPC, pericyte, endothelial
    assert not any(i.dropped for i in issues)
    assert types.cell_id.is_unique
    # the same conflict in a segment that is built is a loss: which type is right is unknown
    path = tmp_path / "types.csv"
    path.write_text(
        ",centroid_x,centroid_y,centroid_z,cell_segid,cell_type,cell_subtype\n"
        "1,1,1,1,648518346349538237,pyramidal,pyramidal cell\n"
        "2,2,2,2,648518346349538237,glia,astrocyte\n"
        "3,3,3,3,648518346349500001,vasculature,pericyte\n"
        "4,4,4,4,648518346349500001,vasculature,endothelial\n"
    )
    issues = []
    types = read_cell_types(path, issues)
    assert types.cell_id.tolist() == [648518346349538237, 648518346349500001]
    assert [(i.id, i.dropped, i.line) for i in issues] == [(648518346349538237, True, 3), (648518346349500001, False, 5)]


def test_real_mitochondria_rows_positions_equal_the_published_nm():
    path = PHASE1_ROWS / "211019_mitochondria_info_sample.csv"
    raw = pd.read_csv(path)
    issues = []
    df = read_mito_table(path, issues)
    assert len(raw.columns) == 15 and len(df) == len(raw) == 10 and issues == []
    # guards the mitochondria-table conversion: vx x (3.58, 3.58, 40) is the table's own nm
    published = raw[["ctr_pos_x_nm", "ctr_pos_y_nm", "ctr_pos_z_nm"]].to_numpy()
    assert np.allclose(df[["x", "y", "z"]].to_numpy(), published, rtol=0, atol=0.01)
    vx = raw[["ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx"]].to_numpy()
    assert np.allclose(df[["x", "y", "z"]].to_numpy(), vx * EM_VOXEL_NM, rtol=0, atol=1e-6)
    box = raw[[f"bbox_{e}_{a}_vx" for e in ("beg", "end") for a in "xyz"]].to_numpy() * np.tile(EM_VOXEL_NM, 2)
    assert np.allclose(df[["bbox_lo_x", "bbox_lo_y", "bbox_lo_z", "bbox_hi_x", "bbox_hi_y", "bbox_hi_z"]].to_numpy(), box)
    assert np.allclose(mito_vx_to_um3(df.mito_vx), raw.mito_vx * 512.656e-9, rtol=1e-12)


@pytest.mark.realdata
def test_mci_reproduces_published_complexityindex(realdata):
    df = pd.read_csv(realdata / "layer23-volume" / "mito_morphometrics_363cells_part1of3.csv")
    mci = complexity_index(df["surface_area"], mito_vx_to_um3(df["mito_vx"]))
    rel = np.abs(mci - df["complexityindex"]) / df["complexityindex"]
    assert rel.max() < 1e-4
