"""Gait events against gaitsynth truth (true landmarks replayed) and on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import gaitcheck.events as gaitcheck_events
from conftest import SAMPLE_VIDEOS as SAMPLES
from conftest import load_gaitsynth, truth_files
from gaitcheck.classify import ClipClassification
from gaitcheck.clean import clean_track, clean_tracks
from gaitcheck.errors import AnalysisError
from gaitcheck.events import (
    MEDIAPIPE_IC_TIMING_SD_S,
    STANCE_COLUMNS,
    cadence_spm,
    clip_cadence_spm,
    detect_stances,
    leg_length_px,
)
from gaitcheck.pose.mediapipe_backend import BACKEND_NAME as MEDIAPIPE_BACKEND
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.skeleton import LEG_LANDMARKS, index
from gaitcheck.track import PoseTrack


def _classification(view: str) -> ClipClassification:
    return ClipClassification(view=view, oblique=False, setting="treadmill", activity="running")


def _stances_of(truth_path: Path) -> tuple[dict[str, Any], PoseTrack, pd.DataFrame]:
    """Truth, true-landmark track and the stances the product path (clean, then events) finds."""
    truth = read_truth(truth_path)
    track = track_from_truth(truth)
    classification = _classification(truth["params"]["view"])
    cleaned, _ = clean_track(track, classification)
    return truth, track, detect_stances(cleaned, classification)


@pytest.mark.parametrize("truth_path", truth_files(), ids=lambda p: p.name.split(".")[0])
def test_initial_contacts_within_one_frame_of_truth(truth_path: Path) -> None:
    """Every true IC inside the clip (0.25 s from either end) is found within 1 frame."""
    truth, track, stances = _stances_of(truth_path)
    assert list(stances.columns) == list(STANCE_COLUMNS)
    fps = track.fps
    margin = 0.25 * fps
    for stance in truth["stances"]:
        ic = stance["ic_time_s"] * fps
        if not (margin < ic < track.n_frames - margin):
            continue
        mine = stances[stances["side"] == stance["side"]]
        error = np.min(np.abs(mine["ic_time_s"].to_numpy() * fps - ic))
        assert error <= 1.0, f"{stance['side']} IC at frame {ic:.1f} missed by {error:.2f} frames"


@pytest.mark.parametrize("truth_path", truth_files(), ids=lambda p: p.name.split(".")[0])
def test_toe_offs_within_one_frame_of_truth(truth_path: Path) -> None:
    """Every complete true stance inside the clip has its TO located within 1 frame."""
    truth, track, stances = _stances_of(truth_path)
    fps = track.fps
    margin = 0.25 * fps
    for stance in truth["stances"]:
        ic, to = stance["ic_time_s"] * fps, stance["to_time_s"] * fps
        if not (stance["complete_in_clip"] and margin < ic and to < track.n_frames - margin):
            continue
        mine = stances[(stances["side"] == stance["side"]) & stances["complete"]]
        error = np.min(np.abs(mine["to_time_s"].to_numpy() * fps - to))
        assert error <= 1.0, f"{stance['side']} TO at frame {to:.1f} missed by {error:.2f} frames"


@pytest.mark.parametrize("truth_path", truth_files(), ids=lambda p: p.name.split(".")[0])
def test_sides_alternate_and_cadence_matches(truth_path: Path) -> None:
    truth, _, stances = _stances_of(truth_path)
    sides = stances["side"].to_numpy()
    assert (sides[1:] != sides[:-1]).all()
    assert cadence_spm(stances) == pytest.approx(truth["summary"]["cadence_spm"], abs=1.0)


def _demo_track() -> PoseTrack:
    return track_from_truth(SAMPLES / "demo_side.truth.json")


def test_standing_still_raises() -> None:
    track = _demo_track()
    frozen = track.replace(
        image_xyz=np.repeat(track.image_xyz[:1], track.n_frames, axis=0),
        world_xyz=np.repeat(track.world_xyz[:1], track.n_frames, axis=0),
    )
    with pytest.raises(AnalysisError, match="no running or walking strides"):
        detect_stances(frozen, _classification("side_right"))


def test_too_short_raises() -> None:
    short = _demo_track().select_frames(slice(0, 40))
    with pytest.raises(AnalysisError, match=r"foot contacts found|no running or walking"):
        detect_stances(short, _classification("side_right"))


def test_legs_never_visible_raises() -> None:
    track = _demo_track()
    image = np.array(track.image_xyz)
    for name in LEG_LANDMARKS:
        image[:, index(name), :] = np.nan
    with pytest.raises(AnalysisError, match="hip, knee and ankle"):
        detect_stances(track.replace(image_xyz=image), _classification("side_right"))


def test_feet_moving_together_raises() -> None:
    """Both feet copy the left foot (a two-footed hop): no alternating steps."""
    track = _demo_track()
    image = np.array(track.image_xyz)
    for part in ("knee", "ankle", "heel", "foot_index"):
        image[:, index(f"right_{part}")] = image[:, index(f"left_{part}")]
    with pytest.raises(AnalysisError, match="no running or walking strides"):
        detect_stances(track.replace(image_xyz=image), _classification("side_right"))


def test_long_label_swap_keeps_alternation_and_timing() -> None:
    """A 25-frame swap of the leg labels (longer than the cleaning repairs) in a side view:
    the stance sides still alternate and every IC stays within 1 frame of truth."""
    truth = read_truth(SAMPLES / "demo_side.truth.json")
    track = track_from_truth(truth)
    image = np.array(track.image_xyz)
    frames = np.arange(200, 225)
    for part in ("knee", "ankle", "heel", "foot_index"):
        left, right = index(f"left_{part}"), index(f"right_{part}")
        image[np.ix_(frames, [left, right])] = image[np.ix_(frames, [right, left])]
    classification = _classification("side_right")
    cleaned, _ = clean_track(track.replace(image_xyz=image), classification)
    stances = detect_stances(cleaned, classification)
    sides = stances["side"].to_numpy()
    assert (sides[1:] != sides[:-1]).all()
    fps = track.fps
    for stance in truth["stances"]:
        ic = stance["ic_time_s"] * fps
        if 0.25 * fps < ic < track.n_frames - 0.25 * fps:
            mine = stances[stances["side"] == stance["side"]]
            assert np.min(np.abs(mine["ic_time_s"].to_numpy() * fps - ic)) <= 1.0


def _swap_feet_in_stances(truth: dict[str, Any], track: PoseTrack, stance_numbers: set[int]) -> PoseTrack:
    """The track with the left/right foot landmarks exchanged during the listed true stances
    (numbered in time order): what a pose model does when it names the feet by their image
    side and the runner lands across the midline."""
    image = np.array(track.image_xyz)
    fps = track.fps
    stances = sorted(truth["stances"], key=lambda stance: stance["ic_time_s"])
    for number, stance in enumerate(stances):
        if number not in stance_numbers:
            continue
        frames = np.arange(
            max(0, round(stance["ic_time_s"] * fps)), min(track.n_frames, round(stance["to_time_s"] * fps))
        )
        for part in ("ankle", "heel", "foot_index"):
            left, right = index(f"left_{part}"), index(f"right_{part}")
            image[np.ix_(frames, np.array([left, right]))] = image[np.ix_(frames, np.array([right, left]))]
    return track.replace(image_xyz=image)


def _side_matches(truth: dict[str, Any], stances: pd.DataFrame, duration_s: float) -> list[bool]:
    """Per true IC inside the clip: whether the nearest detected IC carries the same side."""
    matches = []
    for stance in truth["stances"]:
        if 0.25 < stance["ic_time_s"] < duration_s - 0.25:
            nearest = int(np.argmin(np.abs(stances["ic_time_s"].to_numpy() - stance["ic_time_s"])))
            matches.append(stances["side"].iloc[nearest] == stance["side"])
    return matches


def test_pelvic_obliquity_names_the_sides_when_the_feet_are_mislabelled() -> None:
    """Rear view, foot labels exchanged in 7 of every 10 stances: the feet alone put every
    name on the wrong foot; the pelvic obliquity (swing side lower) puts them right, and the
    contact times are untouched."""
    truth = read_truth(SAMPLES / "demo_rear.truth.json")
    track = track_from_truth(truth)
    swapped = _swap_feet_in_stances(truth, track, {n for n in range(len(truth["stances"])) if n % 10 < 7})
    classification = _classification("rear")
    by_feet = detect_stances(swapped, classification)
    assert not any(_side_matches(truth, by_feet, track.duration_s))
    obliquity_deg = np.asarray(truth["frames"]["pelvic_obliquity_image_deg"], dtype=np.float64)
    by_pelvis = detect_stances(swapped, classification, pelvic_obliquity_deg=obliquity_deg)
    assert all(_side_matches(truth, by_pelvis, track.duration_s))
    np.testing.assert_allclose(by_pelvis["ic_time_s"], by_feet["ic_time_s"])


def test_pelvic_obliquity_does_not_overrule_clear_feet() -> None:
    """A level pelvis (zero obliquity with noise) never outvotes feet that agree on every stance."""
    truth = read_truth(SAMPLES / "demo_rear.truth.json")
    track = track_from_truth(truth)
    noise_deg = np.random.default_rng(3).normal(0.0, 0.5, track.n_frames)
    stances = detect_stances(track, _classification("rear"), pelvic_obliquity_deg=noise_deg)
    assert all(_side_matches(truth, stances, track.duration_s))


def _side_truth_files(min_fps: float) -> list[Path]:
    """Side-view renders at ``min_fps`` or more (the heel-landing refinement's range)."""
    files = []
    for path in truth_files():
        truth = read_truth(path)
        if truth["params"]["view"].startswith("side") and truth["clip"]["fps"] >= min_fps:
            files.append(path)
    return files


@pytest.mark.parametrize("truth_path", _side_truth_files(50.0), ids=lambda p: p.name.split(".")[0])
def test_side_initial_contacts_within_a_fifth_of_a_frame(truth_path: Path) -> None:
    """Side views from 50 fps: the heel's landing kink places every IC within 0.2 frame.

    Heel ahead of the pelvis at IC changes by 2-5 % of leg length per frame of IC error,
    so the metric needs contacts far tighter than the one-frame bound above.
    """
    truth, track, stances = _stances_of(truth_path)
    fps = track.fps
    margin = 0.25 * fps
    errors = []
    for stance in truth["stances"]:
        ic = stance["ic_time_s"] * fps
        if margin < ic < track.n_frames - margin:
            mine = stances[stances["side"] == stance["side"]]
            errors.append(np.min(np.abs(mine["ic_time_s"].to_numpy() * fps - ic)))
    assert errors
    assert max(errors) <= 0.2, f"IC errors {np.round(errors, 2)} frames"


def test_pelvis_turning_point_hidden_by_the_spacing_is_put_back() -> None:
    """Flight peaks of the pelvis height every 20 frames, except around one stance whose pelvis
    barely dips: its two peaks lie 10 frames apart and the next one 30 frames on (as in a
    render where 6 of 18 contacts were lost). The 0.6-step spacing of the peak search drops
    one of the pair; the gap it leaves is split at it again. Evenly spaced peaks stay as they are."""
    from scipy.signal import find_peaks

    from gaitcheck.events import _split_double_steps

    frames = np.arange(240, dtype=np.float64)
    true_peaks = np.array([10, 30, 50, 70, 90, 110, 120, 150, 170, 190, 210])
    height = np.sum([np.exp(-0.5 * ((frames - p) / 3.0) ** 2) for p in true_peaks], axis=0)
    height[110:121] = np.maximum(height[110:121], 0.9)  # the shallow dip between the pair
    spaced, _ = find_peaks(height, distance=12)
    assert spaced.size == true_peaks.size - 1
    restored = _split_double_steps(height, spaced, 20.0)
    assert restored.size == true_peaks.size
    assert np.abs(restored - true_peaks).max() <= 1
    even = np.arange(10, 230, 20)
    even_height = np.sum([np.exp(-0.5 * ((frames - p) / 3.0) ** 2) for p in even], axis=0)
    assert np.array_equal(_split_double_steps(even_height, even, 20.0), even)


@pytest.mark.parametrize("contact_frame", [30.0, 30.25, 30.5, 30.8])
@pytest.mark.parametrize("cutoff_hz", [None, 12.0])
def test_heel_landing_fit_recovers_a_known_contact(contact_frame: float, cutoff_hz: float | None) -> None:
    """A heel planted on a moving belt after a decelerating approach, sampled at 60 fps and
    (optionally) low-passed like the event track: the fit finds the contact instant."""
    from scipy.signal import butter, filtfilt

    from gaitcheck.events import _fit_heel_landing

    frames = np.arange(80, dtype=np.float64)
    before = np.maximum(contact_frame - frames, 0.0)
    belt_px_per_frame = -14.0
    heel_u = 600.0 + belt_px_per_frame * (frames - contact_frame) - 9.0 * before + 1.9 * before**2
    if cutoff_hz is not None:
        b, a = butter(2, cutoff_hz / 30.0)
        heel_u = filtfilt(b, a, heel_u)
    first_guess = np.array([contact_frame + 0.7, contact_frame - 0.9])
    found, rms_px, fitted = _fit_heel_landing(heel_u, first_guess, 60.0, cutoff_hz, 2)
    assert fitted.all()
    assert found == pytest.approx(contact_frame, abs=0.03)
    assert (rms_px < 0.05).all()


def test_heel_landing_refinement_needs_precise_landmarks() -> None:
    """The landing fit moves the rules' contacts on exact landmarks, and leaves them as they
    are when the heel is as noisy as a pose model's (2 % of leg length, white)."""
    truth = read_truth(SAMPLES / "demo_side.truth.json")
    track = track_from_truth(truth)
    classification = _classification("side_right")
    moved = []
    for noise_leg in (0.0, 0.02):
        rng = np.random.default_rng(7)
        image = track.image_xyz.copy()
        image[:, :, 0] += rng.normal(0.0, noise_leg * leg_length_px(track) / track.width, size=image.shape[:2])
        image[:, :, 1] += rng.normal(0.0, noise_leg * leg_length_px(track) / track.height, size=image.shape[:2])
        cleaned, _ = clean_track(track.replace(image_xyz=image), classification)
        stances = detect_stances(cleaned, classification)
        frames = stances["ic_time_s"].to_numpy() * track.fps + 0.4  # a first estimate off the kink
        refined = gaitcheck_events._heel_landing_contacts(
            cleaned,
            frames,
            np.ones(frames.size, dtype=bool),
            (stances["side"] == "left").to_numpy(),
            leg_length_px(cleaned),
        )
        moved.append(None if refined is None else float(np.median(np.abs(refined - frames))))
    assert moved[0] is not None and moved[0] > 0.3
    assert moved[1] is None  # noisy heels: the rules' contacts are kept


def test_side_contacts_fit_on_the_uncleaned_heel_of_exact_landmarks() -> None:
    """Exact landmarks of a 60 fps side render: fitted on the unfiltered heel, the initial
    contacts come within 0.05 frames of the truth (median), closer than on the metric track's
    low-passed heel; a pose model's track ignores the uncleaned landmarks."""
    truth = read_truth(SAMPLES / "demo_side.truth.json")
    track = track_from_truth(truth)
    classification = _classification("side_right")
    cleaned = clean_tracks(track, classification)
    true_ic = {
        side: np.array([e["time_s"] for e in truth["events"] if e["event"] == "IC" and e["side"] == side])
        for side in ("left", "right")
    }

    def median_ic_error_frames(stances: pd.DataFrame) -> float:
        errors = []
        for side, times in true_ic.items():
            found = stances.loc[stances["side"] == side, "ic_time_s"].to_numpy()
            errors.append(np.min(np.abs(found[:, None] - times[None, :]), axis=1))
        return float(np.median(np.concatenate(errors))) * track.fps

    filtered = detect_stances(cleaned.events, classification, metric_track=cleaned.metrics)
    unfiltered = detect_stances(cleaned.events, classification, metric_track=cleaned.metrics, uncleaned_track=track)
    assert median_ic_error_frames(unfiltered) < 0.05
    assert median_ic_error_frames(unfiltered) < median_ic_error_frames(filtered)
    as_mediapipe = cleaned.events.with_meta(backend=MEDIAPIPE_BACKEND)
    pd.testing.assert_frame_equal(
        detect_stances(as_mediapipe, classification, metric_track=cleaned.metrics),
        detect_stances(as_mediapipe, classification, metric_track=cleaned.metrics, uncleaned_track=track),
    )


def test_cadence_counts_a_missed_contact() -> None:
    """A contact missing from a regular rhythm is counted as a step, not skipped."""
    step_s = 0.35
    contacts_s = np.delete(step_s * np.arange(12), 5)
    assert clip_cadence_spm(contacts_s) == pytest.approx(60.0 / step_s)


def test_cadence_of_precise_contacts_is_steps_over_time() -> None:
    """Contacts scattered as little as real running (2 ms): ``60 (n - 1) / (last - first)``,
    the definition of gaitsynth's truth, including a left/right step-time asymmetry."""
    rng = np.random.default_rng(5)
    steps_s = np.resize([0.33, 0.37], 15) + rng.normal(0.0, 0.002, 15)
    contacts_s = np.r_[0.0, np.cumsum(steps_s)]
    expected = 60.0 * (contacts_s.size - 1) / (contacts_s[-1] - contacts_s[0])
    assert clip_cadence_spm(contacts_s) == pytest.approx(expected, rel=1e-12)


def test_cadence_of_erratic_contacts_follows_the_rhythm() -> None:
    """Contacts located 20 ms apart at random (landmarks seen poorly), the last one 50 ms
    late: the fitted rhythm is nearer the true cadence than the first-to-last formula."""
    rng = np.random.default_rng(7)
    step_s = 0.36
    contacts_s = step_s * np.arange(16) + rng.normal(0.0, 0.020, 16)
    contacts_s[-1] += 0.050
    true_spm = 60.0 / step_s
    first_to_last_spm = 60.0 * 15 / (contacts_s[-1] - contacts_s[0])
    assert abs(clip_cadence_spm(contacts_s) - true_spm) < 0.5 * abs(first_to_last_spm - true_spm)


@pytest.fixture(scope="module")
def gaitsynth() -> Any:
    """The shared renderer's module (truth only, no video), or skip when it is not beside the checkout."""
    return load_gaitsynth("gaitsynth_for_event_tests")


def _holdout_truth(gaitsynth: Any, seed: int, **params: Any) -> dict[str, Any]:
    """Truth of one clip of benchmarks/event_truth_holdout_suite.toml (or holdout2), made here."""
    spec = {"seed": seed, "treadmill": True, "variability": 1.0, "resolution": "1280x720"} | params
    return dict(gaitsynth.Clip(gaitsynth.resolve_params(gaitsynth.params_from_dict(spec))).truth(f"clip_{seed}"))


def _detected_as_the_pipeline_does(truth: dict[str, Any], view: str) -> tuple[PoseTrack, pd.DataFrame]:
    """The replayed track of a truth and its stances, cleaned and detected as the pipeline does."""
    track = track_from_truth(truth)
    classification = _classification(view)
    cleaned = clean_tracks(track, classification)
    return track, detect_stances(cleaned.events, classification, metric_track=cleaned.metrics, uncleaned_track=track)


def test_front_toe_offs_of_a_runner_approaching_at_30_fps(gaitsynth: Any) -> None:
    """Seed 617 of benchmarks/event_truth_holdout_suite.toml, true landmarks: a runner coming
    toward a 30 fps front camera from 3.5 m, whose ankle's take-off acceleration peaks about at
    the pelvis's highest point; every toe-off away from the clip's ends within 1 frame (three
    were 5 frames early while the search was centred on the frame before that point)."""
    truth = _holdout_truth(gaitsynth, 617, view="front", fps=30, treadmill=False, distance_m=3.5, duration_s=5.0)
    track, stances = _detected_as_the_pipeline_does(truth, "front")
    fps = track.fps
    for event in truth["events"]:
        if event["event"] != "TO" or not 0.15 < event["time_s"] < track.duration_s - 0.15:
            continue
        mine = stances.loc[(stances["side"] == event["side"]) & stances["complete"], "to_time_s"].to_numpy()
        assert np.min(np.abs(mine - event["time_s"])) * fps <= 1.0, f"TO at {event['time_s']:.3f} s"


def test_a_stance_with_a_shallow_pelvis_dip_keeps_its_contacts(gaitsynth: Any) -> None:
    """Seed 719 of benchmarks/event_truth_holdout2_suite.toml, true landmarks: one stance's
    pelvis barely dips, so two highest points lie half a step apart; every contact away from
    the clip's ends is found, on the right foot (6 of 18 were lost or mislabelled)."""
    truth = _holdout_truth(gaitsynth, 719, view="side_left", fps=60, cadence_spm=188, speed_mps=4.4, duration_s=6.0)
    track, stances = _detected_as_the_pipeline_does(truth, "side_left")
    fps = track.fps
    for event in truth["events"]:
        if event["event"] != "IC" or not 0.15 < event["time_s"] < track.duration_s - 0.15:
            continue
        mine = stances.loc[stances["side"] == event["side"], "ic_time_s"].to_numpy()
        assert np.min(np.abs(mine - event["time_s"])) * fps <= 1.0, f"IC at {event['time_s']:.3f} s"


@pytest.mark.parametrize(
    ("seed", "foot_strike"),
    [
        (301, {}),
        (302, {}),
        (303, {"foot_strike_deg": 4.0}),
        # benchmarks/event_truth_holdout_suite.toml: 6 and 4.5 deg heel strikes whose toe
        # peaks a second time, higher, 0.12 s after contact at some steps
        (619, {"foot_strike_deg": 6.0, "fps": 100, "camera_height_m": 1.3}),
        (614, {"camera_roll_deg": -4.0, "pelvic_drop_deg": 8.0, "fps": 50, "duration_s": 6.0}),
    ],
)
def test_front_view_contacts_within_one_frame(gaitsynth: Any, seed: int, foot_strike: dict[str, float]) -> None:
    """Front-view runners of benchmarks/event_holdout_suite.toml and
    event_truth_holdout_suite.toml, true landmarks: every IC within 1 frame, also for a foot
    landing nearly flat (4 deg), whose toe is highest only well after contact, and for
    slight heel strikes whose toe is highest after contact at some steps only."""
    params = gaitsynth.params_from_dict(
        {"seed": seed, "view": "front", "fps": 60, "duration_s": 5.0, "treadmill": True, "variability": 1.0}
        | foot_strike
    )
    truth = gaitsynth.Clip(gaitsynth.resolve_params(params)).truth(f"front_{seed}")
    track = track_from_truth(truth)
    classification = _classification("front")
    stances = detect_stances(clean_track(track, classification)[0], classification)
    fps = track.fps
    true_ic = [s["ic_time_s"] * fps for s in truth["stances"] if 15 < s["ic_time_s"] * fps < track.n_frames - 15]
    assert true_ic
    for ic in true_ic:
        assert np.min(np.abs(stances["ic_time_s"].to_numpy() * fps - ic)) <= 1.0, f"IC at frame {ic:.1f} missed"


def _side_truth_and_stances(gaitsynth: Any, seed: int, params: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    """A side-view clip of benchmarks/event_truth_holdout_suite.toml (truth only) and the
    stances the product path finds on its true landmarks (event track, metric track for the
    heel's landing, as gaitcheck.pipeline runs it)."""
    base = {"seed": seed, "treadmill": True, "variability": 1.0, "resolution": "1280x720"}
    truth = gaitsynth.Clip(gaitsynth.resolve_params(gaitsynth.params_from_dict(base | params))).truth(f"side_{seed}")
    classification = _classification(params["view"])
    cleaned = clean_tracks(track_from_truth(truth), classification)
    return truth, detect_stances(cleaned.events, classification, metric_track=cleaned.metrics)


def _nearest_errors_frames(truth: dict[str, Any], stances: pd.DataFrame, kind: str, fps: float) -> list[float]:
    """|detected - true| (frames) of the IC or TO of every true stance lying 0.25 s or more
    inside the clip (a contact that began before the clip has no IC to be found by)."""
    column = "ic_time_s" if kind == "IC" else "to_time_s"
    duration_s = truth["clip"]["n_frames"] / fps
    errors = []
    for stance in truth["stances"]:
        if stance["ic_time_s"] > 0.25 and stance["to_time_s"] < duration_s - 0.25:
            mine = stances[(stances["side"] == stance["side"]) & stances["complete"]]
            errors.append(float(np.min(np.abs(mine[column].to_numpy() - stance[column])) * fps))
    assert errors
    return errors


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        (622, {"view": "side_right", "fps": 30, "foot_strike_deg": 2.0, "cadence_spm": 168.0, "duration_s": 8.0}),
        (630, {"view": "side_right", "fps": 30, "landing_m": 0.24, "foot_strike_deg": 20.0, "duration_s": 6.0}),
    ],
)
def test_side_contacts_at_30_fps_refined_on_the_metric_track(gaitsynth: Any, seed: int, params: dict[str, Any]) -> None:
    """30 fps side views: the event track's 6 Hz low-pass hides the heel's landing kink, the
    metric track's 12 Hz keeps it, so every IC is within 0.2 frame as from 50 fps up (the
    rules alone were 0.25-0.31 frame off on these runners)."""
    truth, stances = _side_truth_and_stances(gaitsynth, seed, params)
    errors = _nearest_errors_frames(truth, stances, "IC", 30.0)
    assert max(errors) <= 0.2, f"IC errors {np.round(errors, 2)} frames"


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        (627, {"view": "side_left", "fps": 30, "treadmill": False, "distance_m": 5.0, "duration_s": 5.0}),
        (635, {"view": "side_right", "fps": 30, "cadence_spm": 190.0, "speed_mps": 4.2, "duration_s": 6.0}),
        (631, {"view": "side_left", "fps": 50, "azimuth_offset_deg": 20.0, "duration_s": 6.0}),
    ],
)
def test_side_events_ignore_the_legs_other_extension_peak(gaitsynth: Any, seed: int, params: dict[str, Any]) -> None:
    """Side views where the leg's extension before toe-off fell in an IC's search window (or
    the one before contact in a TO's) and moved single events by 3 frames: every IC and TO
    within 1 frame."""
    truth, stances = _side_truth_and_stances(gaitsynth, seed, params)
    fps = float(params["fps"])
    for kind in ("IC", "TO"):
        errors = _nearest_errors_frames(truth, stances, kind, fps)
        assert max(errors) <= 1.0, f"{kind} errors {np.round(errors, 2)} frames"


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        # benchmarks/pelvis_suite.toml's tex_d10_roll3: a 4.8 deg heel strike whose toe peaks
        # late at half the contacts (a median test took it for a forefoot striker: +1.08 frames)
        (407, {"fps": 60, "duration_s": 3.5, "valgus_deg": 3, "pelvic_drop_deg": 10, "camera_roll_deg": 3.0}),
        # benchmarks/event_truth_holdout_suite.toml: a 2 deg strike at 30 fps, late toe at 3 of 20 contacts
        (602, {"fps": 30, "duration_s": 8.0, "foot_strike_deg": 2.0, "cadence_spm": 165.0}),
        # benchmarks/event_holdout_suite.toml's h_front_d, 30 fps: the ankle acceleration of the
        # front TO rule has spurious peaks on the metric track (2 TOs 150 ms early when read there)
        (304, {"view": "front", "fps": 30, "duration_s": 6.0, "resolution": "720x1280"}),
    ],
)
def test_rear_contacts_of_slight_heel_strikes_within_one_frame(
    gaitsynth: Any, seed: int, params: dict[str, Any]
) -> None:
    """Rear views of slight heel strikes (and a 30 fps front view), true landmarks through the
    product path (event and metric tracks): every IC and TO within 1 frame."""
    base = {"seed": seed, "view": "rear", "treadmill": True, "variability": 1.0, "resolution": "1280x720"}
    truth = gaitsynth.Clip(gaitsynth.resolve_params(gaitsynth.params_from_dict(base | params))).truth(f"rear_{seed}")
    classification = _classification(truth["params"]["view"])
    cleaned = clean_tracks(track_from_truth(truth), classification)
    stances = detect_stances(cleaned.events, classification, metric_track=cleaned.metrics)
    for kind in ("IC", "TO"):
        errors = _nearest_errors_frames(truth, stances, kind, float(params["fps"]))
        assert max(errors) <= 1.0, f"{kind} errors {np.round(errors, 2)} frames"


