"""``python -m builder analyze DATASET``: the published statistics, written beside the dataset.

Reads a built dataset through :class:`builder.store.reader.Dataset`, selects the cells of a
:class:`Scope`, computes :func:`builder.compute.statistics.published_analysis`, and writes to
``DATASET/analysis/<scope>/``, whole: the files of one run replace the previous run's together
(written into a temporary folder renamed into place, under the dataset's lock), so a killed
run leaves the previous one intact and ``--no-figures`` leaves no stale figures:

- ``analysis.json``: every number, with the scope, the filters, the dataset and the sources of
  the definitions;
- ``compartments.csv``, ``mann_whitney.csv``, ``gradients.csv``, ``regressions.csv``: the tables
  behind the figures, and ``segments.csv``: the filtered segments (the points of the scatters);
- ``compartments.png``, ``gradients.png``, ``regressions.png``: the figures.

The folder is not part of the dataset's checksums (it is derived, and rewritten by every run).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from builder.compute.statistics import AnalysisResult, SegmentFilter, published_analysis
from builder.errors import DatasetError
from builder.schema import PUBLISHED_DEFINITIONS
from builder.store.atomic import atomic_folder, write_bytes
from builder.store.lock import folder_lock
from builder.store.reader import Dataset

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Scope:
    """Which cells an analysis covers.

    Attributes
    ----------
    cell_type : str or None
        ``pyramidal`` (the published analysis), ``inhibitory``, ``astrocyte`` or None (all).
    subtype : str or None
        A ``cell_subtype`` (e.g. ``basket``) within ``cell_type``.
    cell_ids : tuple of int
        Explicit cells (overrides type and subtype).
    labelled_only : bool
        Leave out neurons whose compartment labels were inferred from their synapses (the
        published analysis used cells with curated labels, ``pyc_analysis_ids.csv``).
    """

    cell_type: str | None = "pyramidal"
    subtype: str | None = None
    cell_ids: tuple[int, ...] = ()
    labelled_only: bool = True

    @property
    def name(self) -> str:
        """Folder name under ``analysis/``: ``pyramidal``, ``inhibitory-basket``, ``all``,
        ``cells-<n>-<hash>``."""
        if self.cell_ids:
            h = hashlib.sha256(",".join(map(str, sorted(self.cell_ids))).encode()).hexdigest()[:8]
            return f"cells-{len(self.cell_ids)}-{h}"
        base = self.cell_type or "all"
        return f"{base}-{self.subtype}" if self.subtype else base

    def select(self, ds: Dataset) -> np.ndarray:
        """Cell ids of ``ds`` in this scope, sorted; :class:`DatasetError` when there are none."""
        cells = ds.cells
        if self.cell_ids:
            missing = sorted(set(self.cell_ids) - set(cells["cell_id"].tolist()))
            if missing:
                raise DatasetError(
                    f"cells {missing[:5]} are not in the dataset at {ds.root}; see its cell_type_classification_filtered.csv"
                )
            keep = cells["cell_id"].isin(self.cell_ids)
        else:
            keep = pd.Series(True, index=cells.index)
            if self.cell_type:
                keep &= cells["cell_type"] == self.cell_type
            if self.subtype:
                keep &= cells["cell_subtype"] == self.subtype
            if self.labelled_only:
                inferred = {int(c) for c in ds.manifest.get("label_mapping", {}).get("inferred", {})}
                keep &= ~cells["cell_id"].isin(inferred)
        ids = np.sort(cells.loc[keep, "cell_id"].to_numpy(np.int64))
        if not len(ids):
            types = ", ".join(f"{t} ({n})" for t, n in cells["cell_type"].value_counts().items())
            raise DatasetError(f"no cell of {ds.root} is in scope {self.name!r} (cell types: {types}); choose another "
                               "--cell-type / --subtype, or pass --all-labels to include cells with inferred labels")  # fmt: skip
        return ids


#: The published analysis' cells and filters (both frozen).
DEFAULT_SCOPE = Scope()
PUBLISHED_FILTER = SegmentFilter()


def run_analysis(
    dataset: Path,
    scope: Scope = DEFAULT_SCOPE,
    f: SegmentFilter = PUBLISHED_FILTER,
    include_meshless: bool = False,
    out_dir: Path | None = None,
    figures: bool = True,
) -> tuple[AnalysisResult, Path, dict]:
    """Compute and write the published analysis of ``scope``; returns the result, the folder
    and the JSON summary."""
    ds = Dataset.open(dataset)
    ids = scope.select(ds)
    out = Path(out_dir) if out_dir is not None else ds.root / "analysis" / scope.name
    with folder_lock(ds.root, "python -m builder analyze"), _out_lock(ds.root, out):
        result = published_analysis(ds.mitochondria, ds.segments, ids, f, include_meshless)
        summary = summary_dict(ds, scope, f, include_meshless, result)
        with atomic_folder(out) as tmp:  # a run's files replace the previous run's together
            _write_outputs(tmp, result, summary, title=f"{scope.name}, {len(ids)} cells of {ds.root.name}" if figures else None)
    log.info("analysis of %d cells written to %s", len(ids), out)
    return result, out, summary


def _out_lock(root: Path, out: Path) -> contextlib.AbstractContextManager:
    """The lock of an output folder outside the dataset (``--out``); nothing more inside it."""
    inside = out.resolve().is_relative_to(root.resolve())
    return contextlib.nullcontext() if inside else folder_lock(out.parent, "python -m builder analyze")


def _write_outputs(out: Path, result: AnalysisResult, summary: dict, title: str | None) -> None:
    """``analysis.json``, the CSVs and (unless ``title`` is None) the figures, into ``out``."""
    write_bytes(out / "analysis.json", (json.dumps(summary, indent=2, default=_json_default) + "\n").encode())
    for name, frame in (("compartments", result.compartments), ("mann_whitney", result.tests), ("gradients", result.gradients),
                        ("regressions", result.regressions), ("segments", result.segments)):  # fmt: skip
        write_bytes(out / f"{name}.csv", frame.to_csv(index=False).encode())
    if title is not None:
        from builder.analysis.figures import write_figures

        write_figures(result, out, title=title)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records"))


def summary_dict(ds: Dataset, scope: Scope, f: SegmentFilter, include_meshless: bool, r: AnalysisResult) -> dict:
    """Everything of ``analysis.json``."""
    seg = r.segments
    return {
        "dataset": {"path": str(ds.root), "fingerprint": ds.manifest.get("fingerprint"), "synthetic": ds.synthetic,
                    "format_version": ds.manifest.get("parameters", {}).get("format_version")},
        "scope": {"name": scope.name, "cell_type": scope.cell_type, "subtype": scope.subtype, "labelled_only": scope.labelled_only,
                  "n_cells": int(len(r.cell_ids)), "cell_ids": [int(c) for c in r.cell_ids]},
        "filters": {**f.as_dict(), "include_meshless_mitochondria": include_meshless},
        "counts": {"mitochondria_compared": int(r.compartments["n"].sum()) if len(r.compartments) else 0,
                   "segments_gradient": int(len(seg)), "segments_regression": int(seg["for_regression"].sum()) if len(seg) else 0},
        "compartments": _records(r.compartments),
        "mann_whitney": _records(r.tests),
        "gradients": _records(r.gradients),
        "regressions": _records(r.regressions),
        "published_real_data": PUBLISHED_RESULTS,
        "definitions": PUBLISHED_DEFINITIONS,
    }  # fmt: skip


def summary_text(summary: dict, out: Path) -> str:
    """A few lines for the terminal."""
    lines = [f"{summary['scope']['name']}: {summary['scope']['n_cells']} cells, "
             f"{summary['counts']['mitochondria_compared']} mitochondria, {summary['counts']['segments_gradient']} "
             f"{summary['filters']['compartment'].lower()} segments ({summary['counts']['segments_regression']} beyond "
             f"{summary['filters']['min_soma_um']:g} um)"]  # fmt: skip
    pub = PUBLISHED_RESULTS
    lines.append("  median volume (um^3) / MCI, published real data in brackets:")
    for row in summary["compartments"]:
        c = row["compartment"]
        pv, pm = pub["median_volume_um3"].get(c), pub["median_mci"].get(c)
        lines.append(f"    {c:10s} n={row['n']:7d}  {row['volume_median']:.4f} ({pv:.4f})  {row['mci_median']:.2f} ({pm:.2f})")
    for t in summary["mann_whitney"]:
        lines.append(f"  Mann-Whitney {t['measure']:16s} {t['alternative']:20s} U={t['U']:.4g}  p={t['p']:.3g}")
    pr = pub["regressions_beyond_60um"]
    for g in summary["regressions"]:
        key = g["kind"] if g["kind"] != "pearson+ols" else f"{g['x']} -> {g['y']}"
        ref = pr.get(key, {})
        r = g["r"] if g["r"] is not None else float("nan")
        lines.append(f"  {key:50s} n={g['n']:6d}  r={r:.3f} ({ref.get('r', float('nan')):.3f})  "
                     f"slope={g['slope'] if g['slope'] is not None else float('nan'):.4g}")  # fmt: skip
    lines.append(f"  written to {out}")
    return "\n".join(lines)
