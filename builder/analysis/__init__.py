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
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from builder.analysis.summary import PUBLISHED_RESULTS, summary_dict, summary_text, to_json
from builder.compute.statistics import AnalysisResult, SegmentFilter, published_analysis
from builder.errors import DatasetError
from builder.store.atomic import atomic_folder, write_bytes
from builder.store.lock import folder_lock
from builder.store.reader import Dataset

log = logging.getLogger(__name__)
__all__ = ["DEFAULT_SCOPE", "PUBLISHED_FILTER", "PUBLISHED_RESULTS", "Scope", "run_analysis", "summary_text"]


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

    @property
    def published(self) -> bool:
        """Whether this is the scope of the published analysis: pyramidal cells with their own
        labels, no subtype and no list of cells."""
        return self == DEFAULT_SCOPE

    def as_dict(self) -> dict:
        return {"name": self.name, "cell_type": self.cell_type, "subtype": self.subtype, "labelled_only": self.labelled_only}

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
    check_out_folder(ds.root, out)
    with folder_lock(ds.root, "python -m builder analyze"), _out_lock(ds.root, out):
        result = published_analysis(ds.mitochondria, ds.segments, ids, f, include_meshless)
        dataset = {"path": str(ds.root), "fingerprint": ds.manifest.get("fingerprint"), "synthetic": ds.synthetic,
                   "format_version": ds.manifest.get("parameters", {}).get("format_version")}  # fmt: skip
        published = scope.published and f == PUBLISHED_FILTER and not include_meshless
        summary = summary_dict(dataset, scope.as_dict(), published, f, include_meshless, result)
        with atomic_folder(out) as tmp:  # a run's files replace the previous run's together
            _write_outputs(tmp, result, summary, title=f"{scope.name}, {len(ids)} cells of {ds.root.name}" if figures else None)
    log.info("analysis of %d cells written to %s", len(ids), out)
    return result, out, summary


def check_out_folder(root: Path, out: Path) -> None:
    """Refuse an output folder that analyze would wrongly replace: the dataset itself, a folder
    holding it or inside it other than ``analysis/``, or an existing folder that is not an
    earlier analysis (no ``analysis.json``). The folder is replaced whole, so it must be ours."""
    root, target = Path(root).resolve(), Path(out).resolve()
    analysis = root / "analysis"
    inside_dataset = target.is_relative_to(root) and not target.is_relative_to(analysis)
    if root.is_relative_to(target) or inside_dataset or target == analysis:
        raise DatasetError(f"--out {out}: analyze replaces its output folder whole, and this one holds the dataset or a "
                           f"part of it; give a new folder, or leave --out out (default {analysis}/<scope>)")  # fmt: skip
    if target.is_dir() and any(target.iterdir()) and not (target / "analysis.json").is_file():
        raise DatasetError(f"--out {out}: holds files that are not an analysis (no analysis.json); analyze replaces its "
                           "output folder whole, so give a new or empty folder")  # fmt: skip


def _out_lock(root: Path, out: Path) -> contextlib.AbstractContextManager:
    """The lock of an output folder outside the dataset (``--out``); nothing more inside it."""
    inside = out.resolve().is_relative_to(root.resolve())
    return contextlib.nullcontext() if inside else folder_lock(out.parent, "python -m builder analyze")


def _write_outputs(out: Path, result: AnalysisResult, summary: dict, title: str | None) -> None:
    """``analysis.json``, the CSVs and (unless ``title`` is None) the figures, into ``out``."""
    write_bytes(out / "analysis.json", to_json(summary))
    for name, frame in (("compartments", result.compartments), ("mann_whitney", result.tests), ("gradients", result.gradients),
                        ("regressions", result.regressions), ("segments", result.segments)):  # fmt: skip
        write_bytes(out / f"{name}.csv", frame.to_csv(index=False).encode())
    if title is not None:
        from builder.analysis.figures import write_figures

        write_figures(result, out, title=title)
