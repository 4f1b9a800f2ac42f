"""The build: source tables -> per-cell tasks -> assembled dataset, resumable and atomic.

Order of writes, so that an interrupted build never leaves a wrong dataset behind:

1. each cell writes its files and per-cell parts, then its ``done.json`` marker;
2. the tables, CSVs and archives are assembled from the parts of finished cells;
3. ``build_report.json``, then ``manifest.json`` last.

A rerun with the same parameters skips cells whose marker matches the build fingerprint, and
does nothing at all when the manifest matches and every checksum verifies.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from builder.cell import CellOutcome, CellTask, load_outcome, process_cell
from builder.compute.gradients import cell_totals
from builder.compute.synapses import cell_synapses
from builder.config import BuildConfig
from builder.parallel import run_tasks
from builder.schema import CELL_COLUMNS, SYNAPSE_COLUMNS
from builder.sources.base import Source, SourceTables
from builder.sources.recount import RawInputs
from builder.store import writers
from builder.store.atomic import remove_stale_temporaries, write_bytes
from builder.store.lock import folder_lock
from builder.store.manifest import read_manifest, verify_checksums, write_manifest
from builder.store.paths import ARCHIVED_DIRS, DatasetPaths
from builder.store.precomputed import write_layers
from builder.store.tables import (
    BINS_SCHEMA,
    CELL_SCHEMA,
    COUNT_COLUMNS,
    MITO_SCHEMA,
    NODE_SCHEMA,
    SEGMENT_SCHEMA,
    SYNAPSE_SCHEMA,
    concat_parts,
    mesh_schema_for,
    to_arrow,
)

log = logging.getLogger(__name__)
#: The Parquet parts every finished cell leaves in the work area (one per dataset table).
CELL_PARTS = ("mitochondria", "synapses", "skeleton_nodes", "mito_meshes", "distance_bins", "segments")
#: ... and the parts of the neuroglancer layers (builder/store/precomputed).
LAYER_PARTS = ("ng_meshes",)
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "demonstration.ipynb"


@dataclass
class BuildResult:
    """What a build did."""

    out_dir: Path
    complete: bool
    up_to_date: bool = False
    cells_built: int = 0
    cells_computed: int = 0
    skipped_cells: list[dict] = field(default_factory=list)
    #: mitochondria kept without mesh measures (mito_id, cell_id, reason)
    mitochondria_without_mesh: list[dict] = field(default_factory=list)
    #: {cell_id: how its labels were inferred} for neurons without source labels
    inferred_labels: dict = field(default_factory=dict)
    input_issues: list[dict] = field(default_factory=list)
    #: consistency checks of the inputs (what was done, or why it was skipped)
    input_checks: dict = field(default_factory=dict)
    #: skeleton edges joining two raw label codes, summed over all cells ({"a-b": count})
    raw_label_edges: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    #: per neuroglancer layer: files, bytes, seconds (builder/store/precomputed)
    neuroglancer: dict = field(default_factory=dict)


def make_tasks(tables: SourceTables, fingerprint: str) -> list[CellTask]:
    """One task per cell with only that cell's mitochondria and synapse rows."""
    cells = tables.cells
    syn = cell_synapses(tables.synapses, cells["cell_id"].to_numpy(np.int64))
    mito_groups = dict(tuple(tables.mitochondria.groupby("cellid", sort=False)))
    syn_groups = dict(tuple(syn.groupby("cell_id", sort=False)))
    empty_m = tables.mitochondria.iloc[:0]
    empty_s = syn.iloc[:0]
    return [
        CellTask(
            cell_id=int(r.cell_id),
            cell_type=str(r.cell_type),
            cell_subtype=str(r.cell_subtype),
            soma_nm=(float(r.x), float(r.y), float(r.z)),
            mitos=mito_groups.get(r.cell_id, empty_m).reset_index(drop=True),
            synapses=syn_groups.get(r.cell_id, empty_s).reset_index(drop=True),
            fingerprint=fingerprint,
        )
        for r in cells.itertuples(index=False)
    ]


