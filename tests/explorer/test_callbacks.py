"""The panels' pure functions, called directly with what a browser could send."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
from dash import no_update

from explorer.figures.message import message_figure
from explorer.links import MAX_POINTS, LinkOptions, decode_state, neuroglancer_link
from explorer.palette import COMPARTMENT_COLORS
from explorer.panels import cells, compartments, scatter, view3d
from explorer.panels import selection as selpanel
from explorer.panels.cells import TABLE_COLUMNS

VIEWER = "https://neuroglancer.example/"
OPTS = LinkOptions(viewer_url=VIEWER)  # no dataset: shared links only
HOST = "http://127.0.0.1:8050/"


@pytest.mark.parametrize(
    "search,ok,text",
    [
        ("?cell=../../etc/passwd", False, "not a cell id"),
        ("?cell=123", False, "not in this dataset"),
        ("?cell=" + "9" * 5000, False, "not a cell id"),
        ("?foo=1", False, "Pick a cell"),
        ("", False, "Pick a cell"),
    ],
)
def test_url_bad_input_gives_a_message(xdata, search, ok, text):
    cell, msg = cells.cell_from_search(xdata, search)
    assert cell is None and text in msg


def test_url_good_cell(xdata, pyramidal_id):
    assert cells.cell_from_search(xdata, f"?cell={pyramidal_id}") == (str(pyramidal_id), "")


def test_the_browser_reads_the_url_and_a_row_click_as_the_server_would(xdata, pyramidal_id):
    """The page turns ``?cell=`` into the current cell, and a click on a row into ``?cell=``, in
    the browser (no round trip before the 3D view asks for the cell): the same answers as
    :func:`cells.cell_from_search` and :func:`cells.search_for_click`, messages included."""
    from playwright.sync_api import sync_playwright

    from tests.explorer.test_browser import CHROMIUM, FLAGS

    valid = [str(c) for c in xdata.ds.cells["cell_id"]]
    good = str(pyramidal_id)
    searches = [
        f"?cell={good}", f"?cell=0{good}", f"?cell=000{good}", f"?foo=1&cell={good}", f"?cell=&cell={good}", f"??cell={good}",
        f"?cell=%20{good}%20", f"?cell={good}&cell=5", "?cell=../../etc/passwd", "?cell=123", "?cell=" + "9" * 5000,
        "?cell=" + "9" * 20, "?" + "x" * 50000,
        "?cell=..%2F..%2Fetc%2Fpasswd", "?cell=-5", "?cell=1e5", "?cell=%D9%A1%D9%A2", "?foo=1", "?cell=", "", None,
    ]  # fmt: skip
    clicks = [{"rowId": good}, {"rowId": f"00{good}"}, {"rowId": "12; drop"}, {"rowId": None}, {}, None, {"rowId": 7}]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        page.evaluate("() => { window.dash_clientside = {no_update: 'NO_UPDATE'}; }")
        for search in searches:
            got = page.evaluate(f"([s, v]) => ({cells.CELL_FROM_SEARCH_JS})(s, v)", [search, valid])
            assert tuple(got) == cells.cell_from_search(xdata, search), search
        for click in clicks:
            got = page.evaluate(f"(c) => ({cells.SEARCH_FOR_CLICK_JS})(c)", click)
            assert got == (cells.search_for_click(click) or "NO_UPDATE"), click
        browser.close()
    assert cells.cell_from_search(xdata, f"?cell=0{good}") == (good, "")  # the cases above include a good cell


def test_table_filters_and_row_pick(xdata):
    rows = cells.table_rows(xdata, ["inhibitory"], None, None)
    assert rows and all(r["cell_type"] == "inhibitory" for r in rows) and isinstance(rows[0]["cell_id"], str)
    assert cells.search_for_click({"rowId": rows[0]["cell_id"], "colId": "n_mito"}) == f"?cell={rows[0]['cell_id']}"
    assert cells.search_for_click({"rowId": "12; drop"}) is None and cells.search_for_click(None) is None
    assert cells.table_rows(xdata, None, None, "no-such") == []
    assert set(rows[0]) == {c for c, *_ in TABLE_COLUMNS}  # only the grid's columns travel


def test_cell_view_unknown_and_without_mitochondria(xdata, pyramidal_id):
    assert view3d.cell_view(xdata, "123")[0] == message_figure(view3d.NO_CELL).to_dict()
    assert "Pick a cell" in view3d.cell_view(xdata, None)[0]["layout"]["annotations"][0]["text"]
    ds = copy.copy(xdata.ds)  # a dataset in which this cell has no mitochondria
    ds.mitochondria = ds.mitochondria[ds.mitochondria.cellid != pyramidal_id]
    fig, info, msg, _ = view3d.cell_view(dataclasses.replace(xdata, ds=ds), str(pyramidal_id))
    assert "has no mitochondria" in msg and not [t for t in fig["data"] if str(t.get("legendgroup", "")).startswith("mito-")]


def test_scatter_view_rejects_unknown_columns(xdata, pyramidal_id):
    bad = scatter.scatter_view(xdata, str(pyramidal_id), "__class__", "volume_um3", "compartment", [], "cell")
    assert "Pick two measures" in bad.layout.annotations[0].text
    fig = scatter.scatter_view(xdata, str(pyramidal_id), "volume_um3", "pc1_um", "compartment", ["log x"], "cell")
    assert sum(len(t.x) for t in fig.data[1:]) == (xdata.mitos.cellid == pyramidal_id).sum()


def test_a_selection_is_drawn_strongly_and_the_rest_dimmed(xdata, pyramidal_id):
    fig, *_ = view3d.cell_view(xdata, str(pyramidal_id), False)
    roles = view3d.trace_roles(fig)
    assert roles["meshes"] and all(fig["data"][i]["type"] == "mesh3d" for i in roles["meshes"])
    mine = xdata.mitos[xdata.mitos.cellid == pyramidal_id]
    ids = mine["mito_id"].iloc[:3].tolist()
    ops = {tuple(o["location"]): o["params"]["value"] for o in view3d.highlight_3d(xdata, str(pyramidal_id), ids + [1], roles)
           .to_plotly_json()["operations"]}  # fmt: skip
    assert all(len(ops[("data", 0, a)]) == 3 for a in "xyz")  # the selection's centres, ringed
    meshes = xdata.display_meshes(pyramidal_id)
    n_vertices = int(np.diff(meshes.vertex_offsets)[np.isin(meshes.ids, ids)].sum())
    assert len(ops[("data", 1, "x")]) == len(ops[("data", 1, "vertexcolor")]) == n_vertices > 0  # their meshes, opaque
    assert {ops[("data", i, "opacity")] for i in roles["meshes"]} == {view3d.DIMMED}  # the rest dimmed
    assert {ops[("data", i, "marker", "opacity")] for i in roles["centres"]} == {view3d.DIMMED}
    comps = mine.set_index("mito_id").loc[ids, "compartment"]
    assert ops[("data", 0, "marker", "color")] == [COMPARTMENT_COLORS[c] for c in comps]  # in their own colours
    clear = {tuple(o["location"]): o["params"]["value"] for o in view3d.highlight_3d(xdata, str(pyramidal_id), [], roles)
             .to_plotly_json()["operations"]}  # fmt: skip
    assert {clear[("data", i, "opacity")] for i in roles["meshes"]} == {1.0} and clear[("data", 1, "x")] == []


def mito_annotations(state: dict) -> list[dict]:
    """Point annotations of the selection's layers (one per compartment)."""
    return [a for layer in state["layers"] if layer["type"] == "annotation" and layer["name"] != "synapses"
            for a in layer["annotations"]]  # fmt: skip


