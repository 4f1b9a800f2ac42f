"""What ``analyze`` says: ``analysis.json`` and the lines printed in the terminal.

Published values are shown only beside the published scope (pyramidal cells with their own
labels, the published filters): another scope says that there is none for it. Every number
has its cell-level interval (cluster bootstrap over cells, :mod:`builder.compute.uncertainty`);
a scope with fewer cells than :attr:`Bootstrap.min_cells` says so and prints no p value that
would treat the segments or mitochondria of so few cells as independent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from builder.compute.statistics import AnalysisResult, SegmentFilter
from builder.schema import PUBLISHED_DEFINITIONS

#: Published values to compare with (real data, MicronsBinder's notebooks' printed outputs).
PUBLISHED_RESULTS: dict = {
    "source": "MicronsBinder notebooks/vignette_analysis/mitochondria: compartment_comparison.ipynb (cells 14-26) "
    "and distance_to_soma.ipynb (cells 10, 34, 36); 351 pyramidal cells, 176,072 mitochondria",
    "median_volume_um3": {"Axonal": 0.01300813, "Somatic": 0.03263978, "Apical": 0.06215236, "Basal": 0.09523918},
    "median_mci": {"Axonal": 2.45647607, "Somatic": 5.18730973, "Apical": 7.64271002, "Basal": 9.10654901},
    "mann_whitney_volume_p": {"Axonal < Somatic": 0.0, "Somatic < Apical": 0.0, "Apical < Basal": 1.478462311485471e-87},
    "regressions_beyond_60um": {
        "n": 9198,
        "mito_volume_per_um -> synapse_density_per_um": {"r": 0.37262824601481137, "slope": 17.787093, "intercept": 1.260432},
        "median_diameter_um -> mito_volume_per_um": {"r": 0.5140271172039961, "slope": 0.061428, "intercept": -0.001463},
        "median_diameter_um -> synapse_density_per_um": {"r": 0.4024013518159681, "slope": 2.295467, "intercept": 0.600897},
        "residual after median_diameter_um": {"r": 0.1810919448637811, "slope": 7.913513, "intercept": -0.244452},
    },
}
NO_PUBLISHED_VALUE = (
    "no published value for this scope: the published analysis covers pyramidal cells with their own compartment "
    "labels (MicronsBinder's pyc_analysis_ids), with the published segment filters"
)


def _json_default(o: object) -> object:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def to_json(summary: dict) -> bytes:
    """``analysis.json``'s bytes (NaN as null)."""
    return (json.dumps(summary, indent=2, default=_json_default) + "\n").encode()


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records"))


def summary_dict(
    dataset: dict, scope: dict, published: bool, f: SegmentFilter, include_meshless: bool, r: AnalysisResult
) -> dict:
    """Everything of ``analysis.json``.

    Parameters
    ----------
    dataset : dict
        ``path, fingerprint, synthetic, format_version`` of the dataset.
    scope : dict
        ``name, cell_type, subtype, labelled_only`` of the scope.
    published : bool
        Whether the scope and filters are the published ones (then the published values are
        included; otherwise a note says there are none).
    """
    seg = r.segments
    n_cells = int(len(r.cell_ids))
    return {
        "dataset": dataset,
        "scope": {**scope, "n_cells": n_cells, "cell_ids": [int(c) for c in r.cell_ids], "published_scope": published},
        "filters": {**f.as_dict(), "include_meshless_mitochondria": include_meshless},
        "uncertainty": {
            "method": "cluster bootstrap over cells: the scope's cells resampled with replacement, every statistic "
            "recomputed; percentile intervals. Regressions also with cell-clustered standard errors (statsmodels OLS, "
            "cov_type='cluster'); r split into the r of the cells' means (between) and of the deviations from them (within)",
            **r.bootstrap.as_dict(),
            "too_few_cells": n_cells < r.bootstrap.min_cells,
        },
        "counts": {"mitochondria_compared": int(r.compartments["n"].sum()) if len(r.compartments) else 0,
                   "segments_gradient": int(len(seg)), "segments_regression": int(seg["for_regression"].sum()) if len(seg) else 0},
        "compartments": _records(r.compartments),
        "mann_whitney": _records(r.tests),
        "gradients": _records(r.gradients),
        "regressions": _records(r.regressions),
        "published_real_data": PUBLISHED_RESULTS if published else {"note": NO_PUBLISHED_VALUE},
        "definitions": PUBLISHED_DEFINITIONS,
    }  # fmt: skip


def _num(x: object, fmt: str) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _iv(row: dict, lo: str, hi: str, fmt: str) -> str:
    """`` [lo, hi]`` or "" when the interval is not there."""
    if row.get(lo) is None or row.get(hi) is None:
        return ""
    return f" [{_num(row[lo], fmt)}, {_num(row[hi], fmt)}]"