def _is_finished(paths: DatasetPaths, task: CellTask) -> CellOutcome | None:
    prev = load_outcome(paths, task.cell_id)
    if prev is None or not prev.ok or prev.fingerprint != task.fingerprint:
        return None
    needed = [paths.mito_csv(task.cell_type, task.cell_id), paths.swc(task.cell_id), paths.nodes_json(task.cell_id),
              paths.vertex_counts_csv(task.cell_id)]  # fmt: skip
    needed += [paths.cell_part(task.cell_id, n) for n in CELL_PARTS + LAYER_PARTS]
    return prev if all(p.is_file() for p in needed) else None


def run_cells(
    source: Source, paths: DatasetPaths, tasks: list[CellTask], workers: int, scheduler: str | None = None
) -> list[CellOutcome]:
    """Run cell tasks here, on local processes, or on Dask; with a progress bar."""
    out: list[CellOutcome] = []
    with tqdm(total=len(tasks), desc="cells", unit="cell", disable=None) as bar:
        for outcome in run_tasks(partial(process_cell, source, paths), tasks, workers, scheduler):
            out.append(outcome)
            bar.update()
    return out


def build_dataset(config: BuildConfig, source: Source) -> BuildResult:
    """Build (or resume, or confirm up to date) the dataset described by ``config``.

    Holds the output folder's lock throughout (:mod:`builder.store.lock`): a second build, or
    another command writing the same folder, is refused with a message naming this one.
    """
    paths = DatasetPaths(Path(config.out_dir))
    with folder_lock(paths.root, f"python -m builder build --out {paths.root}"):
        return _build_locked(config, source, paths)


def _build_locked(config: BuildConfig, source: Source, paths: DatasetPaths) -> BuildResult:
    n_tmp = remove_stale_temporaries(paths.root)  # only under the lock: no other writer's are live
    if n_tmp:
        log.info("removed %d temporary file(s) of an interrupted build", n_tmp)
    fingerprint = config.fingerprint(source.fingerprint())
    manifest = read_manifest(paths)
    if manifest and manifest.get("fingerprint") == fingerprint and manifest.get("complete"):
        problems = verify_checksums(paths.root, manifest)
        if not problems:
            log.info("dataset in %s is complete and up to date", paths.root)
            return BuildResult(paths.root, complete=True, up_to_date=True, counts=manifest.get("counts", {}))
        log.info("dataset in %s changed on disk (%s ...); rebuilding", paths.root, problems[0])
    t0 = time.perf_counter()
    raw_dir = getattr(source, "raw_dir", None)
    inputs = RawInputs.of(Path(raw_dir)) if raw_dir is not None else None  # the raw files as they are read
    tables = source.tables()  # inputs checked before anything of the dataset is replaced
    tasks = make_tasks(tables, fingerprint)
    log.info("tables read and split per cell in %.1f s", time.perf_counter() - t0)
    # from here on the dataset is being rewritten: it must not claim to be complete until done
    paths.manifest.unlink(missing_ok=True)
    done = {t.cell_id: o for t in tasks if (o := _is_finished(paths, t)) is not None}
    todo = [t for t in tasks if t.cell_id not in done]
    log.info("%d cells: %d already built, %d to build", len(tasks), len(done), len(todo))
    t0 = time.perf_counter()
    for o in run_cells(source, paths, todo, config.workers, config.scheduler):
        done[o.cell_id] = o
    log.info("cells built in %.1f s", time.perf_counter() - t0)
    t0 = time.perf_counter()
    result = assemble(paths, tables, tasks, done, threads=config.workers)
    log.info("tables, CSVs and archives assembled in %.1f s", time.perf_counter() - t0)
    t0 = time.perf_counter()
    ok = sorted(c for c, o in done.items() if o.ok)
    result.neuroglancer = write_layers(paths, mesh_parts=[paths.cell_part(c, "ng_meshes") for c in ok])
    log.info("neuroglancer layers written in %.1f s", time.perf_counter() - t0)
    result.cells_computed = len(todo)
    result.timings = stage_timings([done[t.cell_id] for t in todo if done[t.cell_id].ok])
    report = _report(result, fingerprint, source.label_names)
    if inputs is not None:
        report["inputs"] = inputs.as_dict()
    write_bytes(paths.report, (json.dumps(report, indent=2) + "\n").encode())
    t0 = time.perf_counter()
    write_manifest(
        paths,
        source_name=source.name,
        synthetic=source.synthetic,
        source_labels=dict(source.label_names),
        parameters=config.output_parameters(),
        fingerprint=fingerprint,
        counts=result.counts,
        complete=result.complete,
        inferred_labels=result.inferred_labels,
        title=getattr(source, "dataset_title", None),
        space=getattr(source, "manifest_space", None),
    )
    log.info("manifest (checksums of every file) written in %.1f s", time.perf_counter() - t0)
    if result.complete:
        shutil.rmtree(paths.work, ignore_errors=True)
    return result