def test_selection_panel_link_contains_the_points(xdata, pyramidal_id):
    rows = xdata.mitos[xdata.mitos.cellid == pyramidal_id].iloc[:4]
    summary, href, text, _, msg = selpanel.selection_panel(
        xdata, {"ids": rows.mito_id.astype(str).tolist()}, str(pyramidal_id), OPTS, HOST
    )
    assert href == text and href.startswith(VIEWER) and msg == ""
    state = decode_state(href)
    ann = mito_annotations(state)
    got = np.array(sorted(a["point"] for a in ann))
    # voxel indices of the release (nm / 3.58, 3.58, 40) in a layer declared at 4 x 4 x 40 nm
    want = np.array(sorted((rows[["x", "y", "z"]].to_numpy() / [3.58, 3.58, 40]).tolist()))
    assert np.abs(got - want).max() < 0.02  # nglui stores float32
    source = next(layer for layer in state["layers"] if layer["type"] == "annotation")["source"][0]
    assert source["transform"]["outputDimensions"]["x"] == [4e-09, "m"]
    assert {a["description"] for a in ann} == {f"mito {m} {c}" for m, c in zip(rows.mito_id, rows.compartment)}
    assert not any(layer["type"] == "segmentation" for layer in state["layers"])  # synthetic ids
    assert state["dimensions"]["z"] == [4e-08, "m"]


