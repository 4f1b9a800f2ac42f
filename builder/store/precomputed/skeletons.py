"""Cells as a ``neuroglancer_skeletons`` layer with ``radius`` and ``compartment`` vertex
attributes, and segment properties per cell.

Every node of a cell's skeleton is a vertex (positions in the dataset's nm; the info transform
takes them to the layers' nominal nm, :mod:`builder.store.precomputed.common`), every
(child, parent) pair an edge. Encoded by cloud-volume's ``Skeleton.to_precomputed`` with the
two attributes as float32: this neuroglancer client reads other attribute types wrongly
(neuroglancer issue 572), and a float32 compartment code is exact for 0-5. A shader colours the
skeleton by compartment (:func:`compartment_shader`), which no published MICrONS skeleton
allows: they carry no per-vertex label (neuroglancer issue 661).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder.schema import COMPARTMENT_NAMES
from builder.store.precomputed.common import (
    TO_NOMINAL_NM,
    segment_properties,
    sharding_spec,
    spec_json,
    write_json,
    write_objects,
)

ATTRIBUTES = [
    {"id": "radius", "data_type": "float32", "num_components": 1},
    {"id": "compartment", "data_type": "float32", "num_components": 1},
]


def encode_skeleton(nodes: pd.DataFrame) -> bytes:
    """One cell's skeleton in the precomputed encoding.

    Parameters
    ----------
    nodes : DataFrame
        ``node_id, label, x, y, z, radius, parent`` of one cell (nm; node ids 0..N-1).
    """
    from cloudvolume import Skeleton

    nodes = nodes.sort_values("node_id")
    parent = nodes["parent"].to_numpy(np.int64)
    child = np.flatnonzero(parent >= 0)
    sk = Skeleton(
        vertices=nodes[["x", "y", "z"]].to_numpy(np.float32), edges=np.stack([child, parent[child]], axis=1).astype(np.uint32),
        radii=nodes["radius"].to_numpy(np.float32), space="physical", extra_attributes=ATTRIBUTES,
    )  # fmt: skip
    sk.compartment = nodes["label"].to_numpy(np.float32)
    return sk.to_precomputed()


def compartment_shader(colors: dict[str, str]) -> str:
    """A skeleton shader colouring each vertex by its ``compartment`` attribute, one colour
    control per compartment (defaults: ``colors``, the explorer's palette)."""
    lines = []
    for code, name in COMPARTMENT_NAMES.items():
        lines.append(f'#uicontrol vec3 c{code} color(default="{colors.get(name, "#999999")}")')
    body = ["void main() {", "  float c = compartment;", "  vec3 rgb = c0;"]
    for code in range(1, 6):
        body.append(f"  if (c > {code - 0.5:.1f}) rgb = c{code};")
    body += ["  emitRGB(rgb);", "}"]
    return "\n".join(lines + body) + "\n"


def write_skeletons(folder: Path, cells: pd.DataFrame, nodes_of: Callable[[int], pd.DataFrame]) -> dict:
    """Write the skeleton layer of ``cells`` into ``folder``.

    Parameters
    ----------
    cells : DataFrame
        The dataset's cell table (``cell_id, cell_type, cell_subtype, n_mito, n_syn_in,
        n_syn_out, cable_length_um``).
    nodes_of : callable
        ``cell_id -> skeleton nodes`` (the reader's ``skeleton_nodes``).

    Returns
    -------
    dict
        ``files`` (paths written) and ``cells``.
    """
    ids = cells["cell_id"].to_numpy(np.int64)
    data = {int(c): encode_skeleton(nodes_of(int(c))) for c in ids}
    spec = sharding_spec(len(data))
    info: dict[str, Any] = {"@type": "neuroglancer_skeletons", "transform": TO_NOMINAL_NM, "vertex_attributes": ATTRIBUTES,
            "segment_properties": "segment_properties"}  # fmt: skip
    if spec is not None:
        info["sharding"] = spec_json(spec)
    files = write_objects(folder, data, spec)
    kinds = sorted(set(cells["cell_type"]) | set(cells["cell_subtype"]))
    tag_names = [k.replace(" ", "_") for k in kinds]
    tags = [sorted({kinds.index(t), kinds.index(s)}) for t, s in zip(cells["cell_type"], cells["cell_subtype"])]
    labels = [f"{t} ({s}) {c}" for c, t, s in zip(ids, cells["cell_type"], cells["cell_subtype"])]
    numbers = {k: cells[k].to_numpy(np.float64) for k in ("n_mito", "n_syn_in", "n_syn_out", "cable_length_um")}
    write_json(folder / "segment_properties" / "info", segment_properties(ids, labels, tag_names, tags, numbers))
    write_json(folder / "info", info)
    return {"files": [*files, folder / "segment_properties" / "info", folder / "info"], "cells": len(ids)}
