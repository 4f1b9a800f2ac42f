"""Every command checks its inputs before it replaces an output, and one run's outputs replace
the previous run's together."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder.__main__ import EXIT_ERROR, EXIT_OK, main
from tests.conftest import REPO

RUNNER = Path(__file__).with_name("kill_runner.py")


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture()
def ds(small_dataset, tmp_path) -> Path:
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    return out


def test_neuroglancer_refuses_altered_tables_before_writing_a_layer(ds, tmp_path, capsys):
    table = ds / "tables" / "mitochondria.parquet"
    t = pq.read_table(table)
    vol = t["volume_um3"].to_numpy().copy()
    vol[0] *= 2
    pq.write_table(t.set_column(t.schema.get_field_index("volume_um3"), "volume_um3", pa.array(vol)), table)
    layers = _tree(ds / "precomputed")
    assert main(["neuroglancer", str(ds)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "tables/mitochondria.parquet: sha256 differs" in err and "rebuild the dataset" in err
    assert _tree(ds / "precomputed") == layers  # not one layer file rewritten
    assert main(["publish", str(ds), f"file://{tmp_path / 'pub'}"]) == EXIT_OK  # the intact layers can still be shared
    assert {k: v for k, v in _tree(tmp_path / "pub").items() if not k.startswith("states/")} == layers


@pytest.mark.parametrize("version", ["3", "99", None])
def test_neuroglancer_refuses_another_format_version(ds, capsys, version):
    manifest = json.loads((ds / "manifest.json").read_text())
    manifest["parameters"]["format_version"] = version
    (ds / "manifest.json").write_text(json.dumps(manifest))
    layers = _tree(ds / "precomputed")
    assert main(["neuroglancer", str(ds)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"dataset format version {version!r}; this code reads format 7" in err and "Rebuild" in err
    assert _tree(ds / "precomputed") == layers


def test_neuroglancer_replaces_the_layers_whole(ds):
    stale = ds / "precomputed" / "skeletons" / "stale-from-an-old-run"
    stale.write_bytes(b"x")
    layers = _tree(ds / "precomputed")
    assert main(["neuroglancer", str(ds)]) == EXIT_OK
    after = _tree(ds / "precomputed")
    assert "skeletons/stale-from-an-old-run" not in after
    layers.pop("skeletons/stale-from-an-old-run")
    assert after == layers  # the same bytes, written afresh
    assert main(["validate", str(ds)]) == EXIT_OK
    assert not [p for p in ds.iterdir() if p.name.startswith(".precomputed")]


def test_a_killed_analyze_leaves_the_previous_run_whole(ds):
    assert main(["analyze", str(ds)]) == EXIT_OK
    out = ds / "analysis" / "pyramidal"
    before = _tree(out)
    assert {"analysis.json", "segments.csv", "gradients.png"} <= set(before)
    cmd = [sys.executable, str(RUNNER), "gradients.csv", "1", "--", "analyze", str(ds), "--min-leaf-um", "20"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr  # SIGKILLed in the middle of the second run
    assert _tree(out) == before  # the first run, every file of it
    assert main(["analyze", str(ds), "--min-leaf-um", "20", "--no-figures"]) == EXIT_OK
    after = _tree(out)
    assert not any(name.endswith(".png") for name in after)  # --no-figures: no stale figures of an earlier run
    assert json.loads((out / "analysis.json").read_text())["filters"]["min_leaf_um"] == 20
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # temporaries gone


def test_analyze_takes_many_cells_on_the_command_line(ds, capsys):
    from builder.store.reader import Dataset

    ids = Dataset.open(ds).cells["cell_id"].tolist()
    many = ",".join(map(str, ids * 4))  # 24 ids, 400+ characters: longer than a file name may be
    assert main(["analyze", str(ds), "--cells", many, "--no-figures"]) == EXIT_OK
    assert f"cells-{len(ids) * 4}-" in capsys.readouterr().out


@pytest.mark.parametrize("spec", ["99999999999999999999", "-5", "12,abc"])
def test_analyze_refuses_cells_that_are_not_ids(ds, capsys, spec):
    assert main(["analyze", str(ds), "--cells", spec]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: --cells") and "Traceback" not in err


def test_analyze_never_replaces_a_folder_that_is_not_its_own(ds, tmp_path, capsys):
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    for out in (mine, ds, ds / "tables", ds / "analysis"):
        before = _tree(ds)
        assert main(["analyze", str(ds), "--out", str(out), "--no-figures"]) == EXIT_ERROR, out
        assert "analyze replaces its output folder whole" in capsys.readouterr().err
        assert _tree(ds) == before
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert main(["analyze", str(ds), "--out", str(tmp_path / "new"), "--no-figures"]) == EXIT_OK
    assert main(["analyze", str(ds), "--out", str(tmp_path / "new"), "--no-figures"]) == EXIT_OK  # its own: replaced
