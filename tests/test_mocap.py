"""Real running (RBDS001 markers, treadmill 2.5 m/s) projected into virtual cameras.

The 3D answer comes from the markers themselves (gaitcheck.pose.mocap.mocap_truth); the
image-based classification and event code must agree with it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gaitcheck.classify import classify_clip
from gaitcheck.clean import clean_track
from gaitcheck.errors import InputError
from gaitcheck.events import cadence_spm, detect_stances
from gaitcheck.pose.mocap import MarkerData, project_mocap, read_markers
from gaitcheck.track import PoseTrack

MOCAP = Path(__file__).resolve().parents[2] / "shared" / "data" / "mocap"
RUN, STATIC = MOCAP / "RBDS001runT25markers.txt", MOCAP / "RBDS001static.txt"


@pytest.fixture(scope="module")
def trials() -> tuple[MarkerData, MarkerData]:
    if not RUN.is_file():
        pytest.skip(f"mocap data not found at {MOCAP} (CI provides ../shared beside the checkout)")
    return read_markers(RUN), read_markers(STATIC)


@pytest.fixture(scope="module")
def projected(trials: tuple[MarkerData, MarkerData]) -> dict[str, tuple[PoseTrack, dict[str, Any], pd.DataFrame]]:
    """view -> (projected 60 fps track, 3D truth, stances found by the product path)."""
    out = {}
    for view in ("rear", "side_left", "side_right"):
        track, truth = project_mocap(*trials, view)
        classification = classify_clip(track)
        cleaned, _ = clean_track(track, classification)
        out[view] = (track, truth, detect_stances(cleaned, classification))
    return out


def _event_errors_frames(truth: dict[str, Any], stances: pd.DataFrame, event: str, fps: float) -> np.ndarray:
    """|detected - true| in frames for every true event of a kind, 0.3 s from the ends."""
    column = "ic_time_s" if event == "IC" else "to_time_s"
    end = truth["time_s"][-1]
    errors = []
    for item in truth["events"]:
        if item["event"] != event or not 0.3 < item["time_s"] < end - 0.3:
            continue
        mine = stances[(stances["side"] == item["side"]) & (stances["complete"] | (event == "IC"))]
        errors.append(np.min(np.abs(mine[column].to_numpy() - item["time_s"])) * fps)
    return np.array(errors)


def test_reader_finds_rate_and_markers(trials: tuple[MarkerData, MarkerData]) -> None:
    run, static = trials
    assert run.rate_hz == pytest.approx(150.0, rel=1e-3)
    assert run.time_s.size == 4500
    assert {"R.ASIS", "L.PSIS", "R.Heel.Bottom", "L.MT1"} <= set(run.positions_m)
    assert {"R.Knee", "L.Ankle.Medial"} <= set(static.positions_m)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="marker file not found"):
        read_markers(tmp_path / "nope.txt")


def test_truth_obliquity_and_cadence(projected: dict[str, tuple[PoseTrack, dict[str, Any], pd.DataFrame]]) -> None:
    """Data set facts: pelvic obliquity about +/-4.5 deg around standing, ~157 steps/min."""
    _, truth, _ = projected["rear"]
    low, high = np.nanpercentile(truth["pelvic_obliquity_rel_static_deg"], [2, 98])
    assert -5.5 < low < -3.5 and 3.5 < high < 5.5
    sides = [item["side"] for item in truth["events"] if item["event"] == "IC"]
    assert all(a != b for a, b in itertools.pairwise(sides))
    assert 150 < truth["cadence_spm"] < 165


@pytest.mark.parametrize("view", ["rear", "side_left", "side_right"])
def test_view_and_cadence_from_projection(
    projected: dict[str, tuple[PoseTrack, dict[str, Any], pd.DataFrame]], view: str
) -> None:
    track, truth, stances = projected[view]
    classification = classify_clip(track)
    assert (classification.view, classification.setting, classification.activity) == (view, "treadmill", "running")
    assert cadence_spm(stances) == pytest.approx(truth["cadence_spm"], abs=1.0)


@pytest.mark.parametrize("view", ["side_left", "side_right"])
def test_side_events_match_markers(
    projected: dict[str, tuple[PoseTrack, dict[str, Any], pd.DataFrame]], view: str
) -> None:
    track, truth, stances = projected[view]
    for event in ("IC", "TO"):
        errors = _event_errors_frames(truth, stances, event, track.fps)
        assert errors.size > 60
        assert np.median(errors) <= 1.0, f"{event} median error {np.median(errors):.2f} frames"


def test_rear_toe_off_matches_markers(projected: dict[str, tuple[PoseTrack, dict[str, Any], pd.DataFrame]]) -> None:
    track, truth, stances = projected["rear"]
    errors = _event_errors_frames(truth, stances, "TO", track.fps)
    assert np.median(errors) <= 1.0


def test_rear_initial_contact_matches_markers(
    projected: dict[str, tuple[PoseTrack, dict[str, Any], pd.DataFrame]],
) -> None:
    """RBDS001 lands on the forefoot: the rear view must notice and still time IC."""
    track, truth, stances = projected["rear"]
    errors = _event_errors_frames(truth, stances, "IC", track.fps)
    assert np.median(errors) <= 1.0
