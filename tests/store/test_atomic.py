"""Atomic writes: a failed write never replaces a good file; write errors name the path."""

from __future__ import annotations

import errno
import os

import pytest

from builder.errors import OutputWriteError
from builder.store.atomic import remove_stale_temporaries, write_bytes, write_with
from builder.store.atomic import tmp_path as temporary_of


def test_failed_writer_leaves_the_old_file_and_no_temporary(tmp_path_factory):
    d = tmp_path_factory.mktemp("w")
    target = d / "table.csv"
    write_bytes(target, b"good")

    def half_then_crash(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        write_with(target, half_then_crash)
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in d.iterdir()) == ["table.csv"]


def test_disk_full_names_the_path(tmp_path, monkeypatch):
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OutputWriteError, match=r"cannot write .*x\.json: No space left on device.*rerun"):
        write_bytes(tmp_path / "x.json", b"{}")
    assert not temporary_of(tmp_path / "x.json").exists()


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / "a").mkdir()
    stale = tmp_path / "a" / ".x.swc.tmp-123"
    stale.write_text("partial")
    (tmp_path / "a" / "x.swc").write_text("ok")
    assert remove_stale_temporaries(tmp_path) == 1
    assert not stale.exists() and (tmp_path / "a" / "x.swc").exists()


def test_integer_csv_is_what_pandas_writes(tmp_path):
    import numpy as np
    import pandas as pd

    from builder.store import writers

    for n in (0, 1, 5000):
        df = pd.DataFrame({"mito_id": np.arange(n) + 20_000_000, "node_id": np.arange(n) * 7, "n_vertices": np.arange(n) % 300})
        writers.write_int_csv(tmp_path / "a.csv", df)
        writers.write_csv(tmp_path / "b.csv", df)
        assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
