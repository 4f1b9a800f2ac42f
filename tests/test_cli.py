"""The command line: module entry, validate exit codes, usage errors."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from builder.__main__ import EXIT_ERROR, EXIT_OK, EXIT_USAGE, main


def test_validate_via_python_m(small_dataset):
    r = subprocess.run([sys.executable, "-m", "builder", "validate", str(small_dataset)], capture_output=True, text=True)
    assert r.returncode == EXIT_OK, r.stdout + r.stderr
    assert "valid" in r.stdout


def test_validate_reports_damage(small_dataset, tmp_path, capsys):
    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    swc = next((ds / "morphologies").glob("*.swc"))
    swc.write_text("# comment\n" + swc.read_text())
    (ds / "nodes.tar.gz").unlink()
    assert main(["validate", str(ds)]) == EXIT_ERROR
    out = capsys.readouterr().out
    assert f"morphologies/{swc.name}: sha256 differs" in out
    assert f"{swc.name}: has comment lines" in out
    assert "nodes.tar.gz: listed in manifest.json but missing" in out


def test_validate_missing_dataset_names_the_builder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == EXIT_ERROR
    assert "rerun `python -m builder`" in capsys.readouterr().out


def test_bad_arguments(capsys):
    assert main(["build", "--cells", "0"]) == EXIT_USAGE
    assert main(["build", "--cells", "100000"]) == EXIT_USAGE
    assert "between 1 and" in capsys.readouterr().err


def test_validate_a_directory_that_does_not_exist_says_how_to_build_one(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nonexistent")]) == EXIT_ERROR
    out = capsys.readouterr().out
    assert "no such directory. Build a dataset first: `python -m builder`" in out


def test_help_shows_defaults_and_the_bare_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "`python -m builder` generates the synthetic demo volume" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--workers WORKERS local worker processes (default: 2)" in out or "(default: 1)" in out
    assert "(default: data/<source>)" in out and "(default: None)" not in out


def test_a_missing_package_is_one_line_naming_the_fix(monkeypatch, capsys):
    import builder.__main__ as cli

    def missing(argv):
        raise ModuleNotFoundError("No module named 'tqdm'", name="tqdm")

    monkeypatch.setattr(cli, "_main", missing)
    assert cli.main(["build"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'tqdm' is not installed" in err and "source .venv/bin/activate" in err


@pytest.mark.parametrize("value", ["abc", "²", "4.5"])
def test_demo_cells_names_a_bad_value(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--cells", value])
    err = capsys.readouterr().err
    assert exit_.value.code == EXIT_USAGE and f"invalid int value: {value!r}" in err and "-1" not in err


def test_demo_help_shows_the_default_cells(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--cells CELLS demo volume cells (Phase 1 size: 450) (default: 40)" in out
    assert "--volume-cells N|ID,ID" in out and "(default: 16,16,40)" in out


@pytest.mark.parametrize(
    "extra, names",
    [
        (["--volume-cells", "0"], "'0'"),
        (["--volume-cells", "99999"], "'99999'"),
        (["--volume-cells", ","], "','"),
        (["--volume-cells", "²"], "'²'"),
        (["--volume-cells", "990000000000000001,990000000000000001"], "each once"),
        (["--resolution", "2,2,2"], "'2,2,2'"),
        (["--resolution", "16,16"], "'16,16'"),
        (["--resolution", "nan,16,40"], "'nan,16,40'"),
        (["--cells", "3"], "--volume-cells"),
    ],
)
def test_demo_as_volume_refuses_bad_options_in_one_line_before_any_folder(extra, names, tmp_path, capsys):
    out = tmp_path / "vol"
    assert main(["demo", "--as-volume", str(out), *extra]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and names in err
    assert not out.exists()


def test_volume_options_need_as_volume(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for extra in (["--resolution", "16,16,40"], ["--volume-cells", "2"], ["--skeletons", "swc"]):
        assert main(["demo", *extra]) == EXIT_USAGE
        assert "need --as-volume" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_demo_as_volume_refuses_a_grid_too_large_before_writing_a_voxel(tmp_path, capsys):
    out = tmp_path / "vol"
    assert main(["demo", "--as-volume", str(out), "--volume-cells", "1", "--resolution", "4,4,4"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "voxels of [4, 4, 4] nm, more than 1e+12; give a coarser --resolution or fewer --volume-cells" in err
    assert not (out / "cells").exists() and not (out / "mitochondria").exists()
