"""The state of links that carry the dataset's own layers (offline viewer, published copy)."""

from __future__ import annotations

import pandas as pd

from explorer.data import ExplorerData
from explorer.links import MAX_POINTS, PHASE1_EM, SYNAPSE_COLOR, LinkOptions, decode_state
from explorer.palette import COMPARTMENT_COLORS
from explorer.panels.selection import selection_panel

HOST = "http://127.0.0.1:8050/"


def _layers(url: str) -> dict[str, dict]:
    return {layer["name"]: layer for layer in decode_state(url)["layers"]}


def _cell_selection(xdata: ExplorerData, cell: int) -> dict:
    return {"ids": xdata.mitos.loc[xdata.mitos.cellid == cell, "mito_id"].astype(str).tolist()}


def test_offline_link_shows_the_datasets_layers_from_this_explorer(xdata, small_dataset, pyramidal_id):
    opts = LinkOptions(dataset=small_dataset, public_reachable=lambda: False)
    _, shared, _, offline, _ = selection_panel(xdata, _cell_selection(xdata, pyramidal_id), str(pyramidal_id), opts, HOST)
    assert offline.startswith(HOST + "offline-viewer#!")
    layers = _layers(offline)
    for name, layer in (("cells", "skeletons"), ("mitochondrion meshes", "mitochondria"), ("synapses", "synapses"),
                        ("mitochondrion centres", "mito_centres")):  # fmt: skip
        assert layers[name]["source"][0]["url"] == f"precomputed://{HOST}precomputed/{layer}"
    assert "em" not in layers and "seg" not in layers  # the public layers cannot be reached
    cells = layers["cells"]
    assert cells["segments"] == [str(pyramidal_id)]
    shader = cells["skeletonRendering"]["shader"]
    assert "compartment" in shader and all(c in shader for c in ("#CC79A7", "#0072B2", "#009E73", "#E69F00"))
    syn = layers["synapses"]
    assert syn["linkedSegmentationLayer"] == {"pre": "cells", "post": "cells"} and syn["filterBySegmentation"] == ["pre", "post"]
    assert SYNAPSE_COLOR in syn["shader"] and "annotations" not in syn  # the dataset's layer, not points in the link
    assert layers["mitochondrion centres"]["linkedSegmentationLayer"] == {"cell": "cells"}
    state = decode_state(offline)
    assert state["layout"] == "3d"  # no EM to cut sections of: the 3D view alone
    # the shared link keeps the public viewer and the public EM, and has no dataset layers unless published
    assert shared.startswith("https://") and PHASE1_EM in shared and "cells" not in _layers(shared)


def test_mesh_layer_colours_the_meshed_mitochondria_in_their_compartments_colour(xdata, small_dataset, pyramidal_id):
    opts = LinkOptions(dataset=small_dataset, public_reachable=lambda: False)
    sel = _cell_selection(xdata, pyramidal_id)
    layers = _layers(selection_panel(xdata, sel, str(pyramidal_id), opts, HOST)[3])
    colours = layers["mitochondrion meshes"]["segmentColors"]
    rows = xdata.mito_rows([int(i) for i in sel["ids"]])
    meshed = rows[rows["mesh_missing"] == ""]
    carried = rows.iloc[:MAX_POINTS]  # a link carries the first MAX_POINTS points; of those, the meshed ones
    assert set(colours) == {str(m) for m in carried.loc[carried["mesh_missing"] == "", "mito_id"]}
    want = {str(m): COMPARTMENT_COLORS[c].lower() for m, c in zip(meshed["mito_id"], meshed["compartment"].astype(str))}
    assert {k: v.lower() for k, v in colours.items()} == {k: want[k] for k in colours}


def test_a_mitochondrion_without_a_mesh_is_left_out_of_the_mesh_layer(small_dataset):
    from explorer.links import DatasetLayers, neuroglancer_link

    pts = pd.DataFrame({"id": [1, 2], "x": [1e5, 1e5], "y": [1e5, 1e5], "z": [4e4, 4e4], "description": ["a", "b"],
                        "compartment": ["Basal", "Axonal"], "has_mesh": [True, False]})  # fmt: skip
    layers = DatasetLayers.of(HOST + "precomputed", small_dataset)
    state = decode_state(neuroglancer_link(pts, [5], viewer_url=HOST, layers=layers, public=False).url)
    mesh = next(layer for layer in state["layers"] if layer["name"] == "mitochondrion meshes")
    assert mesh["segments"] == ["1"]
    pts["has_mesh"] = False  # no meshed mitochondrion at all: no mesh layer (its chunks would be "not found")
    state = decode_state(neuroglancer_link(pts, [5], viewer_url=HOST, layers=layers, public=False).url)
    assert "mitochondrion meshes" not in [layer["name"] for layer in state["layers"]]


def test_offline_link_adds_the_public_layers_when_they_answer(xdata, small_dataset, pyramidal_id):
    opts = LinkOptions(dataset=small_dataset, public_reachable=lambda: True)
    state = decode_state(selection_panel(xdata, _cell_selection(xdata, pyramidal_id), str(pyramidal_id), opts, HOST)[3])
    names = [layer["name"] for layer in state["layers"]]
    assert names[0] == "em" and "cells" in names and state.get("layout") != "3d"  # sections of the EM beside the 3D view


def test_shared_link_points_at_the_published_copy(xdata, small_dataset, pyramidal_id):
    opts = LinkOptions(dataset=small_dataset, published="gs://lab-bucket/l23")
    shared = selection_panel(xdata, _cell_selection(xdata, pyramidal_id), str(pyramidal_id), opts, HOST)[1]
    layers = _layers(shared)
    assert layers["cells"]["source"][0]["url"] == "precomputed://gs://lab-bucket/l23/skeletons"
    assert "em" in layers and shared.startswith("https://")


def test_the_bundled_client_is_served_with_the_url_hash_written_back_after_the_restore():
    """The installed client has the debounce explorer.viewer patches, exactly once (a new client
    release without it makes this fail: check whether its restore still drops layers)."""
    import importlib.resources
    import re

    from explorer.viewer import _HASH_WRITE_MAXWAIT, patch_client_script

    client = importlib.resources.files("neuroglancer.static").joinpath("client")
    (main,) = [f for f in client.iterdir() if re.fullmatch(r"main\.[0-9a-f]+\.js", f.name)]
    data = main.read_bytes()
    assert len(_HASH_WRITE_MAXWAIT.findall(data)) == 1
    patched = patch_client_script(main.name, data)
    assert not _HASH_WRITE_MAXWAIT.search(patched) and b"()=>this.setUrlHash()," in patched
    delay = _HASH_WRITE_MAXWAIT.search(data).group(1)
    assert len(data) - len(patched) == len(b",{maxWait:2*}" + delay)  # nothing else changed
    assert patch_client_script("index.html", data) is data
    assert patch_client_script(main.name, b"other code") == b"other code"  # unpatched, with a warning
