"""Figures are pure functions: trace budget, one palette, coordinates in nm."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def _mito_meshes(fig):
    return [t for t in fig.data if t.type == "mesh3d" and (t.legendgroup or "").startswith("mito-")]


def test_cell_figure_trace_budget_and_colours(parts, pyramidal_id):
    nodes, mitos, meshes, syn = parts
    fig = go.Figure(cell_figure(pyramidal_id, nodes, mitos, meshes, syn, show_synapses=True))
    comps = sorted(mitos.compartment.unique())
    assert [t.name for t in fig.data if t.type == "mesh3d"].count("soma") == 1  # the cell body
    assert len(_mito_meshes(fig)) == len(comps)  # one merged mesh per compartment, never one per mitochondrion
    for t in _mito_meshes(fig):
        name = t.name.split(": ")[1].rsplit(" (", 1)[0]
        assert t.color == COMPARTMENT_COLORS[name] and t.opacity == 1.0  # opaque: the mitochondria are in front
    skel = [t for t in fig.data if t.legendgroup == "skeleton"]
    assert len(skel) == nodes.loc[nodes.parent >= 0, "label"].nunique()  # edges take the child's label
    assert [t.showlegend for t in skel].count(True) == 1  # one legend entry for the skeleton
    for t in skel:
        x = np.asarray(t.x, float)
        assert np.isnan(x[2::3]).all() and np.isfinite(x[0::3]).all()  # NaN-broken segments
    assert {t.line.color for t in skel} <= set(COMPARTMENT_COLORS.values()) and len({t.line.color for t in skel}) == len(skel)
    roles = {t.legendgroup for t in fig.data if (t.legendgroup or "").startswith("syn-")}
    assert roles == {f"syn-{r}" for r in syn.synapse_type.unique()}
    pre = next(t for t in fig.data if t.legendgroup == "syn-pre")
    post = next(t for t in fig.data if t.legendgroup == "syn-post")
    assert (pre.marker.symbol, pre.marker.color) != (post.marker.symbol, post.marker.color)
    assert pre.marker.color == SYNAPSE_STYLE["pre"]["color"]
    assert post.marker.size < 2 and post.marker.line.width == 0  # small, without outlines
    assert fig.data[HIGHLIGHT_TRACE].name == "selected" and len(fig.data[HIGHLIGHT_TRACE].x) == 0
    assert fig.layout.uirevision == str(pyramidal_id)
    assert len(fig.data) <= 2 + 6 + 1 + 2 * 7 + 3 + 2


def test_cell_figure_is_in_um_with_pia_up_and_a_scale_bar(parts, pyramidal_id):
    nodes, mitos, meshes, syn = parts
    fig = go.Figure(cell_figure(pyramidal_id, nodes, mitos, meshes, syn))
    lo = nodes[["x", "y", "z"]].min().to_numpy() / 1000 - 5
    hi = nodes[["x", "y", "z"]].max().to_numpy() / 1000 + 5
    m = _mito_meshes(fig)[0]
    xyz = np.c_[m.x, m.y, m.z]
    assert (xyz >= lo).all() and (xyz <= hi).all() and 100 < xyz[:, 0].min() < 1e4  # µm, Phase 1 frame
    assert sum(len(t.x) for t in _mito_meshes(fig)) == len(meshes.vertices)
    scene = fig.layout.scene
    # plotly's own axes give vectorize-text nothing to turn into WebGL triangles: no title, no tick
    for axis in (scene.xaxis, scene.yaxis, scene.zaxis):
        assert not axis.title.text and axis.tickmode == "array" and list(axis.tickvals) == [] and not axis.showline
    # the frame's axes: x below the cell, depth left of it, their numbers and titles page text
    frame = next(t for t in fig.data if t.name == "axes (µm)")
    words = {a.text: a for a in scene.annotations}
    assert words["x (µm)"].y > nodes["y"].max() / 1000 and words["depth y (µm)"].x < nodes["x"].min() / 1000
    numbers = [a for a in scene.annotations if a.text.replace(".", "").isdigit()]
    xs = sorted(a.x for a in numbers if a.y > nodes["y"].max() / 1000)
    ys = sorted(a.y for a in numbers if a.x < nodes["x"].min() / 1000)
    assert len(xs) >= 3 and len(ys) >= 2 and len(xs) + len(ys) == len(numbers)
    assert all(float(a.text) in (a.x, a.y) for a in numbers)  # each number at its tick
    fx, fy = np.asarray(frame.x, float), np.asarray(frame.y, float)
    assert set(xs) <= set(fx[np.isfinite(fx)].tolist()) and set(ys) <= set(fy[np.isfinite(fy)].tolist())
    assert len({round(b - a, 6) for a, b in zip(xs, xs[1:])} | {round(b - a, 6) for a, b in zip(ys, ys[1:])}) == 1  # one step
    # the release's y grows with depth: -y up on screen, x to the right (eye on -z)
    assert (scene.camera.up.x, scene.camera.up.y, scene.camera.up.z) == (0, -1, 0) and scene.camera.eye.z < 0
    bar = next(t for t in fig.data if (t.name or "").startswith("scale bar"))
    length = float(bar.name.split(": ")[1].split(" ")[0])
    label = next(a for a in scene.annotations if a.text.endswith("µm"))
    assert (
        bar.x[1] - bar.x[0] == length and label.text == f"{length:g} µm" and bar.x[0] < label.x < bar.x[1] and label.y == bar.y[0]
    )
    pia = next(a for a in scene.annotations if "pia" in a.text)
    assert pia.y < nodes["y"].min() / 1000 < bar.y[0]  # above the cell on screen (y grows with depth), the bar below
    assert not [t for t in fig.data if "text" in (getattr(t, "mode", None) or "")]  # no WebGL text


def test_many_synapses_are_hidden_until_asked(parts, pyramidal_id):
    nodes, mitos, meshes, syn = parts
    many = go.Figure(cell_figure(pyramidal_id, nodes, mitos, meshes, pd.concat([syn] * (400 // len(syn) + 1))))
    assert {t.visible for t in many.data if (t.legendgroup or "").startswith("syn-")} == {"legendonly"}
    few = go.Figure(cell_figure(pyramidal_id, nodes, mitos, meshes, syn.iloc[:50]))
    assert {t.visible for t in few.data if (t.legendgroup or "").startswith("syn-")} == {True}


def test_without_meshes_markers_sized_by_volume(parts, pyramidal_id):
    nodes, mitos, _, syn = parts
    fig = go.Figure(cell_figure(pyramidal_id, nodes, mitos, None, syn))
    assert not _mito_meshes(fig)
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
    centres = [t for t in fig.data if t.legendgroup == f"mito-{comp}" and t.type == "scatter3d"]
    meshed, alone = centres[0], centres[1]
    assert alone.name.endswith("without mesh") and list(alone.customdata) == [str(lost)]
    assert np.ndim(meshed.marker.size) == 0 and str(lost) not in set(meshed.customdata)  # every other one: one size
    full = go.Figure(cell_figure(pyramidal_id, nodes, mitos[mitos.mito_id.isin(meshes.ids)], meshes, syn))
    assert not [t for t in full.data if (t.name or "").endswith("without mesh")]


def test_scatter_one_trace_per_category(xdata):
    fig = scatter_figure(xdata.mitos, "volume_um3", "complexityindex", "compartment", log_x=True)
    assert all(t.type == "scattergl" for t in fig.data)
    assert len(fig.data) == 1 + xdata.mitos.compartment.nunique()
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "linear"
    t = fig.data[1]
    assert t.marker.color == COMPARTMENT_COLORS[t.name.rsplit(" (", 1)[0]]
    # ids as uint32 and coordinates as float32 typed arrays on the wire, the ids exact
    import base64
    import json as _json

    from dash._utils import to_json

    wire = _json.loads(to_json(fig))["data"][1]
    assert wire["customdata"]["dtype"] == "u4" and wire["x"]["dtype"] == "f4"
    sel = xdata.mitos[xdata.mitos.compartment == t.name.rsplit(" (", 1)[0]]
    sent = np.frombuffer(base64.b64decode(wire["customdata"]["bdata"]), "<u4").astype(np.int64)
    assert np.array_equal(sent, sel.mito_id.to_numpy()) and np.array_equal(np.asarray(t.customdata), sel.mito_id.to_numpy())
    by_type = scatter_figure(xdata.mitos, "pc1_um", "sphericity", "cell_type", highlight_ids=[int(xdata.mitos.mito_id.iloc[0])])
    assert len(by_type.data[0].x) == 1 and len(by_type.data) == 1 + xdata.mitos.cell_type.nunique()


def test_ids_too_large_for_uint32_go_as_exact_numbers():
    from explorer.figures.scatter import browser_ids

    big = np.array([2**32, 2**53 - 1, 5], np.int64)
    assert browser_ids(big).dtype == object and [int(v) for v in browser_ids(big)] == big.tolist()
    assert browser_ids(np.array([-1, 5], np.int64)).dtype == object
    assert browser_ids(np.array([0, 2**32 - 1], np.int64)).dtype == np.uint32


def test_selected_ids_ignores_highlight_and_garbage():
    ev = {"points": [{"curveNumber": 0, "customdata": "5"}, {"curveNumber": 2, "customdata": "7"},
                     {"curveNumber": 1, "customdata": ["9"]}, {"curveNumber": 1, "customdata": "../x"}]}  # fmt: skip
    assert selected_ids(ev) == [7, 9]
    assert selected_ids(None) == []


def test_compartment_figure_boxes(xdata):
    fig = compartment_figure(xdata.mitos, "all")
    boxes = [t for t in fig.data if isinstance(t, go.Box)]
    assert {b.x[0] for b in boxes} == set(xdata.mitos.compartment)
    order = [b.x[0] for b in boxes if b.xaxis == "x"]
    assert order[:4] == ["Axonal", "Somatic", "Apical", "Basal"]  # the published tests' order, as analyze
    for b in boxes:
        assert b.marker.color == COMPARTMENT_COLORS[b.x[0]]
    basal = xdata.mitos.loc[xdata.mitos.compartment == "Basal", "volume_um3"]
    b = next(b for b in boxes if b.x[0] == "Basal" and b.xaxis == "x")
    assert b.median[0] == pytest.approx(basal.median())
    st = box_stats(np.array([1, 2, 3, 4, 100.0]))
    assert (st["lowerfence"], st["median"], st["upperfence"]) == pytest.approx(
        tuple(np.percentile([1, 2, 3, 4, 100], [5, 50, 95]))
    )
