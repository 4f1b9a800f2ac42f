"""The checks :meth:`builder.store.reader.Dataset.open` makes before it reads a dataset.

A damaged dataset (a manifest that is not a JSON object, another format version, a truncated
Parquet table, a table without the columns the reader needs) is refused with one
:class:`DatasetError` naming the file and the fix, never a traceback later. The checks read
manifest.json and the footers of the Parquet tables only (no table data).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from builder.errors import DatasetError
from builder.store.manifest import check_format_version
from builder.store.paths import DatasetPaths
from builder.store.tables import (
    BINS_SCHEMA,
    CELL_SCHEMA,
    MESH_SCHEMA_U16,
    MITO_SCHEMA,
    NODE_SCHEMA,
    SEGMENT_SCHEMA,
    SYNAPSE_SCHEMA,
)

BUILD_HINT = (
    "build one with `python -m builder` (the demo, into data/demo), or open the directory of a built dataset "
    "(`Dataset.open(path)`; `python -m explorer --data path`)"
)


def rebuild_hint(root: Path) -> str:
    """What to do about a damaged dataset at ``root``."""
    return f"rebuild the dataset (python -m builder build --out {root}, with the options it was built with)"


#: The columns each Parquet table must have (README, 'The L2/3 dataset format'); more are allowed.
TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "cells": CELL_SCHEMA, "mitochondria": MITO_SCHEMA, "synapses": SYNAPSE_SCHEMA, "skeleton_nodes": NODE_SCHEMA,
    "mito_meshes": MESH_SCHEMA_U16, "distance_bins": BINS_SCHEMA, "segments": SEGMENT_SCHEMA,
}  # fmt: skip


def read_manifest_checked(path: Path) -> dict:
    """``manifest.json`` as a dict, of a format version this reader reads.

    Raises
    ------
    DatasetError
        Not JSON, not a JSON object, or no or another ``parameters.format_version`` (the message
        lists the versions read); each names the file and says to rebuild.
    """
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: not JSON, not UTF-8
        raise DatasetError(f"{path}: unreadable, not JSON ({str(exc)[:200]}); {rebuild_hint(path.parent)}") from exc
    if not isinstance(manifest, dict):
        kind = type(manifest).__name__
        raise DatasetError(f"{path}: a JSON {kind}, not the JSON object of a manifest; {rebuild_hint(path.parent)}")
    check_format_version(manifest, path)
    return manifest


def open_table(path: Path, schema: pa.Schema) -> pq.ParquetFile:
    """A Parquet table opened (its footer read, no data) with every column of ``schema``.

    Raises
    ------
    DatasetError
        Truncated, not Parquet, or missing columns (named); the message names the file.
    """
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        hint = rebuild_hint(path.parent.parent)
        raise DatasetError(f"{path}: not a readable Parquet table, truncated or damaged ({exc}); {hint}") from exc
    missing = [c for c in schema.names if c not in names]
    if missing:
        what = f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        raise DatasetError(f"{path}: the {path.stem} table lacks the {what}; {rebuild_hint(path.parent.parent)}")
    return pf


def read_table(path: Path) -> pd.DataFrame:
    """A whole Parquet table (checked with :func:`open_table` first) as a frame."""
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{path}: damaged Parquet data ({exc}); {rebuild_hint(path.parent.parent)}") from exc


def dataset_problems(root: Path | str) -> list[str]:
    """Why :meth:`Dataset.open <builder.store.reader.Dataset>` would refuse the dataset at
    ``root`` (empty list: it opens it).

    Checks what opening checks, without reading table data (milliseconds): ``manifest.json``
    (JSON object, format version) and the footer and columns of every Parquet table present.
    Each problem is a message naming the file and the fix; ``python -m builder validate`` reports
    them before its own checks, which read the files this finds damaged.
    """
    paths = DatasetPaths(Path(root))
    problems: list[str] = []
    if not paths.manifest.is_file():
        problems.append(f"{paths.root}: no manifest.json, so this is not a built L2/3 dataset; {BUILD_HINT}")
    else:
        try:
            read_manifest_checked(paths.manifest)
        except DatasetError as exc:
            problems.append(str(exc))
    for name, schema in TABLE_SCHEMAS.items():
        if paths.table(name).is_file():
            try:
                open_table(paths.table(name), schema)
            except DatasetError as exc:
                problems.append(str(exc))
    return problems