def test_selection_panel_empty_and_capped(xdata):
    summary, href, _, _, _ = selpanel.selection_panel(xdata, {"ids": []}, None, OPTS, HOST)
    assert href is None and "Nothing selected" in summary
    ids = xdata.mitos.mito_id.iloc[: MAX_POINTS + 20].astype(str).tolist() + ["; rm -rf /"]
    summary, href, _, _, msg = selpanel.selection_panel(xdata, {"ids": ids}, None, OPTS, HOST)
    assert f"first {MAX_POINTS} of {MAX_POINTS + 20}" in msg
    ann = mito_annotations(decode_state(href))
    assert len(ann) == MAX_POINTS


def test_real_ids_get_the_segmentation_layer():
    pts = pd.DataFrame({"id": [1], "x": [3e5], "y": [2e5], "z": [4e4], "description": ["mito 1 Basal"]})
    link = neuroglancer_link(pts, [648518346349538237], viewer_url=VIEWER)
    seg = [layer for layer in decode_state(link.url)["layers"] if layer["type"] == "segmentation"]
    assert seg and seg[0]["segments"] == ["648518346349538237"]
    assert np.allclose(decode_state(link.url)["position"], [3e5 / 3.58, 2e5 / 3.58, 4e4 / 40], rtol=1e-6)


def test_link_points_land_on_the_published_voxels_of_real_mitochondria():
    """Real rows of 211019_mitochondria_info.csv: the link's points are their ctr_pos_*_vx."""
    from builder.sources.published import read_mito_table
    from tests.conftest import PHASE1_ROWS

    path = PHASE1_ROWS / "211019_mitochondria_info_sample.csv"
    rows = read_mito_table(path, []).assign(description="m")
    link = neuroglancer_link(rows, rows.cellid.tolist(), viewer_url=VIEWER, mito_ids=rows.mito_id.tolist())
    state = decode_state(link.url)
    ann = mito_annotations(state)
    published = pd.read_csv(path)[["ctr_pos_x_vx", "ctr_pos_y_vx", "ctr_pos_z_vx"]].to_numpy()
    assert np.abs(np.array([a["point"] for a in ann]) - published).max() < 0.01
    mito = next(layer for layer in state["layers"] if layer["name"] == "mitochondria")
    assert mito["segments"] == [str(m) for m in rows.mito_id] and "pinky100-mito/seg_191220" in mito["source"][0]["url"]
    em = next(layer for layer in state["layers"] if layer["type"] == "image")
    assert em["source"][0]["url"].endswith("pinky100_v0/son_of_alignment_v15_rechunked")


