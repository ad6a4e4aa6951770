"""The wired analysis: sources, outputs, the analyze command and refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gaitcheck import skeleton
from gaitcheck.cli import app
from gaitcheck.errors import AnalysisError, InputError
from gaitcheck.metrics import compute_strides
from gaitcheck.pipeline import (
    STRIDES_FILE,
    SUMMARY_FILE,
    analyze_source,
    analyze_track,
    has_exact_landmarks,
    stances_from_truth,
    summary_row,
    write_outputs,
)
from gaitcheck.pose.mediapipe_backend import BACKEND_NAME as MEDIAPIPE_BACKEND
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PoseTrack


@pytest.fixture(scope="module")
def rear_truth(sample_videos: Path) -> dict:
    return read_truth(sample_videos / "demo_rear.truth.json")


@pytest.fixture(scope="module")
def rear_track(rear_truth: dict) -> PoseTrack:
    return track_from_truth(rear_truth)


def test_truth_file_analysis_detects_view_and_measures(sample_videos: Path) -> None:
    analysis = analyze_source(sample_videos / "demo_side.truth.json")
    assert analysis.classification.view == "side_right"
    assert analysis.classification.activity == "running"
    truth = read_truth(sample_videos / "demo_side.truth.json")
    cadence = analysis.summary["metrics"]["cadence_spm"]["clip_value"]
    assert cadence == pytest.approx(truth["summary"]["cadence_spm"], abs=1.0)
    heel = analysis.summary["metrics"]["heel_ahead_pct_leg"]["overall"]["mean"]
    assert heel == pytest.approx(truth["summary"]["both"]["heel_ahead_of_pelvis_pct_leg"], abs=3.0)
    assert "pelvic_drop_deg" in analysis.summary["omitted_metrics"]
    assert analysis.summary["cleaning"] is not None


def test_known_stances_give_truth_pelvic_drop(rear_truth: dict, rear_track: PoseTrack) -> None:
    analysis = analyze_track(rear_track, stances=stances_from_truth(rear_truth))
    drop = analysis.summary["metrics"]["pelvic_drop_deg"]
    truth_summary = rear_truth["summary"]
    # summary means over complete, in-view stances; cleaning (low-pass) may shave a little off the peaks
    assert drop["left"]["mean"] == pytest.approx(truth_summary["left"]["pelvic_drop_image_peak_frames_deg"], abs=0.5)
    assert drop["right"]["mean"] == pytest.approx(truth_summary["right"]["pelvic_drop_image_peak_frames_deg"], abs=0.5)


#: Per-stance peaks of exact landmarks read as they are: only float rounding is left.
EXACT_PEAK_TOLERANCE_DEG = 0.02


def test_exact_landmarks_keep_their_stance_peaks_through_cleaning(rear_truth: dict, rear_track: PoseTrack) -> None:
    """A truth replay (exact landmarks) analysed with cleaning and the true stances: every
    stance's knee FPPA and pelvic drop is the truth's peak over the stance frames (the metric
    track's 12 Hz low-pass, there for the pose model's jitter, took up to 0.09 deg off this
    clip's FPPA peaks), while step width is still read on the cleaned track."""
    stances = stances_from_truth(rear_truth)
    analysis = analyze_track(rear_track, stances=stances)
    assert analysis.cleaning_report is not None and has_exact_landmarks(rear_track)
    true = pd.DataFrame(rear_truth["stances"])
    true = true[true["complete_in_clip"] & true["in_view"]]
    measured = analysis.strides.merge(true, on=["side", "ic_time_s"], suffixes=("", "_true"))
    assert len(measured) == len(true) >= 8
    fppa_error = measured["knee_fppa_deg"] - measured["fppa_image_peak_frames_deg"]
    drop_error = measured["pelvic_drop_deg"] - measured["pelvic_drop_image_peak_frames_deg"]
    assert np.abs(fppa_error).max() < EXACT_PEAK_TOLERANCE_DEG
    assert np.abs(drop_error).max() < EXACT_PEAK_TOLERANCE_DEG
    on_cleaned = compute_strides(analysis.track, stances, analysis.classification)
    np.testing.assert_array_equal(analysis.strides["step_width_pct_leg"], on_cleaned["step_width_pct_leg"])


def test_pose_model_landmarks_keep_their_stance_peaks_filtered(rear_truth: dict, rear_track: PoseTrack) -> None:
    """The same landmarks labelled as the pose model's (or of unknown origin) keep the
    low-pass: their frontal peaks are read on the cleaned metric track."""
    stances = stances_from_truth(rear_truth)
    for meta in ({**rear_track.meta, "backend": MEDIAPIPE_BACKEND}, {"source": "unknown"}):
        track = rear_track.replace(meta=meta)
        assert not has_exact_landmarks(track)
        analysis = analyze_track(track, stances=stances)
        on_cleaned = compute_strides(analysis.track, stances, analysis.classification)
        for column in ("knee_fppa_deg", "hip_adduction_deg", "pelvic_drop_deg"):
            np.testing.assert_array_equal(analysis.strides[column], on_cleaned[column])
        exact = analyze_track(rear_track, stances=stances).strides
        assert np.abs(analysis.strides["knee_fppa_deg"] - exact["knee_fppa_deg"]).max() > EXACT_PEAK_TOLERANCE_DEG


def test_a_pose_model_rear_track_without_its_video_says_so(rear_truth: dict, rear_track: PoseTrack) -> None:
    """A pose model's rear track analysed without the clip (a saved track): the summary says the
    pelvis was not measured and why that matters, and pelvic drop's quality names it; exact
    landmarks, which need no pelvis estimate, say nothing of it."""
    stances = stances_from_truth(rear_truth)
    pose_model = rear_track.replace(meta={**rear_track.meta, "backend": MEDIAPIPE_BACKEND})
    summary = analyze_track(pose_model, stances=stances).summary
    entry = summary["clip"]["pelvis_estimate"]
    assert entry["used"] is False and "no video given" in entry["reasons"][0]
    reasons = summary["metrics"]["pelvic_drop_deg"]["quality"]["reasons"]
    assert any("no video given" in reason for reason in reasons)
    assert "pelvis_estimate" not in analyze_track(rear_track, stances=stances).summary["clip"]


def test_peak_track_must_share_the_frames(rear_truth: dict, rear_track: PoseTrack) -> None:
    stances = stances_from_truth(rear_truth)
    view = analyze_track(rear_track, stances=stances).classification
    with pytest.raises(AnalysisError, match="same frames"):
        compute_strides(rear_track, stances, view, peak_track=rear_track.select_frames(slice(1, None)))


def test_outputs_written_atomically_and_not_overwritten(tmp_path: Path, rear_track: PoseTrack) -> None:
    analysis = analyze_track(rear_track)
    paths = write_outputs(analysis, tmp_path / "out")
    strides = pd.read_csv(paths["strides"])
    assert len(strides) == len(analysis.strides)
    assert {"side", "ic_time_s", "pelvic_drop_deg", "knee_fppa_deg"} <= set(strides.columns)
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["metrics"]["knee_fppa_deg"]["quality"]["flag"] in ("ok", "limited", "unreliable")
    with pytest.raises(InputError, match="--force"):
        write_outputs(analysis, tmp_path / "out")
    write_outputs(analysis, tmp_path / "out", force=True)
    assert not list((tmp_path / "out").glob("*.part"))
    row = summary_row(analysis)
    assert row["view"] == "rear" and row["n_frames"] == rear_track.n_frames
    json.dumps(row, allow_nan=False)


def test_cli_analyze_truth_file_and_saved_track(tmp_path: Path, sample_videos: Path, rear_track: PoseTrack) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["analyze", str(sample_videos / "demo_rear.truth.json"), "-o", str(tmp_path / "a"), "--no-report"]
    )
    assert result.exit_code == 0, result.output
    assert "pelvic_drop_deg" in result.output
    assert (tmp_path / "a" / SUMMARY_FILE).is_file() and (tmp_path / "a" / STRIDES_FILE).is_file()
    # not a terminal: every metric's row on one line, its stride counts and quality not cut
    summary = json.loads((tmp_path / "a" / SUMMARY_FILE).read_text(encoding="utf-8"))
    cadence = summary["metrics"]["cadence_spm"]
    row = next(line for line in result.output.splitlines() if "cadence_spm" in line)
    assert f"{cadence['left']['n']}/{cadence['right']['n']}" in row and cadence["quality"]["flag"] in row
    assert "(clip)" in row and "…" not in result.output
    track_path = rear_track.save(tmp_path / "rear.parquet")
    result = runner.invoke(
        app,
        ["analyze", str(track_path), "-o", str(tmp_path / "b"), "--view", "rear", "--height-cm", "174", "--no-report"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "b" / SUMMARY_FILE).read_text(encoding="utf-8"))
    assert summary["classification"]["overridden"] == ["view"]
    assert summary["clip"]["scale_source"] == "height_cm"
    refused = runner.invoke(app, ["analyze", str(track_path), "-o", str(tmp_path / "b"), "--no-report"])
    assert refused.exit_code != 0