def summary_text(summary: dict, out: Path) -> str:
    """The terminal summary: counts, then each number with its interval and, for the published
    scope, the published value in brackets."""
    sc, u, c = summary["scope"], summary["uncertainty"], summary["counts"]
    pub = summary["published_real_data"] if sc["published_scope"] else None
    lines = [f"{sc['name']}: {sc['n_cells']} cells, {c['mitochondria_compared']} mitochondria, {c['segments_gradient']} "
             f"{summary['filters']['compartment'].lower()} segments ({c['segments_regression']} beyond "
             f"{summary['filters']['min_soma_um']:g} um)"]  # fmt: skip
    if u["too_few_cells"]:
        lines.append(f"  only {sc['n_cells']} cells: too few for cell-level intervals (fewer than {u['min_cells']}); no p value "
                     "is shown, because the mitochondria and segments of so few cells are not independent")  # fmt: skip
    else:
        lines.append(
            f"  [95 % intervals]: cluster bootstrap over the {sc['n_cells']} cells ({u['n_boot']} resamples, seed {u['seed']})"
        )
    lines.append(f"  {'published real data in (brackets)' if pub else NO_PUBLISHED_VALUE}")
    lines += _compartment_lines(summary, pub)
    lines += _regression_lines(summary, pub)
    lines.append(f"  written to {out}")
    return "\n".join(lines)


def _p_boot(p: float | None, n_boot: int) -> str:
    """A bootstrap p value; the smallest one it can give is 1 / (B + 1), shown as ``< 2/(B+1)``."""
    if p is None:
        return "nan"
    return f"< {2 / (n_boot + 1):.2g}" if p < 1.5 / (n_boot + 1) else f"{p:.2g}"


def _compartment_lines(summary: dict, pub: dict | None) -> list[str]:
    few = summary["uncertainty"]["too_few_cells"]
    lines = ["  median volume (um^3) and complexity index per compartment:"]
    for row in summary["compartments"]:
        c = row["compartment"]
        pv = f" ({pub['median_volume_um3'][c]:.4f})" if pub and c in pub["median_volume_um3"] else ""
        pm = f" ({pub['median_mci'][c]:.2f})" if pub and c in pub["median_mci"] else ""
        lines.append(f"    {c:9s} n={row['n']:7d} in {row.get('n_cells', 0):4d} cells  volume {row['volume_median']:.4f}"
                     f"{_iv(row, 'volume_median_lo', 'volume_median_hi', '.4f')}{pv}  MCI {_num(row['mci_median'], '.2f')}"
                     f"{_iv(row, 'mci_median_lo', 'mci_median_hi', '.2f')}{pm}")  # fmt: skip
    for t in summary["mann_whitney"]:
        cells = "" if few else (f"; median ratio {_num(t.get('ratio'), '.2f')}{_iv(t, 'ratio_lo', 'ratio_hi', '.2f')}, "
                                f"p over cells {_p_boot(t.get('p_bootstrap'), summary['uncertainty']['n_boot'])}")  # fmt: skip
        p = "" if few else f", p={t['p']:.3g} (mitochondria as independent, as published)"
        lines.append(f"    {t['measure']:16s} {t['alternative']:18s} Mann-Whitney U={t['U']:.4g}{p}{cells}")
    return lines


def _regression_lines(summary: dict, pub: dict | None) -> list[str]:
    few = summary["uncertainty"]["too_few_cells"]
    ref = pub["regressions_beyond_60um"] if pub else {}
    lines = [f"  regressions on segments beyond {summary['filters']['min_soma_um']:g} um:"]
    for g in summary["regressions"]:
        key = g["kind"] if g["kind"] != "pearson+ols" else f"{g['x']} -> {g['y']}"
        pr = f" ({ref[key]['r']:.3f})" if key in ref else ""
        ps = f" ({ref[key]['slope']:.4g})" if key in ref else ""
        pc = g.get("p_cluster")
        p = "" if few else f"  p (cell-clustered) {'< 1e-15' if pc is not None and pc < 1e-15 else _num(pc, '.2g')}"
        lines.append(f"    {key:50s} n={g['n']:5d} in {g.get('n_cells', 0):4d} cells  r={_num(g['r'], '.3f')}"
                     f"{_iv(g, 'r_lo', 'r_hi', '.3f')}{pr}  slope={_num(g['slope'], '.4g')}"
                     f"{_iv(g, 'slope_lo', 'slope_hi', '.4g')}{ps}{p}")  # fmt: skip
        lines.append(f"    {'':50s} r between cells {_num(g.get('r_between'), '.3f')} (cell means), "
                     f"within cells {_num(g.get('r_within'), '.3f')}")  # fmt: skip
    return lines