def test_link_layers_by_compartment_and_synapses_linked_to_both_partners(xdata, pyramidal_id):
    from explorer.palette import COMPARTMENT_COLORS

    rows = xdata.mitos[xdata.mitos.cellid == pyramidal_id].groupby("compartment").head(2)
    _, href, _, _, _ = selpanel.selection_panel(xdata, {"ids": rows.mito_id.astype(str).tolist()}, str(pyramidal_id), OPTS, HOST)
    layers = {layer["name"]: layer for layer in decode_state(href)["layers"] if layer["type"] == "annotation"}
    for comp, g in rows.groupby("compartment"):
        layer = layers[f"mitochondria: {comp}"]
        assert len(layer["annotations"]) == len(g)
        assert (
            f'color(default="{COMPARTMENT_COLORS[comp]}")' in layer["shader"]
            and "setColor(vec4(colour, opacity))" in layer["shader"]
        )
    syn = xdata.ds.cell_synapses(pyramidal_id)
    ann = layers["synapses"]["annotations"]
    assert len(ann) == min(len(syn), MAX_POINTS)
    first = syn.iloc[0]
    assert ann[0]["segments"] == [[str(first.pre_root_id), str(first.post_root_id)]]
    # with real ids, the synapse layer is linked to the segmentation: both partners light up
    pts = pd.DataFrame({"id": [1], "x": [3e5], "y": [2e5], "z": [4e4], "description": ["mito 1 Basal"], "compartment": ["Basal"]})
    real = pd.DataFrame({"x": [3e5], "y": [2e5], "z": [4e4], "synapse_type": ["post"],
                         "pre_root_id": [648518346349538100], "post_root_id": [648518346349538237]})  # fmt: skip
    state = decode_state(neuroglancer_link(pts, [648518346349538237], viewer_url=VIEWER, synapses=real).url)
    synl = next(layer for layer in state["layers"] if layer["name"] == "synapses")
    assert synl["linkedSegmentationLayer"] == {"segments": "seg"}
    assert synl["annotations"][0]["segments"] == [["648518346349538100", "648518346349538237"]]


def test_export_csv(xdata):
    ids = xdata.mitos.mito_id.iloc[:5].tolist()
    out = selpanel.export_csv(xdata, {"ids": [str(i) for i in ids]})
    assert out["filename"].endswith(".csv") and len(out["content"].strip().splitlines()) == 6
    assert selpanel.export_csv(xdata, {"ids": []}) is None


def test_compartments_view_scopes(xdata, pyramidal_id):
    rows = cells.table_rows(xdata, ["pyramidal"], None, None)
    fig, tests = compartments.compartments_view(xdata, str(pyramidal_id), "table", rows)
    assert "cells in the table" in fig.layout.title.text
    fig, tests = compartments.compartments_view(xdata, None, "cell", rows)
    assert "Pick a cell" in fig.layout.annotations[0].text and tests == []


def test_compartments_view_reports_the_published_mann_whitney_tests(xdata):
    from scipy import stats

    _, block = compartments.compartments_view(xdata, None, "all", [])
    rows = [[c.children for c in tr.children] for tr in block[0].children]
    assert rows[0] == ["measure", "test", "U", "p", "n", "ratio of medians [95 % over cells]"]
    vol = {r[1]: r for r in rows[1:] if r[0] == "volume"}
    assert list(vol) == ["Axonal < Somatic", "Somatic < Apical", "Apical < Basal"]
    m = xdata.mitos[xdata.mitos.compartment_method == "vertex vote"]
    u, p = stats.mannwhitneyu(
        m.volume_um3[m.compartment == "Axonal"], m.volume_um3[m.compartment == "Somatic"], alternative="less"
    )
    assert vol["Axonal < Somatic"][2] == f"{u:.4g}" and vol["Axonal < Somatic"][3] == f"{p:.3g}"


