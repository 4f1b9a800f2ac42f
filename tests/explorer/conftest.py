from __future__ import annotations

import pytest

from explorer.data import ExplorerData


@pytest.fixture(scope="session")
def xdata(small_dataset) -> ExplorerData:
    return ExplorerData.load(small_dataset)


@pytest.fixture(scope="session")
def pyramidal_id(xdata) -> int:
    c = xdata.ds.cells
    return int(c.loc[c.cell_type == "pyramidal"].sort_values("n_mito").cell_id.iloc[-1])