def test_cadence_uses_the_timing_noise_hidden_by_regularisation() -> None:
    """Inner contacts already pulled onto the rhythm, the first and last 30 ms off: told the
    contacts' real timing noise (20 ms), the cadence moves toward the rhythm; not told, the
    regular inner contacts make the ends look precise and they are kept."""
    step_s = 0.35
    contacts_s = step_s * np.arange(14)
    contacts_s[0] -= 0.030
    contacts_s[-1] += 0.030
    true_spm = 60.0 / step_s
    told_spm, not_told_spm = clip_cadence_spm(contacts_s, timing_sd_s=0.020), clip_cadence_spm(contacts_s)
    assert not_told_spm == pytest.approx(60.0 * 13 / (contacts_s[-1] - contacts_s[0]))
    assert abs(told_spm - true_spm) < 0.5 * abs(not_told_spm - true_spm)


def test_mediapipe_tracks_use_their_own_rear_rules() -> None:
    """The same rear-view landmarks labelled as MediaPipe's: the MediaPipe rules, which
    compensate its 20-30 ms latency, place every IC about that much before the truth, and
    the contacts carry MediaPipe's timing noise for the cadence."""
    truth = read_truth(SAMPLES / "demo_rear.truth.json")
    classification = _classification("rear")
    cleaned, _ = clean_track(track_from_truth(truth), classification)
    precise = detect_stances(cleaned, classification)
    as_mediapipe = detect_stances(cleaned.with_meta(backend=MEDIAPIPE_BACKEND), classification)
    true_ic_s = np.array([s["ic_time_s"] for s in truth["stances"]])
    lead_s = [
        np.min(np.abs(true_ic_s - t)) * np.sign(true_ic_s[np.argmin(np.abs(true_ic_s - t))] - t)
        for t in as_mediapipe["ic_time_s"]
    ]
    assert 0.010 < float(np.median(lead_s)) < 0.040
    assert precise.attrs["ic_timing_sd_s"] < MEDIAPIPE_IC_TIMING_SD_S <= as_mediapipe.attrs["ic_timing_sd_s"]