def test_clicked_mito(xdata):
    mid = int(xdata.mitos.mito_id.iloc[0])
    assert view3d.clicked_mito(xdata, {"points": [{"customdata": str(mid)}]}) == mid
    assert view3d.clicked_mito(xdata, {"points": [{"customdata": "x"}]}) is None
    assert view3d.clicked_mito(xdata, None) is None


def test_click_highlights_in_scatter_and_shows_the_row(xdata):
    row = xdata.mitos.iloc[7]
    click = {"ids": [str(row.mito_id)], "source": "click"}  # what a 3D click puts in the selection store
    ops = scatter.highlight_scatter_ids(xdata, click, "volume_um3", "pc1_um").to_plotly_json()["operations"]
    got = {tuple(o["location"]): o["params"]["value"] for o in ops}
    assert got == {("data", 0, "x"): [row.volume_um3], ("data", 0, "y"): [row.pc1_um]}
    assert scatter.highlight_scatter_ids(xdata, click, "__init__", "pc1_um") is no_update  # not a column: nothing to move
    table = view3d.mito_row_table(xdata, int(row.mito_id))
    assert str(row.mito_id) in table[0].children and len(table[1].children) == len(xdata.mitos.columns)


def test_scatter_selection_from_browser_ids(xdata):
    ids = xdata.mitos.mito_id.iloc[:3].astype(str).tolist()
    sel = scatter.selection_from_ids({"ids": ids + ["x; drop"], "total": 25_000})
    assert sel["ids"] == ids and sel["total"] == 25_000
    summary, href, _, _, msg = selpanel.selection_panel(xdata, sel, None, OPTS, HOST)
    assert "25,000" in msg and "3 mitochondria selected" in summary
    assert scatter.selection_from_ids(None) == {"ids": [], "source": "scatter"}
    assert str(scatter.MAX_SELECTION) in scatter.SCATTER_IDS_JS  # the browser caps what it sends


def test_scatter_key_names_what_the_scatter_shows():
    """Equal keys mean equal figures: picking cells while the scatter shows all of them does not
    rebuild (and the browser does not redraw) its points; in one-cell scope it does."""
    key = scatter.scatter_key
    base = ("volume_um3", "complexityindex", "compartment", ["log x", "log y"])
    assert key("123", *base, "all") == key("456", *base, "all") == key(None, *base, "all")
    assert key("123", *base, "cell") != key("456", *base, "cell")
    assert key(None, *base, "cell") == key(None, *base, "all")  # no cell picked: every cell
    assert key("123", *base, "cell") != key("123", *base, "all")
    assert key("1", "volume_um3", "complexityindex", "compartment", ["log y", "log x"], "cell") == key("1", *base, "cell")
    assert key("1", "volume_um3", "complexityindex", "cell_type", ["log x", "log y"], "cell") != key("1", *base, "cell")
    assert key("1", "volume_um3", "complexityindex", "compartment", [], "cell") != key("1", *base, "cell")
    assert key("1", "pc1_um", "complexityindex", "compartment", ["log x", "log y"], "cell") != key("1", *base, "cell")


def test_the_scatter_shows_synapses_with_their_nearest_mitochondrion(xdata, pyramidal_id):
    cols, x, cols_y, y = scatter.scatter_axes(xdata, "synapses")
    assert [c["value"] for c in cols] == ["size", "nearest_mito_path_um", "path_dist_to_soma_um"]
    assert (x, y) == ("nearest_mito_path_um", "size")
    assert cols[0]["label"] == "synaptic cleft size (voxels)"  # words and unit, not the column name
    fig = scatter.scatter_view(xdata, str(pyramidal_id), x, y, "compartment", [], "cell", "synapses")
    syn = xdata.ds.cell_synapses(pyramidal_id)
    data = [t for t in fig.data[1:]]
    assert sum(len(t.x) for t in data) == len(syn) and all(t.customdata is None for t in fig.data)  # no mito ids to select
    assert sorted(float(v) for t in data for v in t.y) == pytest.approx(sorted(syn["size"].astype(float)))
    assert scatter.scatter_axes(xdata, "mitochondria")[1:2] == (xdata.scatter_defaults()[0],)
    # a selection of mitochondria is not drawn over synapses
    assert scatter.highlight_scatter_ids(xdata, {"ids": ["1"], "source": "click"}, "size", "size", "synapses") is no_update
    assert scatter.scatter_key(str(pyramidal_id), x, y, "compartment", [], "cell", "synapses") != scatter.scatter_key(
        str(pyramidal_id), x, y, "compartment", [], "cell", "mitochondria"
    )


