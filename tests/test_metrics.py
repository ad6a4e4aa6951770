"""Per-stance metrics: analytic geometry kernels and truth replay against gaitsynth truth."""

from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE_VIDEOS, clip_name, shared_truth_files
from gaitcheck import skeleton
from gaitcheck.errors import AnalysisError
from gaitcheck.metrics import METRIC_VIEWS, compute_strides
from gaitcheck.metrics import _geometry as geometry
from gaitcheck.metrics._context import stance_frame_mask
from gaitcheck.metrics.temporal import clip_cadence_spm
from gaitcheck.pipeline import stances_from_truth
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PoseTrack

#: The bundled sample clips and the shared synthetic suite, by name.
SAMPLE_TRUTHS = tuple(clip_name(path) for path in sorted(SAMPLE_VIDEOS.glob("*.truth.json")))
SYNTHETIC_CLIPS = tuple(clip_name(path) for path in shared_truth_files())
ANGLE_TOLERANCE_DEG = 0.5
HEEL_TOLERANCE_PCT_LEG = 1.0
CADENCE_TOLERANCE_SPM = 0.5


def p(*xy: float) -> np.ndarray:
    """One-frame (1, 2) point array."""
    return np.array([xy], dtype=np.float64)


# ------------------------------------------------------------------ geometry kernels


def test_joint_flexion_of_straight_and_right_angle() -> None:
    assert geometry.joint_flexion_deg(p(0, 0), p(0, 1), p(0, 2))[0] == pytest.approx(0.0)
    assert geometry.joint_flexion_deg(p(0, 0), p(0, 1), p(1, 1))[0] == pytest.approx(90.0)


def test_knee_fppa_sign_follows_the_other_hip() -> None:
    # knee displaced by tan(10 deg) toward the other hip on both segments: 20 deg valgus
    offset = np.tan(np.radians(10.0))
    hip, knee, ankle = p(0, 0), p(offset, 1), p(0, 2)
    assert geometry.knee_fppa_deg(hip, knee, ankle, p(1, 0))[0] == pytest.approx(20.0)
    assert geometry.knee_fppa_deg(hip, knee, ankle, p(-1, 0))[0] == pytest.approx(-20.0)


def test_line_tilt_positive_when_left_point_higher_in_either_image_side() -> None:
    # image v grows downward: the left point at v=0 is above the right one at v=tan(5 deg)
    rise = np.tan(np.radians(5.0))
    assert geometry.line_tilt_deg(p(0, 0), p(1, rise))[0] == pytest.approx(5.0)
    assert geometry.line_tilt_deg(p(1, 0), p(0, rise))[0] == pytest.approx(5.0)  # front view: left is image-right
    assert geometry.line_tilt_deg(p(0, rise), p(1, 0))[0] == pytest.approx(-5.0)


def test_inclinations_from_vertical_and_horizontal() -> None:
    assert geometry.inclination_from_vertical_deg(p(0, 0), p(1, 1), 1.0)[0] == pytest.approx(45.0)
    assert geometry.inclination_from_vertical_deg(p(0, 0), p(1, 1), -1.0)[0] == pytest.approx(-45.0)
    toes_up = geometry.inclination_from_horizontal_deg(p(0, 0), p(-np.sqrt(3), -1), -1.0)
    assert toes_up[0] == pytest.approx(30.0)


def test_hip_adduction_against_pelvis_line() -> None:
    # level pelvis, thigh tilted 12 deg toward the other hip
    knee = p(np.sin(np.radians(12.0)), np.cos(np.radians(12.0)))
    assert geometry.signed_angle_from_downward_normal_deg(knee, p(0, 0), p(1, 0))[0] == pytest.approx(12.0)
    assert geometry.signed_angle_from_downward_normal_deg(knee, p(0, 0), p(-1, 0))[0] == pytest.approx(-12.0)
    # pelvis tilted by 7 deg with the thigh along the pelvis normal: zero adduction
    tilt = np.radians(7.0)
    along_normal = p(-np.sin(tilt), np.cos(tilt))
    assert geometry.signed_angle_from_downward_normal_deg(along_normal, p(0, 0), p(np.cos(tilt), np.sin(tilt)))[
        0
    ] == pytest.approx(0.0, abs=1e-12)


