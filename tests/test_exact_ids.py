"""Ids are integers end to end: one bad field costs its row, never the exactness of the others.

Each build test edits the raw tables as text (a pandas round trip would itself write the ids
through float), builds, and counts what was kept against the raw text.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import EXIT_ERROR, EXIT_PARTIAL, main
from builder.errors import InputFileError
from builder.sources.published import MITO_TABLE, SYNAPSE_TABLE
from builder.store.validate import validate_dataset
from tests.conftest import SMALL
from tests.textedit import set_field

BIG = "864691135494786192"  # a MICrONS root id: above 2**53, rounded to ...6176 through float


def _ids(values: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"cellid": pd.Series(values, dtype=object)})


def test_ids_parse_exactly_and_bad_ones_are_named():
    from builder.sources.csv_checks import parse_ids

    df = _ids([BIG, "", "abc", "9223372036854775807", "9223372036854775808", " 17 ", "5.0", "2.5", "123.00000000000000001"])
    ids, why = parse_ids(df, "cellid", Path("t.csv"))
    assert ids.dtype == np.int64
    assert ids[0] == int(BIG) and ids[3] == 2**63 - 1 and ids[5] == 17 and ids[6] == 5
    assert why[1] == "blank cellid" and "not an integer ('abc')" in why[2]
    assert why[4] == "cellid outside the int64 range"  # not wrapped to -9223372036854775808
    assert why[7] == why[8] == "cellid is not an integer"  # even when float64 rounds it to an integer
    assert [w is None for w in why] == [True, False, False, True, False, True, True, False, False]


def test_a_column_written_in_floating_point_is_refused_by_name():
    from builder.sources.csv_checks import parse_ids

    with pytest.raises(
        InputFileError, match=r"column 'cellid' holds ids written in floating point \(e.g. '8.6e\+17' on line 3\)"
    ):
        parse_ids(_ids(["12", "8.6e+17"]), "cellid", Path("t.csv"))
    with pytest.raises(InputFileError, match="holds no integer ids"):
        parse_ids(_ids(["a", "b"]), "cellid", Path("t.csv"))


def _build(raw: Path, out: Path) -> tuple[int, dict]:
    code = main(["build", "--raw-dir", str(raw), "--out", str(out), "--cells", str(SMALL.cells), "--seed", str(SMALL.seed),
                 "--workers", "1"])  # fmt: skip
    report = json.loads((out / "build_report.json").read_text()) if (out / "build_report.json").is_file() else {}
    return code, report


def _raw_text(raw: Path, name: str, cols: list[str]) -> pd.DataFrame:
    return pd.read_csv(raw / name, dtype=str, usecols=cols, keep_default_na=False)


def test_one_blank_cellid_costs_one_mitochondrion(raw_copy, tmp_path):
    cells = set(pd.read_csv(raw_copy / "220309_cell_type_classification.csv", dtype=str)["cell_segid"])
    before = _raw_text(raw_copy, MITO_TABLE, ["mito_id", "cellid"])
    lost = set_field(raw_copy / MITO_TABLE, 9, "cellid", "")
    code, report = _build(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL
    [issue] = [i for i in report["input_issues"] if i["dropped"]]
    assert (issue["file"], issue["line"], issue["id"], issue["reason"]) == (MITO_TABLE, 9, int(lost), "line 9: blank cellid")
    mito = pd.read_parquet(tmp_path / "ds" / "tables" / "mitochondria.parquet", columns=["mito_id", "cellid"])
    expected = before[before["cellid"].isin(cells) & (before["mito_id"] != lost)]
    assert len(mito) == len(expected) > 1000  # every other mitochondrion kept ...
    assert sorted(map(str, mito["cellid"])) == sorted(expected["cellid"])  # ... with its exact cell id
    assert mito["cellid"].dtype == np.int64
    assert validate_dataset(tmp_path / "ds") == []


def test_one_non_numeric_partner_costs_its_synapse_only(raw_copy, tmp_path):
    raw = _raw_text(raw_copy, SYNAPSE_TABLE, ["id", "pre_root_id", "post_root_id"]).set_index("id")
    bad = set_field(raw_copy / SYNAPSE_TABLE, 12, "pre_root_id", "abc")
    code, report = _build(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL
    [issue] = [i for i in report["input_issues"] if i["dropped"]]
    assert issue["line"] == 12 and issue["id"] == int(bad) and "pre_root_id is not an integer ('abc')" in issue["reason"]
    syn = pd.read_parquet(tmp_path / "ds" / "tables" / "synapses.parquet", columns=["synapse_id", "pre_root_id", "post_root_id"])
    assert int(bad) not in set(syn["synapse_id"]) and len(syn) > 1000
    got = syn.astype(str).drop_duplicates("synapse_id").set_index("synapse_id")
    assert got.equals(raw.loc[got.index, ["pre_root_id", "post_root_id"]])  # every partner id exact
    assert validate_dataset(tmp_path / "ds") == []


def test_an_id_beyond_int64_is_set_aside_not_wrapped(raw_copy, tmp_path):
    set_field(raw_copy / MITO_TABLE, 7, "mito_id", "9223372036854775808")
    code, report = _build(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL
    [issue] = [i for i in report["input_issues"] if i["dropped"]]
    assert issue["reason"] == "line 7: mito_id outside the int64 range" and issue["id"] == -1
    mito = pd.read_parquet(tmp_path / "ds" / "tables" / "mitochondria.parquet", columns=["mito_id"])
    assert (mito["mito_id"] > 0).all()


def test_a_table_whose_ids_went_through_float_is_refused(raw_copy, tmp_path, capsys):
    path = raw_copy / MITO_TABLE
    df = pd.read_csv(path)
    df.loc[3, "cellid"] = np.nan  # what a spreadsheet or a careless script does: the column becomes float
    df.to_csv(path, index=False)
    code, _ = _build(raw_copy, tmp_path / "ds")
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and str(path) in err and "column 'cellid' holds ids written in floating point" in err
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_validate_catches_a_build_that_lost_rows(raw_copy, tmp_path, monkeypatch):
    """A parser that loses rows in silence (as the float path did) makes an invalid dataset."""
    from builder.sources import published

    real = published.read_mito_table

    def lossy(path, issues):
        df = real(path, issues)
        return df[df["cellid"] != df["cellid"].iloc[0]]  # one cell's mitochondria gone, nothing said

    monkeypatch.setattr(published, "read_mito_table", lossy)
    code, _ = _build(raw_copy, tmp_path / "ds")
    problems = validate_dataset(tmp_path / "ds")
    assert any(p.startswith("mitochondria: 1 cell(s) hold other rows than") for p in problems), problems


def test_a_duplicated_id_with_other_values_is_a_loss_not_a_repeat(raw_copy, tmp_path):
    path = raw_copy / SYNAPSE_TABLE
    lines = path.read_bytes().split(b"\n")
    fields = lines[5].split(b",")
    fields[2] = b"123456789"  # the same synapse id, another postsynaptic cell
    path.write_bytes(path.read_bytes().rstrip(b"\n") + b"\n" + b",".join(fields) + b"\n" + lines[6] + b"\n")
    code, report = _build(raw_copy, tmp_path / "ds")
    assert code == EXIT_PARTIAL
    kinds = {
        i["reason"].split(": ", 1)[1]: i["dropped"] for i in report["input_issues"] if "duplicated synapse_id" in i["reason"]
    }
    assert kinds == {f"duplicated synapse_id in {SYNAPSE_TABLE}: holds other values than the first row, which was kept": True,
                     f"duplicated synapse_id in {SYNAPSE_TABLE}: repeats the first row": False}  # fmt: skip
    assert validate_dataset(tmp_path / "ds") == []