def test_the_first_draw_is_light_and_the_meshes_follow(xdata, pyramidal_id):
    """The cell is drawn from its skeleton and the mitochondria's centres; the meshes and any
    hidden synapses are not sent with it, and arrive as patches."""
    import base64

    from plotly.io.json import to_json_plotly

    fig, _, _, switch = view3d.cell_view(xdata, str(pyramidal_id), False)
    roles = view3d.trace_roles(fig)
    assert all(len(fig["data"][i]["x"]) == 0 for i in roles["meshes"] + roles["synapses"]) and switch == []
    light = len(to_json_plotly(fig))
    ops = {tuple(o["location"]): o["params"]["value"] for o in view3d.mesh_patch(xdata, roles).to_plotly_json()["operations"]}
    meshes = xdata.display_meshes(pyramidal_id)
    n = sum(len(base64.b64decode(ops[("data", i, "x")]["bdata"])) // 4 for i in roles["meshes"])
    assert n == len(meshes.vertices)  # every display mesh vertex, as float32
    # no Mesh3d is shown in the first draw (even empty, it would build its WebGL programs then):
    # the mitochondria's and the soma's are sent hidden, and the patch fills and shows them
    assert [t.get("name") for t in fig["data"] if t["type"] == "mesh3d" and t.get("visible", True) is not False] == []
    assert len(roles["soma"]) == 1 and fig["data"][roles["soma"][0]]["name"] == "soma"
    assert all(ops[("data", i, "visible")] is True for i in roles["meshes"] + roles["soma"])
    soma = view3d.soma_mesh(xdata.display_skeleton(pyramidal_id))
    i = roles["soma"][0]
    assert np.array_equal(np.frombuffer(base64.b64decode(ops[("data", i, "x")]["bdata"]), "<f4"), soma["x"])
    assert np.array_equal(np.frombuffer(base64.b64decode(ops[("data", i, "k")]["bdata"]), "<u2"), soma["k"])
    # the compartments' legend entries are their centres, shown from the first draw
    legend = [t["name"] for t in fig["data"] if t.get("showlegend") and str(t.get("legendgroup", "")).startswith("mito-")]
    assert [fig["data"][i]["name"] for i in roles["centres"] if fig["data"][i].get("showlegend")] == legend and legend
    assert light < 0.5 * (light + sum(len(str(v)) for v in ops.values()))  # the meshes were the larger part
    shown = {
        tuple(o["location"]): o["params"]["value"]
        for o in view3d.synapse_patch(xdata, roles, True).to_plotly_json()["operations"]
    }
    n_syn = sum(len(shown[("data", i, "customdata")]) for i in roles["synapses"])
    assert n_syn == len(xdata.ds.cell_synapses(pyramidal_id)) and all(
        shown[("data", i, "visible")] is True for i in roles["synapses"]
    )
    hidden = {
        tuple(o["location"]): o["params"]["value"]
        for o in view3d.synapse_patch(xdata, roles, False).to_plotly_json()["operations"]
    }
    assert all(hidden[("data", i, "x")] == [] and hidden[("data", i, "visible")] == "legendonly" for i in roles["synapses"])
