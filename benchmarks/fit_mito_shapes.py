"""Fit the demo's mitochondrion shape model to the real Phase 1 morphometrics.

Reads ``mito_morphometrics_363cells_part*of3.csv`` (third-party derived file, kept in
``../shared/realdata/layer23-volume``) and prints, per compartment, the parameters that
``builder/sources/demo/mitos.py`` ships in ``SHAPE_MODEL``: median volume (um^3, mito_vx x
3.58 x 3.58 x 40 nm^3), sd of ln volume, median MCI, the slope b of ln MCI on ln volume and
the sd of its residual, so that ``ln MCI = ln(median MCI) + b (ln V - ln median V) + e``.

Usage: ``python benchmarks/fit_mito_shapes.py [folder]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from builder.schema import MITO_VOXEL_UM3


def fit(df: pd.DataFrame) -> pd.DataFrame:
    """One row of model parameters per compartment of the morphometrics table ``df``."""
    rows = {}
    for comp, g in df.groupby("compartment"):
        lv, lm = np.log(g["mito_vx"] * MITO_VOXEL_UM3), np.log(g["complexityindex"])
        b = np.polyfit(lv, lm, 1)[0]
        resid = lm - np.median(lm) - b * (lv - np.median(lv))
        rows[comp] = {
            "n": len(g),
            "share": len(g) / len(df),
            "median_volume_um3": float(np.exp(np.median(lv))),
            "sd_ln_volume": float(lv.std()),
            "median_mci": float(np.exp(np.median(lm))),
            "slope_b": float(b),
            "sd_e": float(resid.std()),
            "corr": float(np.corrcoef(lv, lm)[0, 1]),
        }
    return pd.DataFrame(rows).T


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/realdata/layer23-volume")
    parts = sorted(folder.glob("mito_morphometrics_363cells_part*of3.csv"))
    if not parts:
        print(f"no mito_morphometrics_363cells_part*of3.csv in {folder}; pass the folder that holds them")
        return 2
    df = pd.concat(pd.read_csv(p) for p in parts)
    pd.set_option("display.width", 200)
    print(f"{len(df)} mitochondria from {len(parts)} files")
    print(fit(df).round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
