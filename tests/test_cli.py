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
