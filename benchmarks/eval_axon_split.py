"""How well the synapse-based axon split recovers known labels, on the demo volume's neurons.

For every pyramidal cell and interneuron of a demo volume, the labels are inferred from the
cell's synapses as if it had no label file, and compared with the labels the generator wrote:
axon recall and precision per cell, median and range.

    python benchmarks/eval_axon_split.py --raw data/raw/demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from builder.compute.association import nearest_nodes
from builder.compute.axon_split import split_axon_by_synapses
from builder.compute.compartments import map_node_labels
from builder.compute.skeleton import orient_tree
from builder.compute.synapses import cell_synapses
from builder.schema import Compartment
from builder.sources.published import PublishedLayoutSource


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=Path("data/raw/demo"), help="demo volume (python -m builder demo)")
    args = ap.parse_args()
    src = PublishedLayoutSource(args.raw, name="demo", synthetic=True)
    tables = src.tables()
    neurons = tables.cells[tables.cells.cell_type != "astrocyte"]
    syn = cell_synapses(tables.synapses, neurons.cell_id.to_numpy(np.int64))
    rows = []
    for c in neurons.itertuples(index=False):
        sk = src.skeleton(int(c.cell_id))
        tree = orient_tree(sk.vertices, sk.edges, sk.root, sk.radius)
        truth = map_node_labels(sk.labels, src.label_names)
        s = syn[syn.cell_id == c.cell_id]
        node, _ = nearest_nodes(tree.vertices, s[["x", "y", "z"]].to_numpy(np.float64))
        kind = s.synapse_type.to_numpy()
        split = split_axon_by_synapses(tree, node[np.isin(kind, ("pre", "autapse"))], node[np.isin(kind, ("post", "autapse"))])
        t, g = truth == Compartment.AXONAL, split.labels == Compartment.AXONAL
        rows.append(
            {"cell_type": c.cell_type, "recall": (t & g).sum() / max(t.sum(), 1), "precision": (t & g).sum() / max(g.sum(), 1),
             "quality": split.quality, "n_pre": split.n_pre, "n_post": split.n_post}
        )  # fmt: skip
    df = pd.DataFrame(rows)
    print(f"{len(df)} neurons of {args.raw}")
    for ct, g in df.groupby("cell_type"):
        print(
            f"  {ct:10s} n={len(g):3d}  axon recall median {g.recall.median():.3f} (min {g.recall.min():.3f})  "
            f"precision median {g.precision.median():.3f} (min {g.precision.min():.3f})  "
            f"split quality median {g.quality.median():.3f}"
        )


if __name__ == "__main__":
    main()