def _pelvis_height_px(track: PoseTrack) -> np.ndarray:
    """The true hip midpoint's image height: what the pelvis texture measures (to 0.1-0.8 px)."""
    return 0.5 * (track.point_px("left_hip")[:, 1] + track.point_px("right_hip")[:, 1])


def _median_ic_error_frames(truth: dict[str, Any], stances: pd.DataFrame, fps: float, duration_s: float) -> float:
    """Median |IC error| (frames) over the true ICs 0.25 s inside the clip, nearest same-side detection."""
    errors = []
    for stance in truth["stances"]:
        if 0.25 < stance["ic_time_s"] < duration_s - 0.25:
            mine = stances[stances["side"] == stance["side"]]
            errors.append(np.min(np.abs(mine["ic_time_s"].to_numpy() - stance["ic_time_s"])) * fps)
    return float(np.median(errors))


def test_texture_pelvis_height_times_mediapipe_contacts_from_mid_flight() -> None:
    """Rear view labelled as MediaPipe's, with the pelvis's own height (as the texture gives
    it): the contacts come from the pelvis's highest points and fall within a frame of the
    truth (median), without the MediaPipe timing-noise floor for the cadence."""
    truth = read_truth(SAMPLES / "demo_rear.truth.json")
    classification = _classification("rear")
    track = track_from_truth(truth)
    cleaned, _ = clean_track(track, classification)
    as_mediapipe = cleaned.with_meta(backend=MEDIAPIPE_BACKEND)
    from_feet = detect_stances(as_mediapipe, classification)
    from_pelvis = detect_stances(as_mediapipe, classification, pelvis_height_px=_pelvis_height_px(track))
    assert _median_ic_error_frames(truth, from_pelvis, track.fps, track.duration_s) <= 1.0
    assert not np.allclose(from_pelvis["ic_time_s"], from_feet["ic_time_s"])
    assert from_pelvis.attrs["ic_timing_sd_s"] < MEDIAPIPE_IC_TIMING_SD_S
    assert from_pelvis.attrs["ic_from_pelvis_height"] and not from_feet.attrs["ic_from_pelvis_height"]
    # true landmarks (not MediaPipe's) keep their own rules: the height is ignored
    precise = detect_stances(cleaned, classification, pelvis_height_px=_pelvis_height_px(track))
    pd.testing.assert_frame_equal(precise, detect_stances(cleaned, classification))