def assemble(
    paths: DatasetPaths, tables: SourceTables, tasks: list[CellTask], outcomes: dict[int, CellOutcome], threads: int = 1
) -> BuildResult:
    """Write the dataset-wide tables, CSVs and archives from the finished cells' parts."""
    ok = sorted(cid for cid, o in outcomes.items() if o.ok)
    cells = tables.cells.set_index("cell_id").loc[ok].reset_index()
    counts = pd.DataFrame([outcomes[c].counts for c in ok], columns=list(COUNT_COLUMNS))
    cells = pd.concat([cells, counts], axis=1)

    def parts(name: str) -> list[Path]:
        return [paths.cell_part(c, name) for c in ok]

    concat_parts(paths.table("distance_bins"), parts("distance_bins"), BINS_SCHEMA)
    totals = cell_totals(pq.read_table(paths.table("distance_bins")).to_pandas())
    cells = cells.join(totals.reindex(cells["cell_id"]).reset_index(drop=True))
    writers.write_csv(paths.cells_csv, cells[list(CELL_COLUMNS)])
    writers.write_parquet(paths.table("cells"), to_arrow(cells, CELL_SCHEMA))

    by_id = {t.cell_id: t for t in tasks}
    expected = {paths.mito_csv(by_id[c].cell_type, c) for c in ok} | {paths.swc(c) for c in ok}
    expected |= {paths.nodes_json(c) for c in ok} | {paths.vertex_counts_csv(c) for c in ok}
    for folder in ARCHIVED_DIRS:
        (paths.root / folder).mkdir(exist_ok=True)
        for f in (paths.root / folder).iterdir():
            if f.is_file() and f not in expected:  # left by an earlier build with other inputs
                f.unlink()

    def synapses() -> pd.DataFrame:
        concat_parts(paths.table("synapses"), parts("synapses"), SYNAPSE_SCHEMA)
        syn = pq.read_table(paths.table("synapses"), columns=list(SYNAPSE_COLUMNS)).to_pandas()
        writers.write_csv(paths.synapses_csv, syn)
        return syn

    # independent jobs; pyarrow and zlib release the GIL, so threads overlap them
    jobs = {
        "synapses": synapses,
        "mitochondria": lambda: concat_parts(paths.table("mitochondria"), parts("mitochondria"), MITO_SCHEMA),
        "nodes": lambda: concat_parts(paths.table("skeleton_nodes"), parts("skeleton_nodes"), NODE_SCHEMA),
        "segments": lambda: concat_parts(paths.table("segments"), parts("segments"), SEGMENT_SCHEMA),
        "meshes": lambda: concat_parts(paths.table("mito_meshes"), parts("mito_meshes"), mesh_schema_for(parts("mito_meshes"))),
        **{f"archive-{f}": partial(writers.write_tar_gz, paths.archive(f), paths.root, f) for f in ARCHIVED_DIRS},
    }
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        results = {name: f.result() for name, f in futures.items()}
    syn = results["synapses"]
    if NOTEBOOK.is_file():  # the dataset description promises the demonstration notebook
        write_bytes(paths.notebook, NOTEBOOK.read_bytes())
    else:
        log.warning("%s not found; the dataset is built without the demonstration notebook", NOTEBOOK)

    failed = [{"cell_id": cid, "reason": o.reason, "file": o.file} for cid, o in sorted(outcomes.items()) if not o.ok]
    meshless = [m for c in ok for m in outcomes[c].meshless_mitos]
    edges: dict[str, int] = {}
    for c in ok:
        for pair, n in outcomes[c].raw_label_edges.items():
            edges[pair] = edges.get(pair, 0) + n
    issues = [asdict(i) for i in tables.issues]
    complete = not failed and not any(i["dropped"] for i in issues)
    mito_counts = cells[[c for c in COUNT_COLUMNS if c.startswith("n_mito_")]].sum().astype(int).to_dict()
    summary = {
        "cells": int(len(cells)),
        "cells_by_type": {k: int(v) for k, v in cells["cell_type"].value_counts().sort_index().items()},
        "mitochondria": int(cells["n_mito"].sum()),
        "mitochondria_by_compartment": mito_counts,
        "synapse_rows": int(len(syn)),
        "synapse_rows_by_type": {k: int(v) for k, v in syn["synapse_type"].value_counts().sort_index().items()},
        "skeleton_nodes": int(cells["n_nodes"].sum()),
        "skipped_cells": len(failed),
        "mitochondria_without_mesh": len(meshless),
        "dropped_input_rows": sum(1 for i in issues if i["dropped"]),
    }
    return BuildResult(
        out_dir=paths.root,
        complete=complete,
        cells_built=len(ok),
        skipped_cells=failed,
        mitochondria_without_mesh=meshless,
        inferred_labels={str(c): outcomes[c].labels_inferred for c in ok if outcomes[c].labels_inferred},
        input_issues=issues,
        input_checks=dict(tables.checks),
        raw_label_edges=dict(sorted(edges.items(), key=lambda kv: tuple(int(x) for x in kv[0].split("-")))),
        counts=summary,
    )


