"""Clip classification on the replayed truth of every rendered clip."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaitcheck.classify import classify_clip
from gaitcheck.errors import AnalysisError
from gaitcheck.pose.replay import read_truth, track_from_truth

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"


def _truth_files() -> list[Path]:
    files = sorted(SAMPLES.glob("*.truth.json"))
    if (SHARED / "synthetic").is_dir():
        files += sorted((SHARED / "synthetic").glob("*.truth.json"))
    return files


@pytest.mark.parametrize("truth_path", _truth_files(), ids=lambda p: p.name.split(".")[0])
def test_view_setting_and_activity_of_renders(truth_path: Path) -> None:
    truth = read_truth(truth_path)
    params = truth["params"]
    result = classify_clip(track_from_truth(truth))
    assert result.view == params["view"]
    assert result.setting == ("treadmill" if params["treadmill"] else "overground")
    assert result.activity == "running"
    if params["view"] in ("rear", "front"):
        assert result.oblique == (abs(params.get("azimuth_offset_deg") or 0.0) >= 15.0)


def test_overrides_are_used_and_listed() -> None:
    track = track_from_truth(SAMPLES / "demo_side.truth.json")
    result = classify_clip(track, view="side_left", activity="walking")
    assert (result.view, result.activity) == ("side_left", "walking")
    assert result.overridden == ("view", "activity")
    assert result.as_dict()["overridden"] == ["view", "activity"]


def test_unknown_override_raises() -> None:
    track = track_from_truth(SAMPLES / "demo_side.truth.json")
    with pytest.raises(AnalysisError, match="view must be one of"):
        classify_clip(track, view="top")
