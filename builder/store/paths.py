"""Every path of a built dataset, in one place (README, 'The L2/3 dataset format')."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ARCHIVED_DIRS: tuple[str, ...] = ("microns", "morphologies", "nodes")
TABLE_NAMES: tuple[str, ...] = (
    "cells", "mitochondria", "synapses", "skeleton_nodes", "mito_meshes", "distance_bins", "segments",
)  # fmt: skip


@dataclass(frozen=True)
class DatasetPaths:
    """Paths inside one dataset directory."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def report(self) -> Path:
        return self.root / "build_report.json"

    @property
    def notebook(self) -> Path:
        return self.root / "demonstration.ipynb"

    @property
    def cells_csv(self) -> Path:
        return self.root / "cell_type_classification_filtered.csv"

    @property
    def synapses_csv(self) -> Path:
        return self.root / "synapse_filtered.csv"

    def mito_csv(self, cell_type: str, cell_id: int) -> Path:
        return self.root / "microns" / f"{cell_type}_{cell_id}.csv"

    def swc(self, cell_id: int) -> Path:
        return self.root / "morphologies" / f"{cell_id}.swc"

    def nodes_json(self, cell_id: int) -> Path:
        return self.root / "nodes" / f"{cell_id}_associated_nodes.json"

    @property
    def precomputed(self) -> Path:
        """The dataset as neuroglancer precomputed layers (builder/store/precomputed)."""
        return self.root / "precomputed"

    def vertex_counts_csv(self, cell_id: int) -> Path:
        return self.root / "nodes" / f"{cell_id}_node_vertex_counts.csv"

    def archive(self, folder: str) -> Path:
        return self.root / f"{folder}.tar.gz"

    def table(self, name: str) -> Path:
        return self.root / "tables" / f"{name}.parquet"

    # work area of a build in progress (never part of the dataset)
    @property
    def work(self) -> Path:
        return self.root / ".build"

    def cell_part(self, cell_id: int, name: str) -> Path:
        return self.work / "cells" / str(cell_id) / f"{name}.parquet"

    def cell_done(self, cell_id: int) -> Path:
        return self.work / "cells" / str(cell_id) / "done.json"
