"""A neuron without a label file is built with axon / dendrite labels split from its synapses."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from builder.schema import PUBLISHED_LABEL_NAMES, Compartment, label_mapping
from builder.sources.published import SKELETON_DIR
from tests.test_bad_input import demo_cells, run


def test_unlabelled_pyramidal_cell_gets_a_synapse_based_split(raw_copy, tmp_path):
    cells = demo_cells(raw_copy)
    cid = int(cells[cells.cell_type == "pyramidal"].cell_segid.iloc[0])
    npy = raw_copy / SKELETON_DIR / f"{cid}_skeleton_label.npy"
    to_ours = label_mapping(PUBLISHED_LABEL_NAMES)
    truth = np.vectorize(to_ours.get)(np.load(npy))
    npy.unlink()

    code, report = run(raw_copy, tmp_path / "ds")
    assert code == 0 and not report["skipped_cells"]
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    rec = manifest["label_mapping"]["inferred"][str(cid)]
    assert rec == report["inferred_labels"][str(cid)]
    assert rec["method"].startswith("meshparty") and rec["n_pre"] > 0 and rec["n_post"] > 0
    assert list(manifest["label_mapping"]["inferred"]) == [str(cid)]  # the labelled cells are not inferred

    nodes = pd.read_parquet(tmp_path / "ds" / "tables" / "skeleton_nodes.parquet")
    got = nodes[nodes.cell_id == cid].sort_values("node_id").label.to_numpy()
    axon_true, axon_got = truth == Compartment.AXONAL, got == Compartment.AXONAL
    recall = (axon_true & axon_got).sum() / axon_true.sum()
    precision = (axon_true & axon_got).sum() / axon_got.sum()
    assert recall > 0.8 and precision > 0.8, (recall, precision, rec)
    dend_true = np.isin(truth, [Compartment.BASAL, Compartment.APICAL])
    assert (got[dend_true] != Compartment.AXONAL).mean() > 0.9
    assert rec["quality"] > 0.5
    mito = pd.read_parquet(tmp_path / "ds" / "tables" / "mitochondria.parquet")
    assert set(mito[mito.cellid == cid].compartment) <= {"Somatic", "Axonal", "Unknown dendritic"}
