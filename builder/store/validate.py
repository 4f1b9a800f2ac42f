"""Check a built dataset against the format of README, 'The L2/3 dataset format' (``python -m builder validate``)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from builder.compute.gradients import BIN_COLUMNS, TOTAL_COLUMNS
from builder.compute.segments import SEGMENT_COLUMNS
from builder.schema import (
    ALL_COMPARTMENT_STRINGS,
    CELL_COLUMNS,
    CELL_TYPES,
    MESH_COLUMNS,
    MITO_COLUMNS,
    NODE_COLUMNS,
    SYNAPSE_COLUMNS,
    SYNAPSE_EXTRA_COLUMNS,
    SYNAPSE_TYPES,
)
from builder.sources.recount import recount_problems
from builder.store.lock import lock_holder
from builder.store.manifest import read_manifest, verify_checksums
from builder.store.paths import ARCHIVED_DIRS, DatasetPaths
from builder.store.reader_checks import dataset_problems
from builder.store.tables import VERTEX_COUNT_COLUMNS

_TABLE_COLUMNS = {
    "cells": CELL_COLUMNS + TOTAL_COLUMNS,
    "mitochondria": MITO_COLUMNS,
    "synapses": SYNAPSE_COLUMNS + SYNAPSE_EXTRA_COLUMNS,
    "skeleton_nodes": NODE_COLUMNS,
    "mito_meshes": MESH_COLUMNS,
    "distance_bins": BIN_COLUMNS,
    "segments": SEGMENT_COLUMNS,
}


def check_swc(path: Path) -> tuple[list[str], int]:
    """Problems of one SWC file and its node count."""
    text = path.read_text()
    if any(line.startswith("#") for line in text.splitlines()):
        return [f"{path.name}: has comment lines"], 0
    try:
        a = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        return [f"{path.name}: not numeric SWC ({exc})"], 0
    if a.shape[1] != 7:
        return [f"{path.name}: {a.shape[1]} columns, expected 7 (node label x y z radius parent)"], 0
    n = len(a)
    probs = []
    node, label, parent = a[:, 0].astype(np.int64), a[:, 1], a[:, 6].astype(np.int64)
    if not np.array_equal(np.sort(node), np.arange(n)):
        probs.append(f"{path.name}: node ids are not 0..{n - 1}")
    if np.sum(parent == -1) != 1:
        probs.append(f"{path.name}: {int(np.sum(parent == -1))} roots, expected 1")
    if np.any((parent < -1) | (parent >= n)):
        probs.append(f"{path.name}: parent id out of range")
    if np.any(~np.isin(label, np.arange(6))):
        probs.append(f"{path.name}: labels outside 0-5")
    if not np.isfinite(a[:, 2:6]).all():
        probs.append(f"{path.name}: non-finite coordinates or radius")
    if (a[:, 5] < 0).any():
        probs.append(f"{path.name}: {int((a[:, 5] < 0).sum())} negative radii")
    return probs, n


def validate_dataset(root: Path) -> list[str]:
    """All problems found in the dataset at ``root`` (empty list: valid)."""
    paths = DatasetPaths(Path(root))
    if not paths.root.is_dir():
        return [
            f"{paths.root}: no such directory. Build a dataset first: `python -m builder` (the demo, into "
            "data/demo) or `python -m builder build --source phase1` (the real release, into data/phase1)"
        ]
    holder = lock_holder(paths.root)
    if holder:
        return [f"{paths.root} is being written by another process ({holder}); validate it when that has ended"]
    manifest = read_manifest(paths)
    if manifest is None and not paths.manifest.is_file():
        return [f"{paths.manifest}: missing; the build did not finish (rerun `python -m builder`)"]
    damaged = dataset_problems(paths.root)  # a file the reader cannot open: nothing more to check in it
    if damaged or manifest is None:
        return damaged or [f"{paths.manifest}: unreadable"]
    probs = verify_checksums(paths.root, manifest)

    def csv(path: Path, cols: tuple[str, ...]) -> pd.DataFrame | None:
        if not path.is_file():
            probs.append(f"{path.relative_to(paths.root)}: missing")
            return None
        df = pd.read_csv(path)
        if list(df.columns[: len(cols)]) != list(cols):
            probs.append(f"{path.relative_to(paths.root)}: columns {list(df.columns)} do not start with {list(cols)}")
            return None
        return df

    cells = csv(paths.cells_csv, CELL_COLUMNS)
    syn = csv(paths.synapses_csv, SYNAPSE_COLUMNS)
    if cells is None:
        return probs
    if cells["cell_id"].duplicated().any():
        probs.append("cell table: duplicated cell_id")
    bad_types = set(cells["cell_type"]) - set(CELL_TYPES)
    if bad_types:
        probs.append(f"cell table: unknown cell_type {sorted(bad_types)}")
    n_mito = 0
    mito_per_cell = pd.Series(0, index=pd.Index(cells["cell_id"].to_numpy(np.int64)), dtype=np.int64)
    for cid, ctype in zip(cells["cell_id"], cells["cell_type"]):
        swc_probs, n_nodes = check_swc(paths.swc(cid)) if paths.swc(cid).is_file() else ([f"{paths.swc(cid).name}: missing"], 0)
        probs += swc_probs
        mito = csv(paths.mito_csv(ctype, cid), MITO_COLUMNS)
        if mito is None:
            continue
        n_mito += len(mito)
        mito_per_cell[cid] = len(mito)
        if not (mito["volume_um3"] > 0).all():
            probs.append(
                f"microns/{ctype}_{cid}.csv: {int((~(mito['volume_um3'] > 0)).sum())} mitochondria without a positive volume"
            )
        bad = set(mito["compartment"]) - set(ALL_COMPARTMENT_STRINGS)
        if bad:
            probs.append(f"microns/{ctype}_{cid}.csv: unknown compartments {sorted(bad)}")
        if (mito["cellid"] != cid).any():
            probs.append(f"microns/{ctype}_{cid}.csv: cellid differs from the file's cell")
        jpath = paths.nodes_json(cid)
        if not jpath.is_file():
            probs.append(f"nodes/{jpath.name}: missing")
            continue
        assoc = json.loads(jpath.read_text())
        if set(map(int, assoc)) != set(mito["mito_id"]):
            probs.append(f"nodes/{jpath.name}: mito ids differ from microns/{ctype}_{cid}.csv")
        all_nodes = [n for v in assoc.values() for n in v]
        if all_nodes and n_nodes and (min(all_nodes) < 0 or max(all_nodes) >= n_nodes):
            probs.append(f"nodes/{jpath.name}: node id outside the skeleton's 0..{n_nodes - 1}")
        probs += _check_vertex_counts(paths.vertex_counts_csv(cid), assoc)
    if syn is not None:
        if set(syn["synapse_type"]) - set(SYNAPSE_TYPES):
            probs.append(f"synapse table: unknown synapse_type {sorted(set(syn['synapse_type']) - set(SYNAPSE_TYPES))}")
        if not syn["cell_id"].isin(cells["cell_id"]).all():
            probs.append("synapse table: cell_id not in the cell table")
    for name, cols in _TABLE_COLUMNS.items():
        p = paths.table(name)
        if not p.is_file():
            probs.append(f"tables/{name}.parquet: missing")
            continue
        meta = pq.read_metadata(p)
        missing = set(cols) - set(pq.read_schema(p).names)
        if missing:
            probs.append(f"tables/{name}.parquet: missing columns {sorted(missing)}")
        expected = {"mitochondria": n_mito, "cells": len(cells), "synapses": None if syn is None else len(syn)}.get(name)
        if expected is not None and meta.num_rows != expected:
            probs.append(f"tables/{name}.parquet: {meta.num_rows} rows, the CSV files have {expected}")
    probs += _check_gradients(paths)
    probs += _check_segments(paths)
    for folder in ARCHIVED_DIRS:
        a = paths.archive(folder)
        if not a.is_file():
            probs.append(f"{a.name}: missing")
            continue
        with tarfile.open(a, "r:gz") as tar:
            members = sorted(m.name for m in tar.getmembers() if m.isfile())
        on_disk = sorted(p.relative_to(paths.root).as_posix() for p in (paths.root / folder).glob("*") if p.is_file())
        if members != on_disk:
            probs.append(f"{a.name}: members differ from the {folder}/ folder")
    probs += _check_counts(paths, manifest, len(cells), mito_per_cell, syn)
    return probs


def _check_counts(
    paths: DatasetPaths, manifest: dict, n_cells: int, mito_per_cell: pd.Series, syn: pd.DataFrame | None
) -> list[str]:
    """The dataset holds what the manifest and the build report say it does, and what the raw
    tables (recounted from their text, less the rows the report sets aside) give its cells."""
    try:
        report = json.loads(paths.report.read_text())
    except (OSError, ValueError):
        report = None
    if not isinstance(report, dict):
        return [f"{paths.report.name}: missing, unreadable or not a JSON object; rebuild the dataset"]
    have = {"cells": n_cells, "mitochondria": int(mito_per_cell.sum()), "synapse_rows": None if syn is None else len(syn)}
    probs = []
    for name, counts in (("manifest.json", manifest.get("counts")), (paths.report.name, report.get("counts"))):
        counts = counts if isinstance(counts, dict) else {}
        for key, n in have.items():
            if n is not None and counts.get(key) != n:
                probs.append(f"{name}: {key} {counts.get(key)}, the dataset holds {n}")
    if syn is not None:
        syn_per_cell = syn.groupby("cell_id").size().reindex(mito_per_cell.index, fill_value=0)
        probs += recount_problems(report, mito_per_cell, syn_per_cell)
    return probs


def _check_gradients(paths: DatasetPaths) -> list[str]:
    """Nearest mitochondria name mitochondria of the same cell; the bins hold every um of cable."""
    syn_p, bins_p, mito_p, cells_p = (paths.table(n) for n in ("synapses", "distance_bins", "mitochondria", "cells"))
    if not all(p.is_file() for p in (syn_p, bins_p, mito_p, cells_p)):
        return []
    probs = []
    syn = pd.read_parquet(syn_p, columns=["cell_id", "nearest_mito_id", "nearest_mito_path_um"])
    mito = pd.read_parquet(mito_p, columns=["mito_id", "cellid"])
    has = syn["nearest_mito_id"].notna()
    pairs = pd.MultiIndex.from_arrays([syn.loc[has, "cell_id"], syn.loc[has, "nearest_mito_id"].astype("int64")])
    if not pairs.isin(pd.MultiIndex.from_arrays([mito["cellid"], mito["mito_id"]])).all():
        probs.append("tables/synapses.parquet: nearest_mito_id names a mitochondrion of another cell or none")
    path = syn["nearest_mito_path_um"]
    if (path[has] < 0).any() or path[has].isna().any() or path[~has].notna().any():
        probs.append("tables/synapses.parquet: nearest_mito_path_um negative, or set without a nearest_mito_id")
    bins = pd.read_parquet(bins_p, columns=["cell_id", "path_length_um"])
    cells = pd.read_parquet(cells_p, columns=["cell_id", "cable_length_um"]).set_index("cell_id")
    cable = bins.groupby("cell_id")["path_length_um"].sum().reindex(cells.index, fill_value=0.0)
    off = cells.index[~np.isclose(cable, cells["cable_length_um"], rtol=1e-6, atol=1e-3)]
    if len(off):
        probs.append(
            f"tables/distance_bins.parquet: binned cable differs from cable_length_um for {len(off)} cells (e.g. {off[0]})"
        )
    return probs


def _check_segments(paths: DatasetPaths) -> list[str]:
    """Segments hold every mitochondrion's volume inside the cell and every input synapse; the
    vertex counts name mitochondria and nodes of their own cell."""
    seg_p, mito_p, syn_p, cells_p = (paths.table(n) for n in ("segments", "mitochondria", "synapses", "cells"))
    if not all(p.is_file() for p in (seg_p, mito_p, syn_p, cells_p)):
        return []
    probs = []
    seg = pd.read_parquet(seg_p, columns=["cell_id", "mito_volume_um3", "n_synapses_in", "path_length_um"])
    mito = pd.read_parquet(mito_p, columns=["mito_id", "cellid", "volume_in_cell_um3"])
    syn = pd.read_parquet(syn_p, columns=["cell_id", "synapse_type"])
    cells = pd.read_parquet(cells_p, columns=["cell_id", "cable_length_um"]).set_index("cell_id")
    per = seg.groupby("cell_id").sum().reindex(cells.index, fill_value=0)
    vol = mito.groupby("cellid")["volume_in_cell_um3"].sum().reindex(cells.index, fill_value=0)
    off = cells.index[~np.isclose(per["mito_volume_um3"], vol, rtol=1e-6, atol=1e-9)]
    if len(off):
        probs.append(
            f"tables/segments.parquet: mitochondrial volume differs from the cell's mitochondria for {len(off)} cells (e.g. {off[0]})"
        )
    n_in = syn[syn["synapse_type"].isin(["post", "autapse"])].groupby("cell_id").size().reindex(cells.index, fill_value=0)
    off = cells.index[per["n_synapses_in"].to_numpy() != n_in.to_numpy()]
    if len(off):
        probs.append(f"tables/segments.parquet: input synapses differ from synapses.parquet for {len(off)} cells (e.g. {off[0]})")
    if (per["path_length_um"] > cells["cable_length_um"] + 1e-6).any():
        probs.append("tables/segments.parquet: segments hold more cable than their cell")
    return probs


def _check_vertex_counts(path: Path, assoc: dict) -> list[str]:
    """The vertex counts name exactly the (mitochondrion, node) pairs of the covered-node JSON."""
    rel = f"nodes/{path.name}"
    if not path.is_file():
        return [f"{rel}: missing"]
    df = pd.read_csv(path)
    if list(df.columns) != list(VERTEX_COUNT_COLUMNS):
        return [f"{rel}: columns {list(df.columns)}, expected {list(VERTEX_COUNT_COLUMNS)}"]
    pairs = set(zip(df["mito_id"].tolist(), df["node_id"].tolist()))
    if pairs != {(int(m), int(n)) for m, nodes in assoc.items() for n in nodes}:
        return [
            f"{rel}: (mitochondrion, node) pairs differ from the covered nodes of {rel.replace('_node_vertex_counts.csv', '_associated_nodes.json')}"
        ]
    if (df["n_vertices"] < 0).any():
        return [f"{rel}: negative vertex count"]
    return []
