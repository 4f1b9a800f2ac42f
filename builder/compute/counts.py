"""Per-cell summary counts (the cell table's count columns), from a cell's own rows."""

from __future__ import annotations

import pandas as pd

from builder.schema import ALL_COMPARTMENT_STRINGS, mito_count_column


def cell_counts(compartments: pd.Series, synapse_types: pd.Series, n_nodes: int, cable_um: float) -> dict:
    """Mitochondria per compartment, synapses in/out/autapses, nodes and cable of one cell.

    Parameters
    ----------
    compartments : Series of str, one per mitochondrion
    synapse_types : Series of str (``pre``, ``post``, ``autapse``), one per synapse row
    n_nodes : int
    cable_um : float, cable length in um

    Returns
    -------
    dict with the keys of :data:`builder.store.tables.COUNT_COLUMNS`
    """
    comp = compartments.value_counts()
    out: dict[str, int | float] = {"n_mito": int(len(compartments))}
    for name in ALL_COMPARTMENT_STRINGS:
        out[mito_count_column(name)] = int(comp.get(name, 0))
    st = synapse_types.value_counts()
    out.update(
        n_syn_in=int(st.get("post", 0)),
        n_syn_out=int(st.get("pre", 0)),
        n_autapse=int(st.get("autapse", 0)),
        n_nodes=int(n_nodes),
        cable_length_um=float(round(cable_um, 6)),
    )
    return out
