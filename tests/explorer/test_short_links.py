"""Short neuroglancer links: the state as a content-addressed file, named by the link."""

from __future__ import annotations

import json
import shutil

from explorer.data import ExplorerData
from explorer.links import LinkOptions, StateStore, decode_state, stable_ids
from explorer.panels.selection import selection_panel

HOST = "http://127.0.0.1:8050/"


def _selection(data: ExplorerData, cell: int, n: int = 130) -> dict:
    return {"ids": data.mitos.loc[data.mitos.cellid == cell, "mito_id"].astype(str).tolist()[:n]}


def test_links_name_their_state_instead_of_carrying_it(xdata, small_dataset, pyramidal_id, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    long_opts = LinkOptions(viewer_url="https://ng.example/", published="gs://bucket/l23", dataset=ds,
                            public_reachable=lambda: False)  # fmt: skip
    short_opts = LinkOptions(**{**long_opts.__dict__, "states": StateStore(ds / "states")})
    sel = _selection(xdata, pyramidal_id)
    before = set((ds / "states").glob("*.json"))  # the copied dataset may hold states of other tests' explorers
    _, long_shared, _, long_offline, _ = selection_panel(xdata, sel, str(pyramidal_id), long_opts, HOST)
    _, shared, _, offline, msg = selection_panel(xdata, sel, str(pyramidal_id), short_opts, HOST)
    name = shared.rsplit("/", 1)[1]
    assert shared == f"https://ng.example/#!gs://bucket/l23/states/{name}" and len(long_shared) > 20 * len(shared)
    assert json.loads((ds / "states" / name).read_text()) == stable_ids(decode_state(long_shared))  # the same state, in a file
    assert offline.startswith(f"{HOST}offline-viewer#!{HOST}states/") and len(offline) < 200 < len(long_offline)
    assert "not uploaded yet: run `python -m builder publish" in msg  # publish has not run since
    again = selection_panel(xdata, sel, str(pyramidal_id), short_opts, HOST)[1]
    assert again == shared and len(set((ds / "states").glob("*.json")) - before) == 2  # content-addressed: written once
    from builder.__main__ import main

    assert main(["publish", str(ds), f"file://{tmp_path / 'pub'}"]) == 0
    assert (tmp_path / "pub" / "states" / name).read_bytes() == (ds / "states" / name).read_bytes()


def test_a_read_only_dataset_keeps_long_links(xdata, small_dataset, pyramidal_id, tmp_path, monkeypatch):
    from builder.errors import OutputWriteError
    from builder.store import atomic

    def refuse(path, data):
        raise OutputWriteError(path, OSError(30, "Read-only file system"))

    monkeypatch.setattr(atomic, "write_bytes", refuse)
    opts = LinkOptions(dataset=small_dataset, public_reachable=lambda: False, states=StateStore(tmp_path / "states"))
    summary, _, _, offline, _ = selection_panel(xdata, _selection(xdata, pyramidal_id, 10), str(pyramidal_id), opts, HOST)
    assert "10 mitochondria selected" in summary and len(decode_state(offline)["layers"]) > 2
