"""The small interface every data source implements (demo volume, Phase 1 release, ...).

A source hands the pipeline four tables and two per-cell loaders. Network access and raw-file
parsing live only in source modules; the pipeline never opens a raw file itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from builder.compute.meshes import MeshBatch


@dataclass(frozen=True)
class SkeletonInput:
    """One cell's skeleton as the source stores it.

    Attributes
    ----------
    vertices : ndarray, shape (N, 3), nm
    edges : ndarray, shape (E, 2), int
    root : int
        Soma node index.
    radius : ndarray, shape (N,), nm, or None
    labels : ndarray, shape (N,), source label codes, or None when the source has none
    path : str
        File the skeleton was read from (for messages).
    """

    vertices: np.ndarray
    edges: np.ndarray
    root: int
    radius: np.ndarray | None
    labels: np.ndarray | None
    path: str = ""


@dataclass
class SourceIssue:
    """A row of an input table that was dropped or repaired (goes to the build report)."""

    kind: str  # "cell", "mitochondrion", "synapse"
    id: int
    reason: str
    file: str = ""
    #: True when the row is left out of the dataset (the build is then partial); False when
    #: it was repaired without loss (e.g. an exact duplicate).
    dropped: bool = True
    #: Line in ``file`` (1 is the header) of a row left out of the dataset (dropped, a duplicate,
    #: a blank line); None for a row kept with a warning, or an issue not about one row. The
    #: line is also in ``reason``. ``python -m builder validate`` recounts the raw tables less
    #: these lines.
    line: int | None = None


@dataclass
class SourceTables:
    """The tables a source provides, already in dataset units (nm) and column names.

    Attributes
    ----------
    cells : DataFrame
        ``cell_id, x, y, z`` (soma centre, nm), ``cell_type`` (pyramidal / inhibitory /
        astrocyte), ``cell_subtype``; one row per selected cell, sorted by ``cell_id``.
    mitochondria : DataFrame
        ``mito_id, cellid, mito_vx, x, y, z`` (centre, nm) for mitochondria of those cells,
        optionally with the :data:`builder.schema.BBOX_COLUMNS` (nm).
    synapses : DataFrame
        ``synapse_id, pre_root_id, post_root_id, x, y, z`` (nm), ``size`` (cleft voxels).
    issues : list of SourceIssue
        Rows dropped while parsing, with reasons.
    checks : dict
        Consistency checks of the inputs: name -> what was done or why it was skipped (goes to
        the build report).
    """

    cells: pd.DataFrame
    mitochondria: pd.DataFrame
    synapses: pd.DataFrame
    issues: list[SourceIssue] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    """What the pipeline needs from a data source. Implementations must be picklable
    (they hold paths, not open files) so that per-cell loaders run in worker processes."""

    name: str
    synthetic: bool
    #: The source's skeleton label vocabulary (code -> compartment name).
    label_names: Mapping[int, str]

    def fingerprint(self) -> str:
        """A string that changes whenever the source's inputs change."""
        ...

    def tables(self) -> SourceTables:
        """Parse and validate the source's tables."""
        ...

    def skeleton(self, cell_id: int) -> SkeletonInput:
        """Load one cell's skeleton; raises :class:`builder.errors.CellInputError`."""
        ...

    def meshes(self, cell_id: int, mito_ids: np.ndarray) -> tuple[MeshBatch, dict[int, str]]:
        """Load the meshes of one cell's mitochondria.

        Returns the meshes found and ``{mito_id: reason}`` for those that could not be had.
        """
        ...
