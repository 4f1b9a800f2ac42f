"""One cell, end to end: load its inputs, compute, write its files. Independent of other cells.

``process_cell`` is what a worker process runs. It raises nothing for bad input: an unusable
cell comes back as a failed :class:`CellOutcome` with the reason; a mitochondrion without a
usable mesh is kept with the measures that need no mesh and listed in the outcome.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from builder.compute.association import nearest_nodes
from builder.compute.axon_split import split_axon_by_synapses
from builder.compute.compartments import (
    LabelError,
    astrocyte_node_labels,
    map_node_labels,
    raw_label_edges,
    synapse_compartments,
)
from builder.compute.counts import cell_counts
from builder.compute.gradients import cell_gradients
from builder.compute.meshes import MeshBatch, far_from_centre, mesh_problems
from builder.compute.mito_table import mito_table
from builder.compute.segments import cell_segments
from builder.compute.skeleton import SkeletonError, Tree, orient_tree, round_tree, swc_frame
from builder.errors import CellInputError, OutputWriteError, SourceUnavailableError
from builder.schema import MITO_COLUMNS
from builder.sources.base import Source
from builder.store import writers
from builder.store.atomic import write_bytes
from builder.store.meshes import decode_meshes, encode_meshes
from builder.store.paths import DatasetPaths
from builder.store.precomputed.meshes import encode_cell_meshes
from builder.store.tables import (
    BINS_SCHEMA,
    MITO_SCHEMA,
    NODE_SCHEMA,
    SEGMENT_SCHEMA,
    SYNAPSE_SCHEMA,
    to_arrow,
    vertex_count_frame,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellTask:
    """Everything one cell needs from the tables (only this cell's rows)."""

    cell_id: int
    cell_type: str
    cell_subtype: str
    soma_nm: tuple[float, float, float]
    mitos: pd.DataFrame  # mito_id, cellid, mito_vx, x, y, z
    synapses: pd.DataFrame  # SYNAPSE_COLUMNS rows of this cell
    fingerprint: str


@dataclass
class CellOutcome:
    """Result of one cell (also stored as its ``done.json``)."""

    cell_id: int
    ok: bool
    reason: str = ""
    file: str = ""
    #: mitochondria kept without mesh measures: mito_id, cell_id, reason
    meshless_mitos: list[dict] = field(default_factory=list)
    #: how the node labels were inferred when the source had none (empty: source labels)
    labels_inferred: dict = field(default_factory=dict)
    #: skeleton edges joining two different raw (source) label codes: {"a-b": count}
    raw_label_edges: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    fingerprint: str = ""
    #: seconds spent per stage: read, mitochondria, synapses, write (not part of the dataset)
    timings: dict = field(default_factory=dict)


def process_cell(source: Source, paths: DatasetPaths, task: CellTask) -> CellOutcome:
    """Build one cell; never raises for bad input (see module docstring)."""
    try:
        return _build_cell(source, paths, task)
    except CellInputError as exc:
        log.warning("skipping %s", exc)
        return CellOutcome(task.cell_id, ok=False, reason=exc.reason, file=exc.path or "")
    except OutputWriteError:
        raise  # disk full / permissions: stop the build, nothing to skip
    except Exception as exc:  # a defect we did not foresee must not sink the other cells
        log.exception("cell %d failed", task.cell_id)
        return CellOutcome(task.cell_id, ok=False, reason=f"unexpected error: {type(exc).__name__}: {exc}")


def _labels(source: Source, task: CellTask, sk, tree: Tree) -> tuple[np.ndarray, dict]:
    """Node labels (dataset codes) and, when they had to be inferred, how."""
    if task.cell_type == "astrocyte":
        return astrocyte_node_labels(tree.vertices, np.asarray(task.soma_nm)), {}
    if sk.labels is None:  # a neuron without label file: split axon / dendrite from synapses
        syn = task.synapses
        node, _ = nearest_nodes(tree.vertices, syn[["x", "y", "z"]].to_numpy(np.float64))
        kind = syn["synapse_type"].to_numpy()
        split = split_axon_by_synapses(tree, node[np.isin(kind, ("pre", "autapse"))], node[np.isin(kind, ("post", "autapse"))])
        log.info("cell %d: no label file; labels inferred from synapses (quality %.2f)", task.cell_id, split.quality)
        return split.labels, split.record()
    try:
        return map_node_labels(sk.labels, source.label_names), {}
    except LabelError as exc:
        raise CellInputError(task.cell_id, f"bad compartment labels: {exc}", sk.path) from exc


def _build_cell(source: Source, paths: DatasetPaths, task: CellTask) -> CellOutcome:
    cid = task.cell_id
    clock = [time.perf_counter()]
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock[0]
        clock[0] = now

    sk = source.skeleton(cid)
    try:
        tree = round_tree(orient_tree(sk.vertices, sk.edges, sk.root, sk.radius))
    except SkeletonError as exc:
        raise CellInputError(cid, f"bad skeleton: {exc}", sk.path) from exc
    labels, inferred = _labels(source, task, sk, tree)
    dist_soma = tree.distance_to_soma_um(labels)  # to the soma surface, as the published analysis

    # meshes: the unusable ones are set aside with reasons; their mitochondria stay
    mitos = task.mitos
    try:
        batch, missing = source.meshes(cid, np.sort(mitos["mito_id"].to_numpy(np.int64)))
    except SourceUnavailableError:
        raise  # the cell is reported and built in full by a later run
    except CellInputError as exc:  # e.g. an unreadable mesh file: no mesh for any of them
        log.warning("cell %d: %s; its mitochondria are kept without mesh measures", cid, exc)
        batch, missing = MeshBatch.from_meshes([], []), {int(m): exc.reason for m in mitos["mito_id"]}
    lap("read")
    problems = mesh_problems(batch)
    centres = mitos.set_index("mito_id").reindex(batch.ids)[["x", "y", "z"]].to_numpy(np.float64)
    problems = np.where(problems == "", far_from_centre(batch, centres), problems)
    missing = {**missing, **{int(m): str(r) for m, r in zip(batch.ids, problems) if r}}
    good = batch.subset(problems == "")
    soma = np.asarray(task.soma_nm, float)
    table = mito_table(mitos, good, missing, tree, labels, soma, astrocyte=task.cell_type == "astrocyte", dist_soma_um=dist_soma)
    mito_df = table.frame
    meshless = [
        {"mito_id": int(m), "cell_id": cid, "reason": r} for m, r in zip(mito_df["mito_id"], mito_df["mesh_missing"]) if r
    ]
    lap("mitochondria")

    # synapses: nearest node and its compartment
    syn = task.synapses.sort_values(["synapse_id", "synapse_type"], ignore_index=True)
    snode, scomp = synapse_compartments(task.cell_type, syn[["x", "y", "z"]].to_numpy(np.float64), tree.vertices, labels, soma)
    syn = syn.assign(node_id=snode, compartment=scomp)
    vol_in_cell = dict(zip(mito_df["mito_id"].tolist(), mito_df["volume_in_cell_um3"].tolist()))
    kind = syn["synapse_type"].to_numpy()
    near_ids, near_um, bins = cell_gradients(
        cid, tree.parent, tree.edge_lengths_um(), dist_soma, tree.radius, labels, table.pairs, vol_in_cell, snode, kind,
    )  # fmt: skip
    segments = cell_segments(cid, tree, labels, dist_soma, table.pairs, vol_in_cell, snode[np.isin(kind, ("post", "autapse"))])
    syn = syn.assign(nearest_mito_id=near_ids.to_numpy(), nearest_mito_path_um=near_um, path_dist_to_soma_um=dist_soma[snode])
    lap("synapses")
    swc = swc_frame(tree, labels)
    nodes_df = swc.rename(columns={"node": "node_id"}).assign(cell_id=cid, path_dist_to_soma_um=dist_soma)

    # the neuroglancer fragments, from the quantised meshes the dataset stores (as
    # `python -m builder neuroglancer` encodes them), so the end of the build only shards them
    mesh_table = encode_meshes(good, cid)
    ng_meshes = encode_cell_meshes(decode_meshes(mesh_table))
    lap("neuroglancer")

    # write this cell's files, then its parts, then the marker (last: it means "done")
    writers.write_csv(paths.mito_csv(task.cell_type, cid), mito_df[list(MITO_COLUMNS)])
    writers.write_swc(paths.swc(cid), swc)
    writers.write_nodes_json(paths.nodes_json(cid), table.nodes)
    writers.write_int_csv(paths.vertex_counts_csv(cid), vertex_count_frame(table.pairs))
    writers.write_parquet(paths.cell_part(cid, "mitochondria"), to_arrow(mito_df, MITO_SCHEMA))
    writers.write_parquet(paths.cell_part(cid, "synapses"), to_arrow(syn, SYNAPSE_SCHEMA))
    writers.write_parquet(paths.cell_part(cid, "skeleton_nodes"), to_arrow(nodes_df, NODE_SCHEMA))
    writers.write_parquet(paths.cell_part(cid, "mito_meshes"), mesh_table)
    writers.write_parquet(paths.cell_part(cid, "ng_meshes"), ng_meshes)
    writers.write_parquet(paths.cell_part(cid, "distance_bins"), to_arrow(bins, BINS_SCHEMA))
    writers.write_parquet(paths.cell_part(cid, "segments"), to_arrow(segments, SEGMENT_SCHEMA))
    lap("write")
    outcome = CellOutcome(
        cid,
        ok=True,
        timings={k: round(v, 6) for k, v in timings.items()},
        meshless_mitos=meshless,
        labels_inferred=inferred,
        raw_label_edges=raw_label_edges(sk.labels, sk.edges) if sk.labels is not None else {},
        counts=cell_counts(mito_df["compartment"], syn["synapse_type"], tree.n, tree.cable_length_um()),
        fingerprint=task.fingerprint,
    )
    write_bytes(paths.cell_done(cid), json.dumps(asdict(outcome), sort_keys=True).encode())
    return outcome


def load_outcome(paths: DatasetPaths, cell_id: int) -> CellOutcome | None:
    """The stored outcome of a finished cell, or None."""
    p = paths.cell_done(cell_id)
    if not p.is_file():
        return None
    try:
        return CellOutcome(**json.loads(p.read_text()))
    except (json.JSONDecodeError, TypeError):
        return None
