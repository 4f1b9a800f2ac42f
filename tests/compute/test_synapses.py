"""Synapse roles seen from each dataset cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from builder.compute.synapses import cell_synapses


def test_pre_post_autapse_and_outside():
    syn = pd.DataFrame(
        {
            "synapse_id": [1, 2, 3, 4],
            "pre_root_id": [10, 10, 99, 98],
            "post_root_id": [20, 10, 20, 97],  # 10->20 both in; autapse on 10; fragment->20; outside
            "x": [1.0, 2, 3, 4],
            "y": [0.0, 0, 0, 0],
            "z": [0.0, 0, 0, 0],
            "size": [5, 6, 7, 8],
        }
    )
    out = cell_synapses(syn, np.array([10, 20]))
    got = list(zip(out.synapse_id, out.cell_id, out.synapse_type))
    assert got == [(1, 10, "pre"), (2, 10, "autapse"), (1, 20, "post"), (3, 20, "post")]
    assert list(out.columns) == ["synapse_id", "cell_id", "synapse_type", "x", "y", "z", "pre_root_id", "post_root_id", "size"]
