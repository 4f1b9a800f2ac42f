"""A damaged dataset is refused at open with one message naming the file and the fix: by the
reader, by ``python -m builder analyze`` and by the explorer (which does not start), never a
traceback or a server answering 500s."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from builder.config import FORMAT_VERSION
from builder.errors import DatasetError
from builder.store.reader import Dataset


def _manifest(text: str) -> Callable[[Path], None]:
    return lambda ds: (ds / "manifest.json").write_text(text)


def _version(version: object) -> Callable[[Path], None]:
    def damage(ds: Path) -> None:
        m = json.loads((ds / "manifest.json").read_text())
        if version is None:
            del m["parameters"]["format_version"]
        else:
            m["parameters"]["format_version"] = version
        (ds / "manifest.json").write_text(json.dumps(m))

    return damage


def _truncate(table: str) -> Callable[[Path], None]:
    def damage(ds: Path) -> None:
        p = ds / "tables" / f"{table}.parquet"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])

    return damage


def _drop_columns(table: str, columns: list[str]) -> Callable[[Path], None]:
    def damage(ds: Path) -> None:
        p = ds / "tables" / f"{table}.parquet"
        pq.write_table(pq.read_table(p).drop_columns(columns), p)

    return damage


# (damage, file named in the message, what else the message must say)
CASES = {
    "manifest-is-a-list": (_manifest("[]"), "manifest.json", ["JSON list", "rebuild"]),
    "manifest-is-a-string": (_manifest('"x"'), "manifest.json", ["JSON str", "rebuild"]),
    "manifest-not-json": (_manifest('{"files": '), "manifest.json", ["rebuild"]),  # refused before too: a guard
    "format-3": (_version("3"), "manifest.json", ["'3'", FORMAT_VERSION, "rebuild"]),
    "format-99": (_version("99"), "manifest.json", ["'99'", FORMAT_VERSION, "rebuild"]),
    "format-missing": (_version(None), "manifest.json", [FORMAT_VERSION, "rebuild"]),
    "cells-truncated": (_truncate("cells"), "tables/cells.parquet", ["truncated", "rebuild"]),
    "nodes-truncated": (_truncate("skeleton_nodes"), "tables/skeleton_nodes.parquet", ["truncated", "rebuild"]),
    "meshes-truncated": (_truncate("mito_meshes"), "tables/mito_meshes.parquet", ["truncated", "rebuild"]),
    "segments-not-parquet": (
        lambda ds: (ds / "tables/segments.parquet").write_text("cell_id,segment_id\n1,2\n"),
        "tables/segments.parquet",
        ["not a readable Parquet table", "rebuild"],
    ),
    "synapses-without-columns": (
        _drop_columns("synapses", ["compartment", "size"]),
        "tables/synapses.parquet",
        ["synapses table", "compartment", "size", "rebuild"],
    ),
    "bins-without-a-column": (
        _drop_columns("distance_bins", ["coverage_factor"]),
        "tables/distance_bins.parquet",
        ["distance_bins table", "coverage_factor", "rebuild"],
    ),
}


@pytest.fixture(params=list(CASES))
def damaged(request, small_dataset, tmp_path) -> tuple[Path, str, list[str]]:
    damage, rel, words = CASES[request.param]
    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    damage(ds)
    return ds, str(ds / rel), words


def _says(message: str, path: str, words: list[str]) -> None:
    assert path in message, message
    for w in words:
        assert w.lower() in message.lower(), (w, message)
    assert "Traceback" not in message


def test_the_reader_refuses_it_naming_the_file_and_the_fix(damaged):
    ds, path, words = damaged
    with pytest.raises(DatasetError) as err:
        Dataset.open(ds)
    _says(str(err.value), path, words)
    from builder.store.reader import dataset_problems

    problems = dataset_problems(ds)
    assert len(problems) == 1, problems
    _says(problems[0], path, words)


def test_analyze_prints_the_message_and_exits_1(damaged, capsys):
    from builder.__main__ import main

    ds, path, words = damaged
    assert main(["analyze", str(ds), "--no-figures"]) == 1
    err = capsys.readouterr().err
    _says(err, path, words)
    assert not (ds / "analysis").exists()


def test_the_explorer_does_not_start_and_says_why(damaged, capsys, monkeypatch):
    from werkzeug import serving

    from explorer.__main__ import main

    def serve(*args, **kwargs):
        pytest.fail("the explorer started serving a damaged dataset")

    monkeypatch.setattr(serving, "run_simple", serve)
    ds, path, words = damaged
    assert main(["--data", str(ds), "--no-public-layers"]) == 1
    _says(capsys.readouterr().err, path, words)


def test_the_wsgi_entry_raises_the_message(small_dataset, tmp_path, monkeypatch):
    from explorer.app import create_server

    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    _truncate("synapses")(ds)
    monkeypatch.setenv("EXPLORER_DATA", str(ds))
    with pytest.raises(DatasetError, match="synapses.parquet: not a readable Parquet table"):
        create_server()


def test_an_intact_dataset_has_no_problems(small_dataset):
    from builder.store.reader import dataset_problems

    assert dataset_problems(small_dataset) == []
