"""Shared test fixtures.

Data that nobody on the project made lives in ``../shared/data`` beside the checkout (CI
puts it there); tests that need it skip with a clear reason when it is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLE_VIDEOS = REPO_ROOT / "sample_videos"
GAITSYNTH = REPO_ROOT.parent / "shared" / "tools" / "gaitsynth.py"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test when it is not beside the checkout."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (CI provides ../shared beside the checkout)")
    return SHARED_DATA


def load_gaitsynth(module_name: str) -> Any:
    """The shared renderer ``../shared/tools/gaitsynth.py`` loaded as ``module_name``, or skip
    the test when it is not beside the checkout."""
    import importlib.util
    import sys

    if not GAITSYNTH.is_file():
        pytest.skip(f"gaitsynth not found at {GAITSYNTH} (CI provides ../shared beside the checkout)")
    spec = importlib.util.spec_from_file_location(module_name, GAITSYNTH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def shared_truth_files() -> list[Path]:
    """The shared rendered suite's gaitsynth truth files, sorted; empty when ``../shared/data``
    is not beside the checkout (for parametrising)."""
    return sorted((SHARED_DATA / "synthetic").glob("*.truth.json"))


def truth_files() -> list[Path]:
    """Every gaitsynth truth file available: the bundled sample clips', then the shared
    rendered suite's when ``../shared/data`` is beside the checkout (for parametrising)."""
    return sorted(SAMPLE_VIDEOS.glob("*.truth.json")) + shared_truth_files()


def clip_name(truth_path: Path) -> str:
    """A truth file's clip name: ``.../rear_drop06.truth.json`` -> ``rear_drop06``."""
    return truth_path.name.removesuffix(".truth.json")


def truth_view(truth_path: Path) -> str:
    """The camera view a truth file was rendered with (``params.view``: rear, front, side_right...)."""
    import json

    return str(json.loads(truth_path.read_text(encoding="utf-8"))["params"]["view"])


def summary_from_truth(truth_path: Path) -> dict[str, Any]:
    """A summary dict (gaitcheck.summary.summarize) built from a gaitsynth truth file's TRUE
    per-stance values: in-image pelvic drop and knee FPPA (rear/front views), heel ahead of
    the pelvis in % leg and in-image shank angle (side views), step width in % leg, cadence
    from the true step times. No pose model or event detection is involved."""
    import json
    from types import SimpleNamespace

    import pandas as pd

    from gaitcheck.summary import summarize

    truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    view = truth["params"]["view"]
    leg_m = truth["derived"]["leg_length_m"]
    rows = []
    for stance in truth["stances"]:
        if not (stance["complete_in_clip"] and stance["in_view"]):
            continue
        row = {"side": stance["side"], "ic_time_s": stance["ic_time_s"], "complete": True}
        step_time_s = stance.get("step_time_s")
        row["cadence_spm"] = 60.0 / step_time_s if step_time_s else float("nan")
        row["contact_time_s"] = stance["contact_time_s"]
        if view in ("rear", "front"):
            row["pelvic_drop_deg"] = stance["pelvic_drop_image_peak_deg"]
            row["knee_fppa_deg"] = stance["fppa_image_peak_deg"]
            row["step_width_pct_leg"] = 100.0 * stance["step_width_m"] / leg_m if stance["step_width_m"] else None
        else:
            row["heel_ahead_pct_leg"] = stance["heel_ahead_of_pelvis_pct_leg"]
            row["shank_angle_ic_deg"] = stance["shank_angle_ic_image_deg"]
        rows.append(row)
    strides = pd.DataFrame(rows).astype({c: float for c in rows[0] if c not in ("side", "complete")})
    classification = SimpleNamespace(view=view, oblique=False)
    return summarize(strides, classification, fps=float(truth["clip"]["fps"]), backend="truth-replay")


@pytest.fixture(scope="session")
def truth_summary(shared_data: Path) -> Callable[[str], dict[str, Any]]:
    """Factory: clip name in ../shared/data/synthetic -> summary built from its truth file."""

    def build(name: str) -> dict[str, Any]:
        return summary_from_truth(shared_data / "synthetic" / f"{name}.truth.json")

    return build


@pytest.fixture(scope="session")
def sample_videos() -> Path:
    """The bundled sample clips with their truth files (always in the repository)."""
    return SAMPLE_VIDEOS


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The provisioned full pose model (``resolve_model()``); skips when none is found."""
    from gaitcheck.errors import ModelError
    from gaitcheck.pose.model import resolve_model

    try:
        return resolve_model()
    except ModelError as exc:
        pytest.skip(f"pose model not provisioned; run `gaitcheck model ensure` first ({exc})")
