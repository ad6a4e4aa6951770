"""The researcher notebook runs from top to bottom without an error."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "batch_research.ipynb"


@pytest.mark.slow
def test_research_notebook_executes(model_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the test extra (nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the test extra (nbclient)")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1
