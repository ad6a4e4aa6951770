"""Pose extraction (gaitcheck.extract): accuracy on the rendered sample clips, the parallel
split and its join, the track cache, a clip with nobody in it, and the CLI commands.

The sample clips come with exact truth (gaitsynth); landmark error is measured in percent
of the runner's body height in pixels (``body_height_px`` of the truth file).
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gaitcheck import extract, skeleton
from gaitcheck.errors import AnalysisError, InputError
from gaitcheck.track import PoseTrack

LEG_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def _write_clip(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """Encode RGB frames as an H.264 MP4."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


def _leg_error_pct(track: PoseTrack, truth_path: Path) -> np.ndarray:
    """(frames, 6) distance of the leg joints from the truth, % body height; NaN where no pose."""
    truth = json.loads(truth_path.read_text())["frames"]
    body_height_px = np.asarray(truth["body_height_px"])[:, None]
    errors = [
        np.linalg.norm(track.point_px(name) - np.asarray(truth["landmarks_px"][name]), axis=1) for name in LEG_JOINTS
    ]
    return np.stack(errors, axis=1) / body_height_px * 100


def _leg_points_px(track: PoseTrack) -> np.ndarray:
    return track.xy_px[:, [skeleton.index(name) for name in LEG_JOINTS]]


@pytest.fixture(scope="module")
def side_tracks(sample_videos: Path, model_path: Path) -> tuple[PoseTrack, PoseTrack]:
    """demo_side extracted by two workers and by one process (each once per session)."""
    video = sample_videos / "demo_side.mp4"
    parallel = extract.extract_track(video, model=model_path, workers=2, use_cache=False, progress=False)
    single = extract.extract_track(video, model=model_path, workers=1, use_cache=False, progress=False)
    return parallel, single


@pytest.fixture(scope="module")
def rear_track(sample_videos: Path, model_path: Path) -> PoseTrack:
    return extract.extract_track(sample_videos / "demo_rear.mp4", model=model_path, use_cache=False, progress=False)


