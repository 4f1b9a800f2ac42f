"""The tables of a VOLUME.toml (somata, synapses, mitochondria): their positions' unit, their
columns and how they are read, ids as int64 and never through float (docs/volume.md).

CSV and Parquet are told apart by the file's suffix, case-insensitively (``.csv``, ``.CSV``).
A CSV id column's contents are parsed and checked when the table is read (:meth:`TableSpec.read`);
loading the VOLUME.toml checks only that the columns exist (and, for Parquet, are not floating point).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from builder.errors import VolumeConfigError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
ID_COLUMNS = frozenset({"cell_id", "synapse_id", "pre_root_id", "post_root_id", "mito_id"})
Triple = tuple[float, float, float]


def is_csv(path: Path) -> bool:
    """A CSV table (suffix ``.csv`` in any case); anything else in :data:`TABLE_SUFFIXES` is Parquet."""
    return path.suffix.lower() == ".csv"


@dataclass(frozen=True)
class Positions:
    """The unit of a table's (or SWC files') positions: ``nm``, ``um`` or ``voxels`` at ``resolution_nm``."""

    unit: str
    resolution_nm: Triple | None = None

    def to_nm(self, xyz: np.ndarray) -> np.ndarray:
        """Positions, shape (n, 3), in the stated unit -> nm, float64 (the one conversion)."""
        a = np.asarray(xyz, np.float64)
        if self.unit == "nm":
            return a
        if self.unit == "um":
            return a * 1000.0
        assert self.resolution_nm is not None
        return a * np.asarray(self.resolution_nm)

    def lengths_to_nm(self, r: np.ndarray) -> np.ndarray:
        """Lengths, shape (n,), in the stated unit (an SWC radius) -> nm, float64; in voxels, the
        voxel's x side (tracers measure a radius in the image plane)."""
        a = np.asarray(r, np.float64)
        if self.unit == "voxels":
            assert self.resolution_nm is not None
            return a * self.resolution_nm[0]
        return a * (1000.0 if self.unit == "um" else 1.0)


@dataclass(frozen=True)
class TableSpec:
    """A CSV or Parquet table: its path, ``columns`` (project name -> the file's column) and positions' unit."""

    path: Path
    columns: Mapping[str, str]
    positions: Positions

    def read(self) -> pd.DataFrame:
        """The table with the project's column names, ids int64 (never through float), x, y, z in nm."""
        src = list(self.columns.values())
        ids = [c for k, c in self.columns.items() if k in ID_COLUMNS]
        if is_csv(self.path):
            df = pd.read_csv(self.path, usecols=src, dtype={c: str for c in ids})
        else:
            df = pd.read_parquet(self.path, columns=src)
        out = pd.DataFrame({k: df[c] for k, c in self.columns.items()})
        for k in ID_COLUMNS & set(self.columns):
            out[k] = exact_ids(out[k], self.path, self.columns[k])
        out[["x", "y", "z"]] = self.positions.to_nm(out[["x", "y", "z"]].to_numpy(np.float64))
        return out


def table_columns(path: Path) -> dict[str, str]:
    """The table's columns -> "float", "int" or "other" (Parquet types; CSV: header only, "other").
    A damaged file raises what pandas or pyarrow raise."""
    if is_csv(path):
        return dict.fromkeys(pd.read_csv(path, nrows=0).columns, "other")
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = {"float": pa.types.is_floating, "int": pa.types.is_integer}
    return {f.name: next((k for k, test in kind.items() if test(f.type)), "other") for f in pq.read_schema(path)}


def exact_ids(col: pd.Series, path: Path, name: str) -> np.ndarray:
    """Ids as int64: integer columns as they are, CSV text parsed exactly (never through float)."""
    if pd.api.types.is_integer_dtype(col):
        return col.to_numpy(np.int64)
    from builder.sources.csv_checks import parse_ids

    ids, reasons = parse_ids(col.to_frame(name), name, path)
    bad = [r for r in reasons if r is not None]
    if bad:
        raise VolumeConfigError(path, name, f"{len(bad)} unusable ids, e.g. {bad[0]}", "Fix the table's id column")
    return ids