def test_missing_source_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        analyze_source(tmp_path / "nothing.mp4")


# ------------------------------------------------------------------ bad input


def test_standing_still_is_refused(rear_track: PoseTrack) -> None:
    frame = np.zeros(300, dtype=np.intp)
    still = rear_track.replace(
        time_s=np.arange(300) / rear_track.fps,
        image_xyz=rear_track.image_xyz[frame],
        visibility=rear_track.visibility[frame],
        presence=rear_track.presence[frame],
        world_xyz=rear_track.world_xyz[frame],
        pose_found=rear_track.pose_found[frame],
    )
    with pytest.raises(AnalysisError, match=r"strides|foot contact|feet"):
        analyze_track(still, view="rear", activity="running")


def test_under_two_strides_is_refused(rear_track: PoseTrack) -> None:
    short = rear_track.select_frames(slice(0, 40))  # 0.67 s: about one stride
    with pytest.raises(AnalysisError, match=r"two strides|foot contact"):
        analyze_track(short, view="rear", activity="running")


def test_all_nan_legs_are_refused(rear_track: PoseTrack) -> None:
    image = rear_track.image_xyz.copy()
    image[:, [skeleton.index(name) for name in skeleton.LEG_LANDMARKS], :] = np.nan
    with pytest.raises(AnalysisError, match="legs"):
        analyze_track(rear_track.replace(image_xyz=image))


