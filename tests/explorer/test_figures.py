"""Figures are pure functions: trace budget, one palette, coordinates in nm."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer.figures.cell3d import HIGHLIGHT_TRACE, cell_figure
from explorer.figures.compartments import box_stats, compartment_figure
from explorer.figures.scatter import scatter_figure, selected_ids
from explorer.palette import COMPARTMENT_COLORS, SYNAPSE_STYLE


@pytest.fixture()
def parts(xdata, pyramidal_id):
    ds = xdata.ds
    return (
        ds.skeleton_nodes(pyramidal_id),
        ds.cell_mitochondria(pyramidal_id),
        ds.mito_meshes(pyramidal_id),
        ds.cell_synapses(pyramidal_id),
    )


def test_cell_figure_trace_budget_and_colours(parts, pyramidal_id):
    nodes, mitos, meshes, syn = parts
    fig = go.Figure(cell_figure(pyramidal_id, nodes, mitos, meshes, syn))
    comps = sorted(mitos.compartment.unique())
    meshes3d = [t for t in fig.data if t.type == "mesh3d" and t.name != "soma"]
    assert [t.name for t in fig.data if t.type == "mesh3d"].count("soma") == 1  # the cell body
    assert len(meshes3d) == len(comps)  # one merged mesh per compartment, never one per mitochondrion
    for t in meshes3d:
        name = t.name.split(": ")[1].rsplit(" (", 1)[0]
        assert t.color == COMPARTMENT_COLORS[name]
    skel = [t for t in fig.data if t.name.startswith("skeleton")]
    assert len(skel) == nodes.loc[nodes.parent >= 0, "label"].nunique()  # edges take the child's label
    for t in skel:
        x = np.asarray(t.x, float)
        assert np.isnan(x[2::3]).all() and np.isfinite(x[0::3]).all()  # NaN-broken segments
        assert t.line.color == COMPARTMENT_COLORS[t.name.split(": ")[1]]
    roles = {t.legendgroup for t in fig.data if (t.legendgroup or "").startswith("syn-")}
    assert roles == {f"syn-{r}" for r in syn.synapse_type.unique()}
    pre = next(t for t in fig.data if t.legendgroup == "syn-pre")
    post = next(t for t in fig.data if t.legendgroup == "syn-post")
    assert (pre.marker.symbol, pre.marker.color) != (post.marker.symbol, post.marker.color)
    assert pre.marker.color == SYNAPSE_STYLE["pre"]["color"]
    assert fig.data[HIGHLIGHT_TRACE].name == "selected" and len(fig.data[HIGHLIGHT_TRACE].x) == 0
    assert fig.layout.uirevision == str(pyramidal_id)
    assert fig.layout.scene.xaxis.title.text == "x (nm)"
    assert len(fig.data) <= 1 + 6 + 2 * 7 + 3


def test_cell_figure_coordinates_are_nm(parts, pyramidal_id):
    nodes, mitos, meshes, syn = parts
    fig = go.Figure(cell_figure(pyramidal_id, nodes, mitos, meshes, syn))
    lo = nodes[["x", "y", "z"]].min().to_numpy() - 5000
    hi = nodes[["x", "y", "z"]].max().to_numpy() + 5000
    m = next(t for t in fig.data if t.type == "mesh3d" and t.name != "soma")
    xyz = np.c_[m.x, m.y, m.z]
    assert (xyz >= lo).all() and (xyz <= hi).all() and xyz[:, 0].min() > 1e5  # nm, Phase 1 frame
    n_vertices = sum(len(t.x) for t in fig.data if t.type == "mesh3d" and t.name != "soma")
    assert n_vertices == len(meshes.vertices)


def test_without_meshes_markers_sized_by_volume(parts, pyramidal_id):
    nodes, mitos, _, syn = parts
    fig = go.Figure(cell_figure(pyramidal_id, nodes, mitos, None, syn))
    assert not [t for t in fig.data if t.type == "mesh3d" and t.name != "soma"]
    markers = [t for t in fig.data if (t.legendgroup or "").startswith("mito-")]
    assert all(t.showlegend for t in markers)
    big = max(markers, key=lambda t: len(t.x))
    sizes = np.asarray(big.marker.size)
    assert sizes.min() < sizes.max()


def test_mitochondrion_without_mesh_is_a_volume_sized_marker(parts, pyramidal_id):
    nodes, mitos, meshes, syn = parts
    lost = int(meshes.ids[0])
    fewer = meshes.subset(meshes.ids != lost)  # as if its mesh could not be had
    fig = go.Figure(cell_figure(pyramidal_id, nodes, mitos, fewer, syn))
    comp = mitos.set_index("mito_id").loc[lost, "compartment"]
    centres = next(t for t in fig.data if t.legendgroup == f"mito-{comp}" and t.type == "scatter3d")
    sizes = np.broadcast_to(np.asarray(centres.marker.size, float), (len(centres.x),))
    ids = np.asarray(centres.customdata).astype(np.int64)
    assert sizes[ids == lost][0] > 2 and (sizes[np.isin(ids, fewer.ids)] == 2).all()
    meshed = mitos[mitos.mito_id.isin(meshes.ids)]
    full = go.Figure(cell_figure(pyramidal_id, nodes, meshed, meshes, syn))
    centre_traces = [t for t in full.data if t.type == "scatter3d" and (t.legendgroup or "").startswith("mito-")]
    assert centre_traces and all(np.ndim(t.marker.size) == 0 for t in centre_traces)


def test_scatter_one_trace_per_category(xdata):
    fig = scatter_figure(xdata.mitos, "volume_um3", "complexityindex", "compartment", log_x=True)
    assert all(t.type == "scattergl" for t in fig.data)
    assert len(fig.data) == 1 + xdata.mitos.compartment.nunique()
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "linear"
    t = fig.data[1]
    assert t.marker.color == COMPARTMENT_COLORS[t.name.rsplit(" (", 1)[0]]
    # ids as a plain list of numbers (dcc.Graph reads selected points' customdata from it) and
    # coordinates as float32 typed arrays on the wire
    import json as _json

    from dash._utils import to_json

    wire = _json.loads(to_json(fig))["data"][1]
    assert isinstance(wire["customdata"], list) and isinstance(wire["customdata"][0], int) and wire["x"]["dtype"] == "f4"
    sel = xdata.mitos[xdata.mitos.compartment == t.name.rsplit(" (", 1)[0]]
    assert np.array_equal(np.asarray(t.customdata), sel.mito_id.to_numpy())
    by_type = scatter_figure(xdata.mitos, "pc1_um", "sphericity", "cell_type", highlight_ids=[int(xdata.mitos.mito_id.iloc[0])])
    assert len(by_type.data[0].x) == 1 and len(by_type.data) == 1 + xdata.mitos.cell_type.nunique()


def test_selected_ids_ignores_highlight_and_garbage():
    ev = {"points": [{"curveNumber": 0, "customdata": "5"}, {"curveNumber": 2, "customdata": "7"},
                     {"curveNumber": 1, "customdata": ["9"]}, {"curveNumber": 1, "customdata": "../x"}]}  # fmt: skip
    assert selected_ids(ev) == [7, 9]
    assert selected_ids(None) == []


def test_compartment_figure_boxes(xdata):
    fig = compartment_figure(xdata.mitos, "all")
    boxes = [t for t in fig.data if isinstance(t, go.Box)]
    assert {b.x[0] for b in boxes} == set(xdata.mitos.compartment)
    for b in boxes:
        assert b.marker.color == COMPARTMENT_COLORS[b.x[0]]
    basal = xdata.mitos.loc[xdata.mitos.compartment == "Basal", "volume_um3"]
    b = next(b for b in boxes if b.x[0] == "Basal" and b.xaxis == "x")
    assert b.median[0] == pytest.approx(basal.median())
    st = box_stats(np.array([1, 2, 3, 4, 100.0]))
    assert st["upperfence"] == 4 and st["median"] == 3
