"""The demonstration notebook: stored without outputs, and runs headless on a built dataset."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "demonstration.ipynb"


def test_outputs_are_stripped_in_git():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_notebook_runs_on_the_small_demo(small_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv("L23_DATASET", str(small_dataset))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"{small_dataset.resolve()}: parquet layout, synthetic=True" in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # three cells, compartments, distance plot
    nbformat.write(nb, tmp_path / "executed.ipynb")


def test_copied_into_the_dataset(small_dataset):
    copy = small_dataset / "demonstration.ipynb"
    assert copy.read_bytes() == NOTEBOOK.read_bytes()
    assert "demonstration.ipynb" in json.loads((small_dataset / "manifest.json").read_text())["files"]