def stage_timings(outcomes: list[CellOutcome]) -> dict:
    """Seconds per stage summed over the cells computed in this run, and per mitochondrion."""
    n_mito = sum(o.counts.get("n_mito", 0) for o in outcomes)
    total = {s: sum(o.timings.get(s, 0.0) for o in outcomes) for s in ("read", "mitochondria", "synapses", "write")}
    return {
        "cells": len(outcomes),
        "mitochondria": n_mito,
        "seconds": {k: round(v, 3) for k, v in total.items()},
        "us_per_mito": {k: round(v / max(n_mito, 1) * 1e6, 1) for k, v in total.items()},
    }


def _report(result: BuildResult, fingerprint: str, label_names) -> dict:
    return {
        "complete": result.complete,
        "fingerprint": fingerprint,
        "cells_built": result.cells_built,
        "cells_computed_this_run": result.cells_computed,
        "skipped_cells": result.skipped_cells,
        "mitochondria_without_mesh": result.mitochondria_without_mesh,
        "inferred_labels": result.inferred_labels,
        "input_issues": result.input_issues,
        "input_checks": result.input_checks,
        "raw_label_edges": {
            "about": "skeleton edges joining two different raw label codes of the source files, over all cells "
            "(codes as in the files; e.g. how often code 4 borders 2 or 3 (dendrites) or 1 (axon))",
            "source_codes": {str(k): v for k, v in dict(label_names).items()},
            "edges": result.raw_label_edges,
        },
        "counts": result.counts,
        "timings_this_run": result.timings,
        "neuroglancer_layers": result.neuroglancer,
    }
