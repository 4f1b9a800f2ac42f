"""Synapses of the dataset's cells: one row per (synapse, cell) with its role."""

from __future__ import annotations

import numpy as np
import pandas as pd

from builder.schema import SYNAPSE_COLUMNS


def cell_synapses(synapses: pd.DataFrame, cell_ids: np.ndarray) -> pd.DataFrame:
    """Rows of the synapse table seen from each dataset cell.

    A synapse between two dataset cells appears twice (``pre`` for the presynaptic cell,
    ``post`` for the postsynaptic one); a synapse whose pre and post are the same dataset cell
    appears once as ``autapse``; synapses touching no dataset cell are dropped.

    Parameters
    ----------
    synapses : DataFrame
        Columns ``synapse_id, pre_root_id, post_root_id, x, y, z`` (nm) and ``size``.
    cell_ids : ndarray, shape (c,), int64
        Root ids of the dataset's cells.

    Returns
    -------
    DataFrame
        Columns :data:`builder.schema.SYNAPSE_COLUMNS`, sorted by ``cell_id, synapse_id,
        synapse_type``.
    """
    cells = np.asarray(cell_ids, dtype=np.int64)
    pre_in = np.isin(synapses["pre_root_id"].to_numpy(np.int64), cells)
    post_in = np.isin(synapses["post_root_id"].to_numpy(np.int64), cells)
    auto = (synapses["pre_root_id"] == synapses["post_root_id"]).to_numpy()
    parts = []
    for mask, role, col in (
        (pre_in & ~auto, "pre", "pre_root_id"),
        (post_in & ~auto, "post", "post_root_id"),
        (pre_in & auto, "autapse", "pre_root_id"),
    ):
        sub = synapses.loc[mask]
        parts.append(sub.assign(cell_id=sub[col].to_numpy(np.int64), synapse_type=role))
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["cell_id", "synapse_id", "synapse_type"], kind="stable", ignore_index=True)
    return out[list(SYNAPSE_COLUMNS)]