def test_segment_reductions_ignore_nan_and_mark_empty_segments() -> None:
    values = np.array([1.0, 5.0, np.nan, 2.0, np.nan, np.nan, 7.0])
    start, stop = np.array([0, 2, 4, 3]), np.array([3, 4, 6, 3])
    np.testing.assert_array_equal(geometry.segment_max(values, start, stop), [5.0, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(geometry.segment_min(values, start, stop), [1.0, 2.0, np.nan, np.nan])
    np.testing.assert_allclose(geometry.segment_mean(values, start, stop), [3.0, 2.0, np.nan, np.nan])
    # overlapping segments and one running to the end of the array
    np.testing.assert_array_equal(geometry.segment_max(values, np.array([1, 0]), np.array([7, 2])), [7.0, 5.0])


def test_interpolate_at_inside_outside_and_nan() -> None:
    time_s = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.array([0.0, 10.0, np.nan, 30.0])
    out = geometry.interpolate_at(time_s, values, np.array([0.25, 1.0, 1.5, 3.0, 3.5]))
    np.testing.assert_array_equal(out, [2.5, 10.0, np.nan, 30.0, np.nan])


def test_clip_cadence() -> None:
    assert clip_cadence_spm(np.array([0.0, 0.4, 0.8, 1.2])) == pytest.approx(150.0)
    assert np.isnan(clip_cadence_spm(np.array([0.3])))


# ------------------------------------------------------------------ truth replay


@functools.cache
def _truth_and_strides(path: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    truth = read_truth(path)
    track = track_from_truth(truth)
    classification = SimpleNamespace(view=truth["params"]["view"], oblique=False)
    return truth, compute_strides(track, stances_from_truth(truth), classification)


def _check_against_truth(path: Path) -> None:
    truth, strides = _truth_and_strides(path)
    stances = pd.DataFrame(truth["stances"])
    usable = (stances["complete_in_clip"] & stances["in_view"]).to_numpy()
    assert usable.sum() >= 4
    # compute_strides orders by IC time, as the truth does
    np.testing.assert_allclose(strides["ic_time_s"], stances["ic_time_s"])
    assert strides.attrs["cadence_spm"] == pytest.approx(truth["summary"]["cadence_spm"], abs=CADENCE_TOLERANCE_SPM)
    view = truth["params"]["view"]
    if view in ("rear", "front"):
        drop_error = (strides["pelvic_drop_deg"] - stances["pelvic_drop_image_peak_frames_deg"])[usable]
        fppa_error = (strides["knee_fppa_deg"] - stances["fppa_image_peak_frames_deg"])[usable]
        assert np.abs(drop_error).max() < ANGLE_TOLERANCE_DEG
        assert np.abs(fppa_error).max() < ANGLE_TOLERANCE_DEG
        assert "heel_ahead_pct_leg" not in strides
    else:
        px_per_m = np.asarray(truth["frames"]["px_per_m_at_pelvis"])
        leg_px = truth["derived"]["leg_length_m"] * px_per_m[stances["ic_frame"].clip(0, len(px_per_m) - 1)]
        expected = 100.0 * stances["heel_ahead_of_pelvis_image_px"] / leg_px
        heel_error = (strides["heel_ahead_pct_leg"] - expected)[usable]
        assert np.abs(heel_error).max() < HEEL_TOLERANCE_PCT_LEG
        assert "pelvic_drop_deg" not in strides


@pytest.mark.parametrize("name", SAMPLE_TRUTHS)
def test_truth_replay_matches_truth_on_sample_clips(sample_videos: Path, name: str) -> None:
    _check_against_truth(sample_videos / f"{name}.truth.json")


@pytest.mark.shared
@pytest.mark.parametrize("name", SYNTHETIC_CLIPS)
def test_truth_replay_matches_truth_on_synthetic_suite(shared_data: Path, name: str) -> None:
    _check_against_truth(shared_data / "synthetic" / f"{name}.truth.json")


@pytest.mark.parametrize("name", SAMPLE_TRUTHS)
def test_leg_length_estimate_close_to_true_leg_length(sample_videos: Path, name: str) -> None:
    truth, strides = _truth_and_strides(sample_videos / f"{name}.truth.json")
    true_leg_px = truth["derived"]["leg_length_m"] * np.median(truth["frames"]["px_per_m_at_pelvis"])
    assert strides.attrs["leg_length_px"] == pytest.approx(true_leg_px, rel=0.03)


def test_side_view_scale_and_timing_match_truth(sample_videos: Path) -> None:
    truth, strides = _truth_and_strides(sample_videos / "demo_side.truth.json")
    stances = pd.DataFrame(truth["stances"])
    usable = (stances["complete_in_clip"] & stances["in_view"]).to_numpy()
    heel_cm_error = strides["heel_ahead_cm"] - 100.0 * stances["heel_ahead_of_pelvis_image_m"]
    assert np.abs(heel_cm_error[usable]).max() < 1.0
    complete = stances["complete_in_clip"].to_numpy()
    np.testing.assert_allclose(strides["contact_time_s"][complete], stances["contact_time_s"][complete], atol=1e-4)
    assert strides["contact_time_s"][~complete].isna().all()
    has_step = strides["step_time_s"].notna().to_numpy()
    np.testing.assert_allclose(strides["step_time_s"][has_step], stances["step_time_s"][has_step], atol=1e-4)
    # gaitsynth renders heel strikes: every usable stance is a rearfoot strike
    assert set(strides["strike_pattern"][usable]) == {"rearfoot"}
    vertical_cm = strides["vertical_oscillation_cm"].median()
    assert vertical_cm == pytest.approx(100.0 * truth["summary"]["vertical_oscillation_m"], abs=0.5)


def test_pelvis_override_replaces_hip_line(sample_videos: Path) -> None:
    truth = read_truth(sample_videos / "demo_rear.truth.json")
    track = track_from_truth(truth)
    stances = stances_from_truth(truth)
    classification = SimpleNamespace(view="rear", oblique=False)
    obliquity = np.asarray(truth["frames"]["pelvic_obliquity_image_deg"])
    strides = compute_strides(track, stances, classification, pelvis_obliquity_deg=obliquity)
    assert strides.attrs["pelvis_method"] == "pelvis_estimate"
    assert set(strides["pelvic_drop_method"]) == {"pelvis_estimate"}
    usable = pd.DataFrame(truth["stances"])["complete_in_clip"].to_numpy()
    expected = pd.DataFrame(truth["stances"])["pelvic_drop_image_peak_frames_deg"]
    assert np.abs((strides["pelvic_drop_deg"] - expected)[usable]).max() < 0.01  # truth is rounded to 1e-3
    with pytest.raises(AnalysisError, match="one value per frame"):
        compute_strides(track, stances, classification, pelvis_obliquity_deg=obliquity[:-1])


def test_metric_columns_follow_the_view(sample_videos: Path) -> None:
    for name, view in (("demo_rear", "rear"), ("demo_side", "side_right")):
        _, strides = _truth_and_strides(sample_videos / f"{name}.truth.json")
        measured = {column for column in METRIC_VIEWS if column in strides.columns}
        assert measured == {column for column, views in METRIC_VIEWS.items() if view in views}


def test_missing_stances_give_nan_steps_not_wrong_ones(sample_videos: Path) -> None:
    truth = read_truth(sample_videos / "demo_side.truth.json")
    stances = stances_from_truth(truth).drop(index=5).reset_index(drop=True)
    strides = compute_strides(track_from_truth(truth), stances, SimpleNamespace(view="side_right", oblique=False))
    after_gap = strides.index[strides["ic_time_s"] > truth["stances"][5]["ic_time_s"]][0]
    assert np.isnan(strides.loc[after_gap, "step_time_s"])
    assert np.isnan(strides.loc[after_gap, "stride_time_s"])
    assert np.isfinite(strides.loc[after_gap + 1, "step_time_s"])


def test_track_without_legs_is_refused() -> None:
    track = PoseTrack.empty(n_frames=30, fps=30.0, width=640, height=480)
    stances = pd.DataFrame({"side": ["left"], "ic_time_s": [0.1], "to_time_s": [0.3]})
    with pytest.raises(AnalysisError, match="leg length"):
        compute_strides(track, stances, SimpleNamespace(view="rear", oblique=False))


def test_unknown_view_and_bad_height_are_refused(sample_videos: Path) -> None:
    truth = read_truth(sample_videos / "demo_rear.truth.json")
    track, stances = track_from_truth(truth), stances_from_truth(truth)
    with pytest.raises(AnalysisError, match="camera view"):
        compute_strides(track, stances, SimpleNamespace(view="top", oblique=False))
    with pytest.raises(AnalysisError, match="centimetres"):
        compute_strides(track, stances, SimpleNamespace(view="rear", oblique=False), height_cm=1.75)


def test_height_gives_centimetre_scale(sample_videos: Path) -> None:
    truth = read_truth(sample_videos / "demo_side.truth.json")
    height_cm = 100.0 * truth["params"]["body_height_m"]
    strides = compute_strides(
        track_from_truth(truth),
        stances_from_truth(truth),
        SimpleNamespace(view="side_right", oblique=False),
        height_cm=height_cm,
    )
    assert strides.attrs["scale_source"] == "height_cm"
    usable = pd.DataFrame(truth["stances"])["complete_in_clip"].to_numpy()
    error_cm = strides["heel_ahead_cm"] - 100.0 * pd.DataFrame(truth["stances"])["heel_ahead_of_pelvis_image_m"]
    assert np.abs(error_cm[usable]).max() < 1.0


def test_leg_labels_swapped_at_ic_are_read_from_the_contact_leg(sample_videos: Path) -> None:
    truth = read_truth(sample_videos / "demo_side.truth.json")
    track, stances = track_from_truth(truth), stances_from_truth(truth)
    classification = SimpleNamespace(view="side_right", oblique=False)
    reference = compute_strides(track, stances, classification)
    # the pose model swaps the leg labels on the two frames that start stance 6
    first = int(np.ceil(stances.loc[6, "ic_time_s"] * track.fps - 1e-6))
    frames = [first, first + 1]
    pairs = [(skeleton.index(name), skeleton.index(skeleton.mirror(name))) for name in skeleton.LANDMARK_NAMES]
    order = np.array([other for _, other in pairs])
    image = track.image_xyz.copy()
    image[frames] = image[frames][:, order]
    swapped = compute_strides(track.replace(image_xyz=image), stances, classification)
    assert swapped["ic_leg_labels_swapped"].tolist() == [k == 6 for k in range(len(stances))]
    for column in ("shank_angle_ic_deg", "knee_flexion_ic_deg"):
        assert swapped.loc[6, column] == pytest.approx(reference.loc[6, column], abs=1e-9)
    # the % of leg length also moves with the leg-length estimate, which sees the two swapped frames
    assert swapped.loc[6, "heel_ahead_pct_leg"] == pytest.approx(reference.loc[6, "heel_ahead_pct_leg"], rel=1e-3)


def test_pose_model_heel_is_moved_back_to_the_contact_point(sample_videos: Path) -> None:
    """The pose model's heel landmark sits ahead of the contact point; true landmarks are the contact point."""
    from gaitcheck.metrics.foot import POSE_MODEL_HEEL_AHEAD_OF_CONTACT_LEG
    from gaitcheck.pose.mediapipe_backend import BACKEND_NAME

    truth = read_truth(sample_videos / "demo_side.truth.json")
    track, stances = track_from_truth(truth), stances_from_truth(truth)
    classification = SimpleNamespace(view="side_right", oblique=False)
    height_cm = 100.0 * truth["params"]["body_height_m"]
    replay = compute_strides(track, stances, classification, height_cm=height_cm)
    as_model = track.replace(meta={**track.meta, "backend": BACKEND_NAME})
    model = compute_strides(as_model, stances, classification, height_cm=height_cm)
    measured = replay["heel_ahead_pct_leg"].notna().to_numpy()  # a stance whose IC precedes the clip has none
    assert measured.sum() >= 10
    np.testing.assert_array_equal(model["heel_ahead_pct_leg"].notna(), measured)
    shift_pct_leg = (replay["heel_ahead_pct_leg"] - model["heel_ahead_pct_leg"])[measured]
    np.testing.assert_allclose(shift_pct_leg, 100.0 * POSE_MODEL_HEEL_AHEAD_OF_CONTACT_LEG, rtol=1e-9)
    shift_cm = (replay["heel_ahead_cm"] - model["heel_ahead_cm"])[measured]
    leg_cm = replay.attrs["leg_length_px"] / replay.attrs["px_per_cm"]
    np.testing.assert_allclose(shift_cm, POSE_MODEL_HEEL_AHEAD_OF_CONTACT_LEG * leg_cm, rtol=1e-9)
    # nothing else moves
    for column in ("shank_angle_ic_deg", "foot_inclination_ic_deg", "knee_flexion_ic_deg"):
        np.testing.assert_array_equal(model[column], replay[column])


def test_at_ic_read_with_a_delay_skips_the_frames_just_after_ic(sample_videos: Path) -> None:
    """Extrapolating back from later frames is exact on a straight line, never reads a frame
    inside the delay, and never reads past the stance."""
    from gaitcheck.metrics._context import build_context

    truth = read_truth(sample_videos / "demo_side.truth.json")
    track, stances = track_from_truth(truth), stances_from_truth(truth)
    ctx = build_context(track, stances, SimpleNamespace(view="side_right", oblique=False), height_cm=None)
    delay_s = 0.005
    line = 3.0 * track.time_s + 1.0
    expected = 3.0 * ctx.ic_time_s + 1.0
    inside = np.isfinite(ctx.at_ic_from_after(line))
    assert inside.sum() >= 10
    just_after_ic = stance_frame_mask(
        track.n_frames,
        np.searchsorted(track.time_s, ctx.ic_time_s - 1e-6),
        np.searchsorted(track.time_s, ctx.ic_time_s + delay_s - 1e-6),
    )
    assert just_after_ic.any()
    spoiled = np.where(just_after_ic, 1e6, line)
    np.testing.assert_allclose(ctx.at_ic_from_after(spoiled, delay_s=delay_s)[inside], expected[inside], rtol=1e-9)
    after_stance = ~stance_frame_mask(track.n_frames, ctx.first_frame, ctx.stop_frame)
    spoiled = np.where(after_stance, 1e6, line)
    too_long = ctx.at_ic_from_after(spoiled, delay_s=10.0)
    np.testing.assert_allclose(too_long[inside & ctx.complete], expected[inside & ctx.complete], rtol=1e-9)


def test_stance_frames_hold_each_selected_stance_and_reduce_like_the_whole_clip(sample_videos: Path) -> None:
    """The frames of one side's stances laid end to end give that side's stance means exactly,
    also for a stance cut by the end of the clip and one wholly after it."""
    from gaitcheck.metrics._context import build_context

    truth = read_truth(sample_videos / "demo_side.truth.json")
    track, stances = track_from_truth(truth), stances_from_truth(truth)
    last_ic_s = float(track.time_s[-3])
    extra = pd.DataFrame(
        {
            "side": ["left", "right"],
            "ic_time_s": [last_ic_s, track.time_s[-1] + 1.0],
            "to_time_s": [last_ic_s + 0.2, track.time_s[-1] + 1.2],
        }
    )
    stances = pd.concat([stances, extra], ignore_index=True)
    ctx = build_context(track, stances, SimpleNamespace(view="side_right", oblique=False), height_cm=None)
    signal = np.sin(track.time_s * 7.0)
    signal[::13] = np.nan
    for side in ("left", "right"):
        chosen = ctx.is_left == (side == "left")
        frames, start, stop = ctx.stance_frames(chosen)
        first, end = ctx.first_frame[chosen], np.minimum(ctx.stop_frame[chosen], track.n_frames)
        np.testing.assert_array_equal(stop - start, np.maximum(end - first, 0))
        for i in np.flatnonzero(stop > start):
            np.testing.assert_array_equal(frames[start[i] : stop[i]], np.arange(first[i], end[i]))
        reduced = geometry.segment_mean(signal[frames], start, stop)
        np.testing.assert_array_equal(reduced, ctx.mean_in_stance(signal)[chosen])
    assert np.isnan(ctx.mean_in_stance(signal)[-1])  # the stance after the clip has no frame


def test_gram_matrices_equal_the_einsum_they_replace() -> None:
    from gaitcheck.metrics._context import _gram_matrices

    rng = np.random.default_rng(7)
    for n_window in (7, 13, 25):
        design = rng.standard_normal((50, n_window, 4)) * 10.0 ** rng.uniform(-3, 3, (50, n_window, 4))
        np.testing.assert_array_equal(_gram_matrices(design), np.einsum("ewc,ewd->ecd", design, design))


def test_heel_ahead_of_a_cleaned_truth_replay_is_unbiased(sample_videos: Path) -> None:
    """The metric track's low-pass rounds the heel's stop at contact; the at-IC read must not
    carry that into heel ahead (true events, true landmarks, cleaned as the product does)."""
    from gaitcheck.classify import ClipClassification
    from gaitcheck.clean import clean_tracks

    truth = read_truth(sample_videos / "demo_side.truth.json")
    track, stances = track_from_truth(truth), stances_from_truth(truth)
    classification = ClipClassification(view="side_right", oblique=False, setting="treadmill", activity="running")
    cleaned = clean_tracks(track, classification).metrics
    strides = compute_strides(cleaned, stances, classification)
    true_stances = pd.DataFrame(truth["stances"])
    usable = (true_stances["complete_in_clip"] & true_stances["in_view"]).to_numpy()
    px_per_m = np.asarray(truth["frames"]["px_per_m_at_pelvis"])
    true_leg_px = truth["derived"]["leg_length_m"] * px_per_m[true_stances["ic_frame"]]
    # in pixels over the true leg length, so that only the at-IC read is judged
    error_pct_leg = (
        strides["heel_ahead_pct_leg"] * strides.attrs["leg_length_px"]
        - 100.0 * true_stances["heel_ahead_of_pelvis_image_px"]
    ) / true_leg_px
    error_pct_leg = error_pct_leg[usable].to_numpy()
    assert usable.sum() >= 10
    assert abs(error_pct_leg.mean()) < 0.2
    assert np.abs(error_pct_leg).max() < 0.7


def test_leg_length_is_taken_at_the_median_size_of_a_runner_changing_distance(sample_videos: Path) -> None:
    """A runner approaching the camera grows in the image; the leg length must be the one at
    the clip's median size, not at the closest frames a high percentile would pick."""
    from gaitcheck.metrics._context import estimate_leg_length_px

    track = track_from_truth(read_truth(sample_videos / "demo_side.truth.json"))
    still_px = estimate_leg_length_px(track)
    progress = (track.time_s - track.time_s[0]) / np.ptp(track.time_s)
    scale = 0.85 + 0.3 * progress  # 0.85 -> 1.15, median 1.0
    image = track.image_xyz.copy()
    image[..., :2] = 0.5 + scale[:, None, None] * (image[..., :2] - 0.5)
    approaching_px = estimate_leg_length_px(track.replace(image_xyz=image))
    assert approaching_px == pytest.approx(still_px, rel=0.01)


@pytest.mark.parametrize("edge_u_fraction", [0.92, 1.3])
def test_leg_length_ignores_frames_near_or_past_the_image_edge(sample_videos: Path, edge_u_fraction: float) -> None:
    """Away from the optical axis a wide lens stretches the legs; frames with the hips near the
    image edge (0.92 of the width) or the legs outside the image (1.3) must not set the length."""
    from gaitcheck.metrics._context import estimate_leg_length_px

    track = track_from_truth(read_truth(sample_videos / "demo_side.truth.json"))
    centred_px = estimate_leg_length_px(track)
    moved = (np.arange(track.n_frames) // 10) % 3 == 0  # a third of the clip, in 10-frame blocks
    xy_px = track.xy_px
    hip_mid_px = 0.5 * (xy_px[:, skeleton.index("left_hip")] + xy_px[:, skeleton.index("right_hip")])
    edge_px = np.array([edge_u_fraction * track.width, hip_mid_px[:, 1].mean()])
    stretched_px = edge_px + 1.1 * (xy_px - hip_mid_px[:, None, :])  # 10 % longer legs near the edge
    image = track.image_xyz.copy()
    image[moved, :, :2] = stretched_px[moved] / np.array([track.width, track.height])
    assert estimate_leg_length_px(track.replace(image_xyz=image)) == pytest.approx(centred_px, rel=0.005)


@pytest.mark.parametrize("name", SAMPLE_TRUTHS)
def test_shod_ankle_height_from_body_height_matches_the_rendered_body(sample_videos: Path, name: str) -> None:
    """gaitsynth builds its runners from Winter's proportions with a 2.5 cm sole: the ankle
    height share of the leg follows from the body height, and the fixed share is close to it."""
    from gaitcheck.metrics._context import SHOD_ANKLE_HEIGHT_PER_THIGH_SHANK, shod_ankle_height_per_thigh_shank

    truth = read_truth(sample_videos / f"{name}.truth.json")
    body = truth["derived"]
    true_share = body["ankle_height_m"] / (body["thigh_m"] + body["shank_m"])
    height_cm = 100.0 * truth["params"]["body_height_m"]
    assert shod_ankle_height_per_thigh_shank(height_cm) == pytest.approx(true_share, abs=5e-4)
    assert shod_ankle_height_per_thigh_shank(None) == SHOD_ANKLE_HEIGHT_PER_THIGH_SHANK
    assert abs(SHOD_ANKLE_HEIGHT_PER_THIGH_SHANK - true_share) < 0.005


@pytest.mark.shared
def test_leg_length_of_a_runner_crossing_a_wide_angle_frame(shared_data: Path) -> None:
    """Overground side render with an 88 deg lens: the runner crosses the whole frame (and the
    truth replay runs past its edges); the leg length must come from the central frames."""
    truth, strides = _truth_and_strides(shared_data / "synthetic" / "side_overground.truth.json")
    true_leg_px = truth["derived"]["leg_length_m"] * np.median(truth["frames"]["px_per_m_at_pelvis"])
    assert strides.attrs["leg_length_px"] == pytest.approx(true_leg_px, rel=0.015)


@pytest.mark.parametrize("fps", [30.0, 60.0, 120.0])
def test_kink_value_is_recovered_through_the_low_pass(fps: float) -> None:
    """A line after an event and a parabola before it, low-passed as the metric track is: the
    value at the event comes back, where reading the two frames after it does not."""
    from gaitcheck.clean import FILTER_ORDER, metric_filter_cutoff_hz
    from gaitcheck.filters import zero_lag_lowpass
    from gaitcheck.metrics._context import kink_value_at, lowpass_impulse_response

    time_s = np.arange(int(4.5 * fps)) / fps
    cutoff_hz = metric_filter_cutoff_hz(fps)
    meta = {"cleaning": {"metric_filter_cutoff_hz": cutoff_hz, "filter_order": FILTER_ORDER}}
    impulse_response = lowpass_impulse_response(meta, fps)
    for event_s, value in ((2.0, -12.0), (2.013, 30.0), (2.0071, 5.0), (2.333, 80.0)):  # on and between frames
        from_event_s = time_s - event_s
        before = 40.0 * from_event_s - 2000.0 * from_event_s**2  # late swing: a parabola
        signal = value + np.where(from_event_s >= 0, -300.0 * from_event_s, before)  # stance: a line
        cleaned = zero_lag_lowpass(signal, cutoff_hz, fps, order=FILTER_ORDER)
        events = np.array([event_s])
        assert kink_value_at(time_s, cleaned, events, impulse_response, fps)[0] == pytest.approx(value, abs=1e-3)
        assert kink_value_at(time_s, signal, events, np.ones(1), fps)[0] == pytest.approx(value, abs=1e-9)
        first = int(np.searchsorted(time_s, event_s))
        extrapolated = cleaned[first] + (cleaned[first + 1] - cleaned[first]) * fps * (event_s - time_s[first])
        assert abs(extrapolated - value) > 0.2


def test_kink_value_is_nan_where_the_window_leaves_the_clip() -> None:
    from gaitcheck.metrics._context import kink_value_at

    time_s = np.arange(60) / 60.0
    signal = np.ones(60)
    signal[30] = np.nan
    read = kink_value_at(time_s, signal, np.array([0.01, 0.5, 0.3, 0.95]), np.ones(1), 60.0)
    assert np.isnan(read[[0, 1, 3]]).all()
    assert read[2] == pytest.approx(1.0)


def test_heel_ahead_of_a_cleaned_truth_replay_undoes_the_low_pass(sample_videos: Path) -> None:
    """True landmarks, true events, cleaned as the product does: heel ahead in pixels over the
    true leg length matches the truth per stance (the low-pass alone moved it up to 0.5 %)."""
    from gaitcheck.classify import ClipClassification
    from gaitcheck.clean import clean_tracks

    truth = read_truth(sample_videos / "demo_side.truth.json")
    track, stances = track_from_truth(truth), stances_from_truth(truth)
    classification = ClipClassification(view="side_right", oblique=False, setting="treadmill", activity="running")
    strides = compute_strides(clean_tracks(track, classification).metrics, stances, classification)
    true_stances = pd.DataFrame(truth["stances"])
    usable = (true_stances["complete_in_clip"] & true_stances["in_view"]).to_numpy()
    true_leg_px = (
        truth["derived"]["leg_length_m"] * np.asarray(truth["frames"]["px_per_m_at_pelvis"])[true_stances["ic_frame"]]
    )
    measured_px = strides["heel_ahead_pct_leg"] * strides.attrs["leg_length_px"]
    error_pct_leg = ((measured_px - 100.0 * true_stances["heel_ahead_of_pelvis_image_px"]) / true_leg_px)[usable]
    assert usable.sum() >= 10
    assert np.abs(error_pct_leg).max() < 0.15
