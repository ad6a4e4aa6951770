"""Cleaning: swaps, gaps, outliers and low visibility injected into a true track are repaired;
the metric track keeps the stance peaks of true landmarks."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE_VIDEOS as SAMPLES
from conftest import clip_name, shared_truth_files, truth_view
from gaitcheck import skeleton
from gaitcheck.classify import ClipClassification
from gaitcheck.clean import clean_track, clean_tracks, filter_cutoff_hz, metric_filter_cutoff_hz
from gaitcheck.pipeline import analyze_track
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PoseTrack

#: Rear and front renders of the shared synthetic suite (30 and 60 fps), by name.
FRONTAL_CLIPS = tuple(clip_name(path) for path in shared_truth_files() if truth_view(path) in ("rear", "front"))
#: Acceptance: per-stance knee FPPA and in-image pelvic drop within this of the truth.
PEAK_TOLERANCE_DEG = 0.5
MATCH_WINDOW_S = 0.15
SIDE = ClipClassification(view="side_right", oblique=False, setting="treadmill", activity="running")
SWAPPED_PARTS = ("knee", "ankle", "heel", "foot_index")


@pytest.fixture(scope="module")
def true_side() -> PoseTrack:
    """True landmarks of the bundled side-view render (60 fps, 480 frames)."""
    return track_from_truth(SAMPLES / "demo_side.truth.json")


def _with_image(track: PoseTrack, image: np.ndarray) -> PoseTrack:
    return track.replace(image_xyz=image)


def _swap_legs(image: np.ndarray, frames: np.ndarray) -> None:
    for part in SWAPPED_PARTS:
        left, right = skeleton.index(f"left_{part}"), skeleton.index(f"right_{part}")
        image[np.ix_(frames, [left, right])] = image[np.ix_(frames, [right, left])]


def test_injected_leg_swaps_are_repaired(true_side: PoseTrack) -> None:
    """Three runs of swapped leg labels (1, 4 and 8 frames), away from where the legs cross."""
    image = np.array(true_side.image_xyz)
    swapped = np.r_[101, 180:184, 300:308]
    _swap_legs(image, swapped)
    cleaned, report = clean_track(_with_image(true_side, image), SIDE)
    assert report.frames_swap_repaired == pytest.approx(swapped.size, abs=2)
    for part in SWAPPED_PARTS:
        got = cleaned.point_px(f"left_{part}")[swapped]
        own = np.linalg.norm(got - true_side.point_px(f"left_{part}")[swapped], axis=1)
        other = np.linalg.norm(got - true_side.point_px(f"right_{part}")[swapped], axis=1)
        assert (own < other).all(), f"left {part} still swapped"


def _front_foot_gap_leg(track: PoseTrack) -> np.ndarray:
    """(T,) left minus right foot position along the image u axis, in leg lengths (true track)."""
    feet = ("ankle", "heel", "foot_index")
    left = np.mean([track.point_px(f"left_{part}")[:, 0] for part in feet], axis=0)
    right = np.mean([track.point_px(f"right_{part}")[:, 0] for part in feet], axis=0)
    legs = track.point_px("left_hip")[:, 1] - track.point_px("left_ankle")[:, 1]
    return (left - right) / np.median(np.abs(legs))


def test_label_flicker_within_a_half_stride_is_repaired(true_side: PoseTrack) -> None:
    """The pose model flips the leg labels every other frame while the feet are far apart
    (as MediaPipe does before the near foot lands): 4 of 7 frames swapped, plus one frame in
    which both feet are drawn to the same place, must not flip the half-stride."""
    gap = _front_foot_gap_leg(true_side)
    widest = int(np.argmax(np.abs(gap[60:-60]))) + 60
    swapped = widest + np.array([-3, -1, 1, 3])
    image = np.array(true_side.image_xyz)
    _swap_legs(image, swapped)
    merged = widest + 5  # both feet drawn onto the left foot for one frame
    for part in ("ankle", "heel", "foot_index"):
        image[merged, skeleton.index(f"right_{part}")] = image[merged, skeleton.index(f"left_{part}")]
    cleaned, report = clean_track(_with_image(true_side, image), SIDE)
    assert report.frames_swap_repaired >= swapped.size
    for part in SWAPPED_PARTS:
        got = cleaned.point_px(f"left_{part}")[swapped]
        own = np.linalg.norm(got - true_side.point_px(f"left_{part}")[swapped], axis=1)
        other = np.linalg.norm(got - true_side.point_px(f"right_{part}")[swapped], axis=1)
        assert (own < other).all(), f"left {part} still swapped"
    untouched = np.setdiff1d(np.arange(widest - 12, widest + 12), np.r_[swapped, merged])
    for part in SWAPPED_PARTS:
        got = cleaned.point_px(f"left_{part}")[untouched]
        own = np.linalg.norm(got - true_side.point_px(f"left_{part}")[untouched], axis=1)
        other = np.linalg.norm(got - true_side.point_px(f"right_{part}")[untouched], axis=1)
        assert (own < other).all(), f"left {part} swapped where the labels were right"


def test_clean_true_track_changes_little(true_side: PoseTrack) -> None:
    cleaned, report = clean_track(true_side, SIDE)
    assert report.frames_swap_repaired == 0
    assert report.points_rejected_outliers == 0
    legs = [skeleton.index(name) for name in skeleton.LEG_LANDMARKS]
    error_px = np.linalg.norm(cleaned.xy_px[:, legs] - true_side.xy_px[:, legs], axis=2)
    assert np.median(error_px) < 0.5
    assert error_px.max() < 6.0


def test_short_gaps_filled_long_gaps_kept(true_side: PoseTrack) -> None:
    """A 4-frame gap (0.067 s) is interpolated; a 12-frame gap (0.2 s) stays missing."""
    image = np.array(true_side.image_xyz)
    knee = skeleton.index("left_knee")
    image[200:204, knee] = np.nan
    image[300:312, knee] = np.nan
    cleaned, report = clean_track(_with_image(true_side, image), SIDE)
    filled = cleaned.point_px("left_knee")[200:204]
    assert np.isfinite(filled).all()
    assert np.linalg.norm(filled - true_side.point_px("left_knee")[200:204], axis=1).max() < 3.0
    assert np.isnan(cleaned.point_px("left_knee")[300:312]).all()
    assert report.points_gap_filled == 4
    assert report.points_left_missing >= 12


def test_outlier_spike_rejected(true_side: PoseTrack) -> None:
    image = np.array(true_side.image_xyz)
    heel = skeleton.index("right_heel")
    image[250, heel, 1] += 150.0 / true_side.height  # a 150 px jump for one frame
    cleaned, report = clean_track(_with_image(true_side, image), SIDE)
    assert report.points_rejected_outliers >= 1
    error = np.linalg.norm(cleaned.point_px("right_heel")[250] - true_side.point_px("right_heel")[250])
    assert error < 5.0


def test_low_visibility_masked(true_side: PoseTrack) -> None:
    visibility = np.array(true_side.visibility)
    visibility[120:123, skeleton.index("left_ankle")] = 0.05
    cleaned, report = clean_track(true_side.replace(visibility=visibility), SIDE)
    assert report.points_masked_low_visibility == 3
    assert report.points_gap_filled == 3  # short enough to be interpolated again
    assert np.isfinite(cleaned.point_px("left_ankle")).all()


def test_report_is_json_and_stored_in_meta(true_side: PoseTrack) -> None:
    cleaned, report = clean_track(true_side, SIDE)
    text = json.dumps(report.as_dict())
    assert json.loads(text)["filter_cutoff_hz"] == pytest.approx(12.0)
    assert cleaned.meta["cleaning"] == report.as_dict()


@pytest.mark.parametrize(("fps", "expected_hz"), [(30.0, 6.0), (60.0, 12.0), (120.0, 20.0), (240.0, 20.0)])
def test_filter_cutoff_scales_with_frame_rate(fps: float, expected_hz: float) -> None:
    assert filter_cutoff_hz(fps) == pytest.approx(expected_hz)


@pytest.mark.parametrize(("fps", "expected_hz"), [(24.0, 9.6), (30.0, 12.0), (60.0, 12.0), (120.0, 20.0)])
def test_metric_cutoff_never_below_event_cutoff(fps: float, expected_hz: float) -> None:
    assert metric_filter_cutoff_hz(fps) == pytest.approx(expected_hz)
    assert metric_filter_cutoff_hz(fps) >= filter_cutoff_hz(fps)


def test_event_track_is_the_clean_track_and_metric_track_shares_the_repairs(true_side: PoseTrack) -> None:
    image = np.array(true_side.image_xyz)
    _swap_legs(image, np.r_[180:184])
    image[200:204, skeleton.index("left_knee")] = np.nan
    raw = _with_image(true_side, image)
    cleaned, report = clean_track(raw, SIDE)
    both = clean_tracks(raw, SIDE)
    np.testing.assert_array_equal(both.events.image_xyz, cleaned.image_xyz)
    np.testing.assert_array_equal(both.events.world_xyz, cleaned.world_xyz)
    assert both.report == report
    assert report.metric_filter_cutoff_hz == pytest.approx(12.0)
    # same repairs: the swapped frames are back on their own legs, the gap filled, in both
    missing = ~np.isfinite(both.metrics.image_xyz)
    np.testing.assert_array_equal(missing, ~np.isfinite(cleaned.image_xyz))
    knee_error = np.linalg.norm(both.metrics.point_px("left_knee") - true_side.point_px("left_knee"), axis=1)
    assert knee_error[180:204].max() < 3.0


def _frontal_errors(truth: dict, strides: pd.DataFrame) -> pd.DataFrame:
    """Measured minus true FPPA and pelvic drop per complete measured stance matched to the
    true stance of the same side with the nearest IC (within :data:`MATCH_WINDOW_S`)."""
    true = pd.DataFrame(truth["stances"])
    true = true[true["complete_in_clip"] & true["in_view"]].reset_index(drop=True)
    measured = strides[strides["complete"].astype(bool)].reset_index(drop=True)
    gap_s = np.abs(measured["ic_time_s"].to_numpy()[:, None] - true["ic_time_s"].to_numpy()[None, :])
    gap_s[measured["side"].to_numpy()[:, None] != true["side"].to_numpy()[None, :]] = np.inf
    nearest = np.argmin(gap_s, axis=1)
    matched = gap_s[np.arange(len(measured)), nearest] <= MATCH_WINDOW_S
    pairs = true.iloc[nearest[matched]].reset_index(drop=True)
    ours = measured[matched].reset_index(drop=True)
    return pd.DataFrame(
        {
            "fppa": ours["knee_fppa_deg"] - pairs["fppa_image_peak_frames_deg"],
            "drop": ours["pelvic_drop_deg"] - pairs["pelvic_drop_image_peak_frames_deg"],
        }
    )


@pytest.mark.shared
@pytest.mark.parametrize("name", FRONTAL_CLIPS)
def test_true_landmarks_keep_stance_peaks_through_the_whole_pipeline(shared_data: Path, name: str) -> None:
    """Acceptance 1 on true landmarks: cleaning, detected events, metrics; every stance's knee
    FPPA and pelvic drop within 0.5 deg of the truth (the 30 fps clip lost up to 1.6 deg to a
    6 Hz low-pass before the metric track had its own cutoff)."""
    truth = read_truth(shared_data / "synthetic" / f"{name}.truth.json")
    analysis = analyze_track(track_from_truth(truth), view=truth["params"]["view"], activity="running")
    errors = _frontal_errors(truth, analysis.strides)
    n_true = sum(s["complete_in_clip"] and s["in_view"] for s in truth["stances"])
    assert len(errors) >= n_true - 2
    assert np.abs(errors["fppa"]).max() < PEAK_TOLERANCE_DEG
    assert np.abs(errors["drop"]).max() < PEAK_TOLERANCE_DEG


def test_world_coordinates_repaired_not_filtered(true_side: PoseTrack) -> None:
    """World landmarks only give the body scale: masked and swap-repaired like the pixels, not low-passed."""
    cleaned, _ = clean_track(true_side, SIDE)
    np.testing.assert_array_equal(cleaned.world_xyz, true_side.world_xyz)
    world, image = np.array(true_side.world_xyz), np.array(true_side.image_xyz)
    swapped = np.r_[180:184]
    _swap_legs(image, swapped)
    _swap_legs(world, swapped)
    repaired, report = clean_track(true_side.replace(image_xyz=image, world_xyz=world), SIDE)
    assert report.frames_swap_repaired == swapped.size
    for part in SWAPPED_PARTS:
        got = repaired.point_world(f"left_{part}")[swapped]
        own = np.linalg.norm(got - true_side.point_world(f"left_{part}")[swapped], axis=1)
        other = np.linalg.norm(got - true_side.point_world(f"right_{part}")[swapped], axis=1)
        assert (own < other).all(), f"left {part} still swapped in world coordinates"


def test_blockwise_swap_costs_equal_the_costs_of_the_whole_track() -> None:
    from gaitcheck.clean import _blockwise_swap_costs, _swap_costs

    rng = np.random.default_rng(3)
    labelled = rng.normal(size=(101, 16)).cumsum(axis=0)
    labelled[rng.random(labelled.shape) < 0.05] = np.nan
    exchanged = labelled[:, ::-1].copy()
    for block in (1, 7, 99, 4096):
        np.testing.assert_array_equal(
            _blockwise_swap_costs(labelled, exchanged, block), _swap_costs(labelled, exchanged)
        )


def test_gaps_filled_in_place_as_in_a_copy() -> None:
    from gaitcheck.clean import _fill_gap_rows

    rng = np.random.default_rng(4)
    rows = rng.normal(size=(5, 200)).cumsum(axis=1)
    rows[rng.random(rows.shape) < 0.1] = np.nan
    rows[2, 50:90] = np.nan  # a long gap stays
    filled = _fill_gap_rows(rows, 6)
    in_place = rows.copy()
    assert _fill_gap_rows(in_place, 6, in_place=True) is in_place
    np.testing.assert_array_equal(in_place, filled)
    assert np.isnan(in_place[2, 60]) and np.isnan(rows).sum() > np.isnan(filled).sum()


def test_arm_and_face_landmarks_pass_through_masked_only(true_side: PoseTrack) -> None:
    """Only the landmarks the analysis reads (legs, shoulders) are de-outliered and filtered;
    the others keep their raw coordinates, NaN where their visibility is low."""
    image, visibility = np.array(true_side.image_xyz), np.array(true_side.visibility)
    wrist, elbow = skeleton.index("left_wrist"), skeleton.index("right_elbow")
    image[250, wrist, 1] += 150.0 / true_side.height  # a spike cleaning would reject in a leg
    visibility[120:123, elbow] = 0.05
    cleaned, report = clean_track(true_side.replace(image_xyz=image, visibility=visibility), SIDE)
    assert report.points_rejected_outliers == 0
    assert report.points_masked_low_visibility == 3
    expected = image.copy()
    expected[120:123, elbow] = np.nan
    for name in ("nose", "left_wrist", "right_elbow", "left_index"):
        k = skeleton.index(name)
        np.testing.assert_array_equal(cleaned.image_xyz[:, k], expected[:, k])
    # the legs are filtered: the heel differs from the raw one somewhere
    heel = skeleton.index("right_heel")
    assert not np.array_equal(cleaned.image_xyz[:, heel, :2], image[:, heel, :2])


def test_world_coordinates_shared_when_nothing_is_repaired(true_side: PoseTrack) -> None:
    both = clean_tracks(true_side, SIDE)
    assert both.report.points_rejected_outliers == both.report.points_gap_filled == 0
    assert np.shares_memory(both.metrics.world_xyz, true_side.world_xyz)
    assert not np.shares_memory(both.metrics.image_xyz, true_side.image_xyz)


def test_two_tracks_at_30_fps_each_with_its_own_filter(true_side: PoseTrack) -> None:
    """Below 60 fps the event and metric tracks differ (6 and 12 Hz): computed in parallel, each
    equals the track filtered alone."""
    slow = true_side.select_frames(slice(None, None, 2)).replace(
        time_s=np.arange(240) / 30.0, fps=30.0, meta={"clip": "half rate"}
    )
    both = clean_tracks(slow, SIDE)
    alone, _ = clean_track(slow, SIDE)
    np.testing.assert_array_equal(both.events.image_xyz, alone.image_xyz)
    assert not np.shares_memory(both.events.image_xyz, both.metrics.image_xyz)
    knee = skeleton.index("left_knee")
    assert not np.array_equal(both.events.image_xyz[:, knee], both.metrics.image_xyz[:, knee])
    np.testing.assert_array_equal(np.isnan(both.events.image_xyz), np.isnan(both.metrics.image_xyz))


def test_hampel_skips_only_rows_that_cannot_hold_an_outlier() -> None:
    """Rows too calm to stray from their running median are not filtered, and every row gives
    the outliers of the plain Hampel rule (running median, MAD scale, floor)."""
    from scipy.ndimage import median_filter

    from gaitcheck.clean import HAMPEL_N_SIGMA, _hampel_outlier_rows

    rng = np.random.default_rng(3)
    frames = np.arange(3000)
    calm = 100.0 + 5.0 * np.sin(frames / 40.0) + rng.normal(0.0, 0.3, frames.size)
    fast = 100.0 + 300.0 * np.sin(frames / 3.0)  # big steps: its running median is computed
    spiked = calm.copy()
    spiked[[500, 1700]] += [60.0, -80.0]
    noisy = calm + rng.standard_t(2, frames.size) * 4.0  # heavy tails: the MAD scale matters
    rows = np.stack([calm, fast, spiked, noisy])
    rows[3, 100:103] = np.nan
    min_deviation = 30.0
    with ThreadPoolExecutor(max_workers=1) as pool:  # rows are shared with a second thread
        got = _hampel_outlier_rows(rows, 7, min_deviation, pool)
    bridged = np.array(rows)
    bridged[3, 100:103] = np.interp([100, 101, 102], [99, 103], rows[3, [99, 103]])
    deviation = np.abs(bridged - median_filter(bridged, size=(1, 7), mode="nearest"))
    threshold = np.maximum(HAMPEL_N_SIGMA * 1.4826 * np.median(deviation, axis=1), min_deviation)
    expected = (deviation > threshold[:, None]) & np.isfinite(rows)
    np.testing.assert_array_equal(got, expected)
    assert not got[0].any()
    assert got[2, [500, 1700]].all()


@pytest.mark.parametrize("window", [1, 3, 5, 7, 9, 11, 13])
@pytest.mark.parametrize("n_samples", [1, 2, 6, 16384, 16385, 40000])
def test_running_median_is_scipys_median_filter(window: int, n_samples: int) -> None:
    """The running median equals scipy's (edges repeating the end samples) to the bit, with
    ties, across block boundaries and for series shorter than the window."""
    from scipy.ndimage import median_filter

    from gaitcheck.filters import running_median

    rng = np.random.default_rng(window * 100_000 + n_samples)
    values = np.cumsum(rng.normal(size=n_samples))
    values[::5] = values[0]  # ties
    expected = median_filter(values, size=window, mode="nearest")
    np.testing.assert_array_equal(running_median(values, window), expected)
    out = np.empty(n_samples)
    assert running_median(values, window, out=out) is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("size", [1, 3, 5, 7, 9, 11])
def test_median_network_selects_the_median_of_every_input(size: int) -> None:
    """By the 0-1 principle a comparator network that puts the median of every 0/1 input in
    the middle position does so for every input."""
    import itertools

    from gaitcheck.filters import median_network

    inputs = np.array(list(itertools.product([0, 1], repeat=size))).T  # (size, 2**size)
    wires = list(inputs.astype(np.int8))
    for low, high, keep_min, keep_max in median_network(size):
        smaller, larger = np.minimum(wires[low], wires[high]), np.maximum(wires[low], wires[high])
        if keep_min:
            wires[low] = smaller
        if keep_max:
            wires[high] = larger
    np.testing.assert_array_equal(wires[size // 2], np.sort(inputs, axis=0)[size // 2])