def test_texture_pelvis_height_spikes_are_bridged_and_jumps_refused() -> None:
    """A few one-frame spikes of the texture height (registration slipping to a neighbouring
    stripe) are bridged and barely move the contacts; a height one stripe off in long blocks (a fifth of the
    clip) is not used at all: the MediaPipe rules' contacts come back exactly."""
    truth = read_truth(SAMPLES / "demo_rear.truth.json")
    classification = _classification("rear")
    track = track_from_truth(truth)
    cleaned, _ = clean_track(track, classification)
    as_mediapipe = cleaned.with_meta(backend=MEDIAPIPE_BACKEND)
    height_px = _pelvis_height_px(track)
    clean_height = detect_stances(as_mediapipe, classification, pelvis_height_px=height_px)
    spiky = height_px.copy()
    spiky[[40, 151, 260, 377]] += 25.0
    with_spikes = detect_stances(as_mediapipe, classification, pelvis_height_px=spiky)
    # bridged: within a quarter frame (left in, these spikes moved contacts by 1.1 frames)
    np.testing.assert_allclose(with_spikes["ic_time_s"], clean_height["ic_time_s"], atol=0.25 / track.fps)
    blocky = height_px.copy()
    frames = np.arange(track.n_frames)
    blocky[(frames % 50) < 10] -= 25.0
    with_jumps = detect_stances(as_mediapipe, classification, pelvis_height_px=blocky)
    pd.testing.assert_frame_equal(with_jumps, detect_stances(as_mediapipe, classification))
    assert not with_jumps.attrs["ic_from_pelvis_height"]
    with pytest.raises(ValueError, match="pelvis_height_px"):
        detect_stances(as_mediapipe, classification, pelvis_height_px=height_px[:-1])


