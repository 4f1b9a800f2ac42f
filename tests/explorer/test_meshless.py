"""A dataset built without meshes (the mesh layer may not answer) is a first-class case."""

from __future__ import annotations

import pytest

from builder.config import BuildConfig
from builder.pipeline import build_dataset
from builder.sources.phase1 import NO_MESHES, Phase1Source
from explorer.data import ExplorerData
from explorer.figures.scatter import scatter_figure
from explorer.layout import shell
from explorer.panels.scatter import scatter_view
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def meshless(small_raw, tmp_path_factory) -> ExplorerData:
    out = tmp_path_factory.mktemp("meshless") / "ds"
    source = Phase1Source(small_raw, mesh_source=NO_MESHES)
    cfg = BuildConfig(source="phase1", raw_dir=small_raw, out_dir=out, demo=SMALL, workers=1, mesh_source=NO_MESHES)
    assert build_dataset(cfg, source).complete
    return ExplorerData.load(out)


def test_defaults_have_values_and_a_note_says_why_the_rest_is_empty(meshless, small_dataset):
    x, y, logs = meshless.scatter_defaults()
    assert (x, y, logs) == ("path_dist_to_soma_um", "volume_um3", ["log y"])
    assert meshless.mitos[[x, y]].notna().all().all()
    note = meshless.mesh_note()
    assert "no mitochondrion meshes (build report reason: built without meshes (--mesh-source none))" in note
    empty = note.split(", so ")[1].split(" have no values")[0].split(", ")
    assert {"complexityindex", "surface_area", "mesh_volume_um3"} <= set(empty) and "volume_um3" not in empty
    assert note in str(shell(meshless))
    full = ExplorerData.load(small_dataset)  # with meshes: the usual defaults and no note
    assert full.scatter_defaults()[:2] == ("volume_um3", "complexityindex") and full.mesh_note() == ""


def test_default_scatter_has_points(meshless):
    cell = str(meshless.mitos.cellid.iloc[0])
    x, y, logs = meshless.scatter_defaults()
    fig = scatter_view(meshless, cell, x, y, "compartment", logs, "cell")
    assert sum(len(t.x) for t in fig.data[1:]) == int((meshless.mitos.cellid == int(cell)).sum())


def test_an_axis_without_values_says_so_instead_of_an_empty_plot(meshless):
    fig = scatter_figure(meshless.mitos, "volume_um3", "complexityindex")
    assert not fig.data and "No values of mitochondrial complexity index (MCI)" in fig.layout.annotations[0].text
