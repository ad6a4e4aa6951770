"""Clip classification on the replayed truth of every rendered clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_VIDEOS as SAMPLES
from conftest import truth_files
from gaitcheck.classify import classify_clip
from gaitcheck.errors import AnalysisError
from gaitcheck.pose.replay import read_truth, track_from_truth


@pytest.mark.parametrize("truth_path", truth_files(), ids=lambda p: p.name.split(".")[0])
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


def test_slow_cadence_reads_as_walking() -> None:
    """Feature-level check: the same render played back at 100 steps/min is classed walking.

    Relabelling the frame rate stretches time: the render's 161.6 steps/min become
    161.6 x 37.1 / 60 = 100 steps/min, a walking cadence (walking 90-125, running 150+).
    """
    track = track_from_truth(SAMPLES / "demo_side.truth.json")
    slow_fps = track.fps * 100.0 / 161.6
    slowed = track.replace(time_s=np.arange(track.n_frames) / slow_fps, fps=slow_fps)
    result = classify_clip(slowed)
    assert result.activity == "walking"
    assert result.evidence["cadence_spm"] == pytest.approx(100.0, abs=8.0)
    assert classify_clip(track).activity == "running"