def test_texture_flight_events_follow_each_runners_flight_time() -> None:
    """Contacts timed from the pelvis's highest points (mid-flight): a runner with the
    typical contact time and either a short or a long flight gets every IC half his own
    flight after the highest point and every TO half of it before the next one, exactly;
    one constant lag would be off by half the difference of the two flights."""
    fps = 60.0
    found_half_flights = []
    for flight_s in (0.050, 0.140):
        step_frames = (gaitcheck_events.TYPICAL_CONTACT_TIME_S + flight_s) * fps
        apex = 7.3 + step_frames * np.arange(12)
        half_flight = 0.5 * flight_s * fps
        true_ic, true_to = apex + half_flight, np.r_[apex[1:], np.nan] - half_flight
        seen = np.ones(apex.size, dtype=bool)
        to_seen = np.r_[seen[1:], False]
        ic, to = gaitcheck_events._texture_flight_events(apex, seen, np.where(to_seen, true_to, 0.0), to_seen, fps)
        np.testing.assert_allclose(ic, true_ic, atol=1e-9)
        np.testing.assert_allclose(to[to_seen], true_to[to_seen], atol=1e-9)
        found_half_flights.append(float(np.median(ic - apex)) / fps)
    assert found_half_flights == pytest.approx([0.025, 0.070])


def test_alternate_sides_follow_the_stronger_evidence() -> None:
    from gaitcheck.events import _alternate_sides

    # two labels swapped in a run of eight starting on the left
    detected = np.array([True, False, True, True, False, False, True, False])
    sides, changed = _alternate_sides(detected)
    np.testing.assert_array_equal(sides, np.arange(8) % 2 == 0)
    assert changed == 2
    # the pelvis says every stance is the other side, more unanimously than the feet: it wins
    pelvis_says_left = np.where(np.arange(8) % 2 == 0, 0.0, 1.0)
    pelvis_says_left[3] = np.nan
    sides, changed = _alternate_sides(detected, pelvis_says_left)
    np.testing.assert_array_equal(sides, np.arange(8) % 2 == 1)
    assert changed == 6


def test_hann_window_is_numpys_and_read_only() -> None:
    from gaitcheck.filters import hann_window

    window = hann_window(1001)
    np.testing.assert_array_equal(window, np.hanning(1001))
    assert hann_window(1001) is window
    with pytest.raises(ValueError):
        window[0] = 1.0