def test_walking_clip_is_refused_unless_asked_for(rear_track: PoseTrack) -> None:
    # the same runner slowed down 1.6 times: about 100 steps/min, classified as walking
    slow = rear_track.replace(time_s=rear_track.time_s * 1.6, fps=rear_track.fps / 1.6)
    with pytest.raises(AnalysisError, match="walking"):
        analyze_track(slow)
    analysis = analyze_track(slow, activity="walking")
    assert analysis.summary["classification"]["activity"] == "walking"
    assert analysis.summary["metrics"]["cadence_spm"]["clip_value"] < 135


@pytest.mark.slow
def test_rear_video_pelvic_drop_from_pelvis_texture(
    sample_videos: Path, rear_truth: dict, rear_track: PoseTrack
) -> None:
    analysis = analyze_track(rear_track, stances=stances_from_truth(rear_truth), video=sample_videos / "demo_rear.mp4")
    entry = analysis.summary["clip"]["pelvis_estimate"]
    assert entry["used"] is True and entry["quality"] == "ok"
    assert analysis.strides.attrs["pelvis_method"] == "pelvis_estimate"
    truth_summary = rear_truth["summary"]
    drop = analysis.summary["metrics"]["pelvic_drop_deg"]
    for side in ("left", "right"):
        assert drop[side]["mean"] == pytest.approx(truth_summary[side]["pelvic_drop_image_peak_frames_deg"], abs=1.0)


def test_summary_structure_other_stages_rely_on(rear_track: PoseTrack) -> None:
    summary = analyze_track(rear_track).summary
    assert {"schema_version", "gaitcheck_version", "classification", "cleaning", "clip", "metrics"} <= set(summary)
    assert {"view", "oblique", "setting", "activity", "overridden"} <= set(summary["classification"])
    for name, entry in summary["metrics"].items():
        for part in ("left", "right", "overall"):
            assert set(entry[part]) == {"mean", "sd", "median", "ci95", "n"}, name
        assert entry["quality"]["flag"] in ("ok", "limited", "unreliable")
        assert isinstance(entry["quality"]["reasons"], list)
        assert {"left_minus_right", "symmetry_index_pct"} == set(entry["asymmetry"])
        assert {"first_third_mean", "last_third_mean", "change", "n_first", "n_last"} == set(entry["drift"])
