"""Arrow schemas of the Parquet tables and their assembly from per-cell parts.

Per-cell parts are cast to the table's schema (so an empty cell and a full one agree) and
streamed into the final file one cell per row group: memory stays at one cell's worth.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from builder.compute.gradients import BIN_COLUMNS, TOTAL_COLUMNS
from builder.compute.mito_nodes import MitoNodes
from builder.compute.segments import SEGMENT_COLUMNS
from builder.schema import (
    ALL_COMPARTMENT_STRINGS,
    MITO_COLUMNS,
    NODE_COLUMNS,
    SYNAPSE_COLUMNS,
    SYNAPSE_EXTRA_COLUMNS,
    mito_count_column,
)
from builder.store.atomic import write_with

_I, _F, _S, _B = pa.int64(), pa.float64(), pa.string(), pa.bool_()

_MITO_TYPES = {"mito_id": _I, "cellid": _I, "compartment": _S, "mito_vx": _I, "n_vertices": _I, "n_nodes": _I, "far": _B,
               "mesh_missing": _S, "compartment_method": _S}  # fmt: skip
MITO_SCHEMA = pa.schema([(c, _MITO_TYPES.get(c, _F)) for c in MITO_COLUMNS])
SYNAPSE_SCHEMA = pa.schema(
    [(c, {"synapse_type": _S, "x": _F, "y": _F, "z": _F}.get(c, _I)) for c in SYNAPSE_COLUMNS]
    + [(c, {"node_id": _I, "compartment": _S, "nearest_mito_id": _I}.get(c, _F)) for c in SYNAPSE_EXTRA_COLUMNS]
)
BINS_SCHEMA = pa.schema(
    [(c, {"cell_id": _I, "compartment": _S, "n_synapses_in": _I, "n_synapses_out": _I}.get(c, _F)) for c in BIN_COLUMNS]
)
SEGMENT_SCHEMA = pa.schema(
    [(c, _S if c == "compartment" else _I if c in ("cell_id", "segment_id", "n_nodes", "n_mito", "n_synapses_in") else _F)
     for c in SEGMENT_COLUMNS]
)  # fmt: skip
#: ``nodes/{cell_id}_node_vertex_counts.csv``: every (mitochondrion, node) pair of a cell with
#: the mesh vertices of the mitochondrion nearest that node (MicronsBinder's ``mitotoskel``
#: ``count``).
VERTEX_COUNT_COLUMNS: tuple[str, ...] = ("mito_id", "node_id", "n_vertices")


def vertex_count_frame(pairs: MitoNodes) -> pd.DataFrame:
    """The pairs as ``mito_id, node_id, n_vertices``."""
    return pd.DataFrame({"mito_id": pairs.mito_id, "node_id": pairs.node, "n_vertices": pairs.n_vertices})


NODE_SCHEMA = pa.schema(
    [(c, {"x": _F, "y": _F, "z": _F, "radius": _F, "path_dist_to_soma_um": _F}.get(c, _I)) for c in NODE_COLUMNS]
)
COUNT_COLUMNS: tuple[str, ...] = (
    ("n_mito",)
    + tuple(mito_count_column(name) for name in ALL_COMPARTMENT_STRINGS)
    + ("n_syn_in", "n_syn_out", "n_autapse", "n_nodes", "cable_length_um")
)
CELL_SCHEMA = pa.schema(
    [("cell_id", _I), ("x", _F), ("y", _F), ("z", _F), ("cell_type", _S), ("cell_subtype", _S)]
    + [(c, _F if c == "cable_length_um" else _I) for c in COUNT_COLUMNS]
    + [(c, _I if c.startswith("n_") else _F) for c in TOTAL_COLUMNS]
)
MESH_SCHEMA_U16 = pa.schema(
    [
        ("mito_id", _I), ("cell_id", _I), ("ox", _F), ("oy", _F), ("oz", _F), ("quantum_nm", pa.float32()),
        ("vertices", pa.list_(pa.int16())), ("faces", pa.list_(pa.uint16())),
    ]
)  # fmt: skip
MESH_SCHEMA_U32 = MESH_SCHEMA_U16.set(7, pa.field("faces", pa.list_(pa.uint32())))


def to_arrow(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A frame as an Arrow table of exactly ``schema`` (column order and types)."""
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False).replace_schema_metadata(None)


def concat_parts(out: Path, parts: Iterable[Path], schema: pa.Schema) -> int:
    """Stream Parquet parts (in the given order) into one Parquet file; returns the row count."""
    rows = 0

    def writer(tmp: Path) -> None:
        nonlocal rows
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for p in parts:
                t = pq.read_table(p).cast(schema).replace_schema_metadata(None)
                if t.num_rows:
                    w.write_table(t)
                    rows += t.num_rows

    write_with(out, writer)
    return rows


def mesh_schema_for(parts: list[Path]) -> pa.Schema:
    """uint32 faces if any part needs them, else uint16."""
    for p in parts:
        if pq.read_schema(p).field("faces").type == pa.list_(pa.uint32()):
            return MESH_SCHEMA_U32
    return MESH_SCHEMA_U16
