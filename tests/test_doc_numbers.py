"""The deterministic numbers of the README and docs are what the code gives on the default demo
(``tools/doc_numbers.py``); a number typed into a block that has drifted fails here."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def _tool():
    spec = importlib.util.spec_from_file_location("doc_numbers", REPO / "tools" / "doc_numbers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_number_block_is_what_the_code_gives(default_dataset, default_raw):
    tool = _tool()
    want = tool.blocks(default_dataset, default_raw)
    pages = {name: (REPO / name).read_text() for name in tool.PAGES}
    assert tool.differences(pages, want) == []


def test_a_drifted_number_is_caught():
    tool = _tool()
    page = {"x.md": "before <!-- numbers: demo-counts -->40 cells<!-- /numbers --> after"}
    assert tool.differences(page, {"demo-counts": "40 cells", "demo-analysis": "t"}) == ["no page holds block 'demo-analysis'"]
    drift = tool.differences(page, {"demo-counts": "41 cells"})
    assert len(drift) == 1 and "block 'demo-counts' differs" in drift[0]
    assert (
        tool.rewrite(page["x.md"], {"demo-counts": "41 cells"})
        == "before <!-- numbers: demo-counts -->41 cells<!-- /numbers --> after"
    )
