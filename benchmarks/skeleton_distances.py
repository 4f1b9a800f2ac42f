"""How far synapses and mitochondria lie from their own cell's skeleton, in a built dataset.

A unit error between tables and skeletons (a position converted at 4 nm instead of 3.58, an
unscaled mesh) moves synapses and mitochondria micrometres away from their neurite: on a
correct build synapses sit on the neurite surface (about 1 um) and mitochondria inside it.

    python benchmarks/skeleton_distances.py data/demo [more datasets ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def distances_um(dataset: Path) -> tuple[np.ndarray, np.ndarray]:
    """Distance (um) of every synapse row and every mitochondrion to the nearest node of its cell."""
    tables = Path(dataset) / "tables"
    nodes = pd.read_parquet(tables / "skeleton_nodes.parquet", columns=["cell_id", "x", "y", "z"])
    syn = pd.read_parquet(tables / "synapses.parquet", columns=["cell_id", "x", "y", "z"])
    mito = pd.read_parquet(tables / "mitochondria.parquet", columns=["cellid", "x", "y", "z"])
    syn_by, mito_by = dict(tuple(syn.groupby("cell_id"))), dict(tuple(mito.groupby("cellid")))
    d_syn, d_mito = [], []
    for cid, n in nodes.groupby("cell_id"):
        tree = cKDTree(n[["x", "y", "z"]].to_numpy())
        for frame, out in ((syn_by.get(cid), d_syn), (mito_by.get(cid), d_mito)):
            if frame is not None:
                out.append(tree.query(frame[["x", "y", "z"]].to_numpy())[0] / 1000.0)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    return cat(d_syn), cat(d_mito)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    args = ap.parse_args()
    print(f"{'dataset':40s} {'synapses':>9s} {'median um':>10s} {'p90 um':>7s} {'mitos':>8s} {'median um':>10s} {'p90 um':>7s}")
    for ds in args.datasets:
        s, m = distances_um(ds)
        q = lambda a, p: float(np.quantile(a, p)) if len(a) else float("nan")  # noqa: E731
        print(f"{str(ds):40s} {len(s):9d} {q(s, 0.5):10.2f} {q(s, 0.9):7.2f} {len(m):8d} {q(m, 0.5):10.2f} {q(m, 0.9):7.2f}")


if __name__ == "__main__":
    main()