@pytest.fixture(scope="module")
def short_clip(sample_videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 0.75 s (45 frames, 60 fps) of demo_side: one process, quick to extract."""
    from gaitcheck.video import iter_frames

    frames = [f.rgb for f in iter_frames(sample_videos / "demo_side.mp4", stop=45)]
    return _write_clip(tmp_path_factory.mktemp("clips") / "short_side.mp4", frames, fps=60)


@pytest.fixture(scope="module")
def empty_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of a plain grey wall with a little noise: nobody in view."""
    rng = np.random.default_rng(0)
    frames = [np.clip(128 + rng.normal(0, 3, (240, 320, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    return _write_clip(tmp_path_factory.mktemp("clips") / "empty_wall.mp4", frames, fps=30)


# ------------------------------------------------------------------ pure helpers


def test_split_frame_ranges_cover_the_clip_once() -> None:
    ranges = extract.split_frame_ranges(480, 2, 90)
    assert ranges[0][:2] == (0, 0) and ranges[-1][2] == 480
    assert all(a[2] == b[1] for a, b in itertools.pairwise(ranges))  # contiguous, no overlap
    assert all(start - warmup == 90 for warmup, start, _ in ranges[1:])
    work = [stop - warmup for warmup, _, stop in ranges]
    assert max(work) - min(work) <= 1  # equal shares, warm-up included
    assert extract.split_frame_ranges(5, 8, 90) == [(0, 0, 1), (0, 1, 2), (0, 2, 3), (0, 3, 4), (0, 4, 5)]


def test_cache_key_depends_on_every_input() -> None:
    settings = extract.ExtractionSettings()
    base = extract.cache_key("a" * 64, "b" * 64, settings)
    assert base == extract.cache_key("a" * 64, "b" * 64, extract.ExtractionSettings())
    assert base != extract.cache_key("c" * 64, "b" * 64, settings)
    assert base != extract.cache_key("a" * 64, "c" * 64, settings)
    assert base != extract.cache_key("a" * 64, "b" * 64, extract.ExtractionSettings(person="right"))


def test_cache_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GAITCHECK_CACHE_DIR", str(tmp_path))
    assert extract.cache_dir() == tmp_path / "tracks"


# ------------------------------------------------------------------ accuracy and the join


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["demo_side", "demo_rear"])
def test_landmarks_match_the_truth(clip: str, sample_videos: Path, side_tracks, rear_track) -> None:
    track = side_tracks[0] if clip == "demo_side" else rear_track
    truth_path = sample_videos / f"{clip}.truth.json"
    truth = json.loads(truth_path.read_text())
    assert track.n_frames == truth["clip"]["n_frames"]
    assert (track.width, track.height) == (truth["clip"]["width"], truth["clip"]["height"])
    assert np.allclose(track.time_s, np.asarray(truth["frames"]["time_s"]), atol=1e-3)
    assert track.detection_rate() >= 0.99
    errors = _leg_error_pct(track, truth_path)[track.pose_found]
    assert np.median(errors) <= 2.5
    world_hips = track.point_world("left_hip")[track.pose_found]
    assert np.all(np.isfinite(world_hips)) and np.all(np.abs(world_hips) < 0.5)  # metres, near the hip centre


@pytest.mark.slow
def test_parallel_extraction_joins_seamlessly(side_tracks, sample_videos: Path) -> None:
    parallel, single = side_tracks
    assert parallel.meta["workers"] == 2 and single.meta["workers"] == 1
    warmup_frames = round(extract.ExtractionSettings().warmup_s * parallel.fps)
    join = extract.split_frame_ranges(parallel.n_frames, 2, warmup_frames)[1][1]
    legs_parallel, legs_single = _leg_points_px(parallel), _leg_points_px(single)
    # Before the join the first worker did exactly what the single process did.
    np.testing.assert_allclose(legs_parallel[:join], legs_single[:join], atol=1e-6)
    # After it, MediaPipe's tracking state differs slightly (it depends on all earlier frames):
    # the two runs agree closely and are equally accurate.
    truth = json.loads((sample_videos / "demo_side.truth.json").read_text())
    body_height_px = np.asarray(truth["frames"]["body_height_px"])[:, None]
    difference_pct = np.linalg.norm(legs_parallel - legs_single, axis=2) / body_height_px * 100
    assert np.median(difference_pct[join:]) < 1.0
    error_parallel = np.median(_leg_error_pct(parallel, sample_videos / "demo_side.truth.json")[join:])
    error_single = np.median(_leg_error_pct(single, sample_videos / "demo_side.truth.json")[join:])
    assert abs(error_parallel - error_single) < 0.2

    # No jump at the join: the step into the second worker's first frame matches the step the
    # single process made between the same two frames (measured 3.95% vs 3.86% of body height).
    def step_pct(legs: np.ndarray) -> float:
        return float(np.linalg.norm(legs[join] - legs[join - 1], axis=1).max() / body_height_px[join, 0] * 100)

    assert step_pct(legs_parallel) <= step_pct(legs_single) + 1.0


def test_meta_records_provenance(side_tracks, sample_videos: Path, model_path: Path) -> None:
    from gaitcheck.fileio import sha256_file

    track = side_tracks[0]
    meta = track.meta
    assert meta["source"] == str(sample_videos / "demo_side.mp4")
    assert meta["video_sha256"] == sha256_file(sample_videos / "demo_side.mp4")
    assert meta["model_sha256"] == sha256_file(model_path)
    assert meta["backend"] == "mediapipe-pose-landmarker"
    assert meta["settings"]["landmarker"]["min_pose_detection_confidence"] == 0.5
    assert meta["subject"]["single_person"] is True
    assert meta["timings_s"]["total"] > 0


def test_track_saves_and_loads(side_tracks, tmp_path: Path) -> None:
    track = side_tracks[0]
    loaded = PoseTrack.load(track.save(tmp_path / "side.track.parquet"))
    np.testing.assert_array_equal(loaded.image_xyz, track.image_xyz)
    np.testing.assert_array_equal(loaded.world_xyz, track.world_xyz)
    np.testing.assert_array_equal(loaded.pose_found, track.pose_found)
    assert dict(loaded.meta) == json.loads(json.dumps(dict(track.meta)))


# ------------------------------------------------------------------ cache, errors, CLI


def test_cache_hit_skips_extraction(
    short_clip: Path, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAITCHECK_CACHE_DIR", str(tmp_path))
    first = extract.extract_track(short_clip, model=model_path, progress=False)
    assert first.meta["cache_hit"] is False and first.meta["workers"] == 1
    assert len(list((tmp_path / "tracks").glob("*.parquet"))) == 1

    def no_extraction(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached track should have been used")

    monkeypatch.setattr(extract, "_run_jobs", no_extraction)
    again = extract.extract_track(short_clip, model=model_path, progress=False)
    assert again.meta["cache_hit"] is True
    np.testing.assert_array_equal(again.image_xyz, first.image_xyz)
    with pytest.raises(AssertionError, match="cached track"):
        extract.extract_track(short_clip, model=model_path, progress=False, use_cache=False)


@pytest.mark.parametrize("budget_bytes", [extract.CROP_MEMORY_BUDGET_BYTES, 0], ids=["as-is", "compressed"])
def test_pelvis_crops_cut_during_extraction_equal_those_of_the_frames(
    short_clip: Path, model_path: Path, budget_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crops cut inside the extraction loop (two workers, so across the join) are the
    crops :func:`gaitcheck.pelvis.crops_from_frames` cuts from the decoded frames, also when
    they are kept compressed."""
    from gaitcheck.pelvis import crops_from_frames
    from gaitcheck.video import iter_frames

    monkeypatch.setattr(extract, "CROP_MEMORY_BUDGET_BYTES", budget_bytes)
    track, crops = extract.extract_with_pelvis_crops(
        short_clip, model=model_path, workers=2, use_cache=False, progress=False
    )
    assert crops is not None and track.meta["workers"] == 2
    assert isinstance(crops.crops, extract.CropStore)
    assert crops.crops.n_packed == (len(crops.crops) if budget_bytes == 0 else 0)
    expected = crops_from_frames((frame.rgb for frame in iter_frames(short_clip)), track)
    assert crops.n_frames == track.n_frames
    assert sorted(crops.crops) == sorted(expected.crops) and len(crops.crops) >= 0.9 * track.n_frames
    for index, crop in expected.crops.items():
        assert crops.crops[index].origin_px == crop.origin_px and crops.crops[index].scale == crop.scale
        np.testing.assert_array_equal(crops.crops[index].image, crop.image)
    assert sorted(crops.scenes) == sorted(expected.scenes)
    for index, scene in expected.scenes.items():
        np.testing.assert_array_equal(crops.scenes[index], scene)
    assert track.meta["timings_s"]["pelvis_crops_cpu"] >= 0.0


def test_crop_store_compresses_beyond_its_budget_and_reads_back_the_same_crops() -> None:
    from gaitcheck.pelvis import PelvisCrop

    rng = np.random.default_rng(5)
    # a smooth ramp with a little noise, like a pelvis crop: compressible, not trivially
    ramp = np.add.outer(np.arange(90), np.arange(120)).astype(np.float64)
    crops = {
        index: PelvisCrop(
            image=np.clip(ramp + rng.normal(0.0, 0.5, ramp.shape), 0, 255).astype(np.uint8),
            origin_px=(float(index), 2.0 * index),
            scale=1.0 / (1 + index),
        )
        for index in range(10)
    }
    one_crop_bytes = crops[0].image.nbytes
    first, second = extract.CropStore(budget_bytes=3 * one_crop_bytes), extract.CropStore(budget_bytes=0)
    for index, crop in crops.items():
        (first if index < 6 else second).add(index, crop)
    assert (first.n_packed, second.n_packed) == (3, 4)
    first.update(second)
    assert sorted(first) == list(range(10)) and first.n_packed == 7
    for index, crop in crops.items():
        np.testing.assert_array_equal(first[index].image, crop.image)
        assert (first[index].origin_px, first[index].scale) == (crop.origin_px, crop.scale)
    assert first.nbytes < 3 * one_crop_bytes + 7 * 0.8 * one_crop_bytes  # 7 compressed crops


def test_progress_callback_counts_every_frame(short_clip: Path, model_path: Path) -> None:
    counted: list[int] = []
    track = extract.extract_track(short_clip, model=model_path, use_cache=False, progress=counted.append)
    assert sum(counted) == track.n_frames == 45
    assert track.detection_rate() == 1.0


def test_clip_without_a_person_is_an_error(empty_clip: Path, model_path: Path) -> None:
    with pytest.raises(AnalysisError, match=r"empty_wall\.mp4: no person found .*whole body in view"):
        extract.extract_track(empty_clip, model=model_path, use_cache=False, progress=False)


def test_unknown_person_choice_is_an_error(short_clip: Path, model_path: Path) -> None:
    with pytest.raises(InputError, match="no person 4"):
        extract.extract_track(short_clip, model=model_path, person=4, use_cache=False, progress=False)


def test_misspelt_extraction_option_is_an_error(short_clip: Path) -> None:
    """The keyword options are checked as named parameters would be, before any work is done."""
    for entry in (extract.extract_track, extract.extract_with_pelvis_crops):
        with pytest.raises(TypeError, match=r"unexpected extraction option.*: use_cahce"):
            entry(short_clip, use_cahce=False)  # type: ignore[call-arg]


def test_cli_extract_writes_and_refuses_to_overwrite(
    short_clip: Path, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gaitcheck.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAITCHECK_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    args = ["extract", str(short_clip), "--model", str(model_path), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = tmp_path / "short_side.track.parquet"
    assert PoseTrack.load(written).n_frames == 45
    refused = runner.invoke(app, args)
    assert isinstance(refused.exception, InputError) and "--force" in str(refused.exception)
    forced = runner.invoke(app, [*args, "--force", "-o", str(tmp_path / "again.parquet")])
    assert forced.exit_code == 0 and "from the cache" in forced.output


def test_cli_pelvis_measures_on_the_crops_of_the_extraction(
    short_clip: Path, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gaitcheck pelvis VIDEO` decodes the clip once when it extracts; with the track from
    the cache (crops are not cached) it decodes the frames for the estimate."""
    from gaitcheck import pelvis
    from gaitcheck.cli import app

    monkeypatch.setenv("GAITCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GAITCHECK_MODEL", str(model_path))
    decoded_again = []
    decode_route = pelvis.estimate_pelvis_obliquity

    def counted_decode(video: Path, track: PoseTrack) -> pelvis.PelvisEstimate:
        decoded_again.append(video)
        return decode_route(video, track)

    monkeypatch.setattr(pelvis, "estimate_pelvis_obliquity", counted_decode)
    runner = CliRunner()
    table = tmp_path / "obliquity.csv"
    first = runner.invoke(app, ["pelvis", str(short_clip), "--csv", str(table)])
    assert first.exit_code == 0, first.output
    assert decoded_again == []
    assert json.loads(first.output)["method"] == "pelvis-texture-registration"
    assert len(table.read_text(encoding="utf-8").splitlines()) == 1 + 45
    again = runner.invoke(app, ["pelvis", str(short_clip)])
    assert again.exit_code == 0, again.output
    assert decoded_again == [str(short_clip)]


def test_cli_extract_no_person_leaves_no_file(empty_clip: Path, model_path: Path, tmp_path: Path) -> None:
    from gaitcheck.cli import app

    target = tmp_path / "empty.track.parquet"
    args = ["extract", str(empty_clip), "--model", str(model_path), "-o", str(target), "--no-cache", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and isinstance(result.exception, AnalysisError)
    assert list(tmp_path.iterdir()) == []


def test_cli_info_json(short_clip: Path, model_path: Path) -> None:
    from gaitcheck.cli import app

    result = CliRunner().invoke(app, ["info", str(short_clip), "--model", str(model_path), "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert (facts["width"], facts["height"], facts["frames"]) == (1280, 720, 45)
    assert facts["fps"] == pytest.approx(60.0)
    assert facts["duration_s"] == pytest.approx(0.75, abs=0.02)
    assert facts["pose_detection_rate"] == 1.0
    assert len(facts["people"]) == 1 and facts["people"][0]["person"] == 1
