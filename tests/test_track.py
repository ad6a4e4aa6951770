"""The pose track structure: validation at construction, views, save/load round trip."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gaitcheck import skeleton
from gaitcheck.errors import TrackError
from gaitcheck.fileio import atomic_path, sha256_file, write_text_atomic
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PendingArray, PoseTrack


def _random_track(n: int = 20, seed: int = 0) -> PoseTrack:
    """A track of ``n`` frames at 30 fps with random landmarks; frame 3 has no pose."""
    rng = np.random.default_rng(seed)
    k = skeleton.N_LANDMARKS
    image = rng.uniform(0, 1, (n, k, 3))
    world = rng.normal(0, 0.5, (n, k, 3))
    vis = rng.uniform(0, 1, (n, k))
    found = np.ones(n, dtype=bool)
    found[3] = False
    image[3] = np.nan
    world[3] = np.nan
    vis[3] = 0
    return PoseTrack(
        time_s=np.arange(n) / 30.0,
        image_xyz=image,
        visibility=vis,
        presence=vis.copy(),
        world_xyz=world,
        pose_found=found,
        width=640,
        height=480,
        fps=30.0,
        meta={"source": "unit-test", "settings": {"a": 1}},
    )


def test_pixels_scale_normalised_coordinates_by_the_upright_frame_size() -> None:
    track = _random_track()
    expected = track.image_xyz[:, skeleton.index("left_knee"), :2] * [640, 480]
    np.testing.assert_allclose(track.point_px("left_knee"), expected)


def test_points_px_are_the_pixel_coordinates_read_once_and_kept() -> None:
    track = _random_track(n=5000)  # longer than one gather block of frames
    names = ("right_foot_index", "nose", "left_hip", "right_hip", "left_wrist")
    points = track.points_px(names)
    for name in names:
        np.testing.assert_array_equal(points[name], track.xy_px[:, skeleton.index(name)])
        with pytest.raises(ValueError, match="read-only"):
            points[name][0, 0] = 1.0
    assert track.point_px("left_hip") is not points["left_hip"]
    assert np.shares_memory(track.point_px("left_hip"), points["left_hip"])  # not gathered again
    moved = track.replace(image_xyz=track.image_xyz + 0.25)
    np.testing.assert_array_equal(moved.point_px("nose"), moved.xy_px[:, skeleton.index("nose")])


def test_kept_pixel_rows_must_match_the_image_coordinates() -> None:
    track = _random_track()
    rows = np.concatenate([track.xy_px[:, skeleton.index(name)].T for name in ("left_knee", "left_ankle")])
    fresh = track.replace()
    fresh.keep_points_px(rows, ("left_knee", "left_ankle"))
    np.testing.assert_array_equal(fresh.point_px("left_ankle"), track.point_px("left_ankle"))
    with pytest.raises(ValueError, match="left_knee do not match"):
        track.replace().keep_points_px(rows + 1.0, ("left_knee", "left_ankle"))


def test_pending_arrays_are_waited_for_on_first_read() -> None:
    """A coordinate array given as a PendingArray is read from its future once, checked and
    kept read-only; kept pixel rows are read without it; a computation runs once."""
    track = _random_track()
    image: Future[np.ndarray] = Future()
    pending = track.replace(image_xyz=PendingArray(track.image_xyz.shape, image.result))
    rows = np.concatenate([track.xy_px[:, skeleton.index("left_knee")].T])
    pending.keep_points_px(rows, ("left_knee",))  # not compared with the pending image
    np.testing.assert_array_equal(pending.point_px("left_knee"), track.point_px("left_knee"))
    assert not image.done()
    image.set_result(np.array(track.image_xyz))
    np.testing.assert_array_equal(pending.image_xyz, track.image_xyz)
    assert pending.image_xyz is pending.image_xyz
    with pytest.raises(ValueError, match="read-only"):
        pending.image_xyz[0, 0, 0] = 1.0
    np.testing.assert_array_equal(pending.select_frames(slice(2, 5)).image_xyz, track.image_xyz[2:5])
    with pytest.raises(AttributeError, match="no attribute 'image'"):
        _ = pending.image  # type: ignore[attr-defined]
    calls = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.zeros((20, 33, 3))

    lazy = track.replace(world_xyz=PendingArray((20, 33, 3), build))
    assert not calls
    np.testing.assert_array_equal(lazy.world_xyz, 0.0)
    np.testing.assert_array_equal(dataclasses.replace(lazy).world_xyz, 0.0)
    assert calls == [1]


def test_a_track_with_pending_arrays_pickles_and_copies_with_them_read() -> None:
    track = _random_track()
    image: Future[np.ndarray] = Future()
    image.set_result(np.array(track.image_xyz))
    pending = track.replace(image_xyz=PendingArray(track.image_xyz.shape, image.result))
    for other in (pickle.loads(pickle.dumps(pending)), copy.deepcopy(pending), copy.copy(pending)):
        np.testing.assert_array_equal(other.image_xyz, track.image_xyz)
        np.testing.assert_array_equal(other.world_xyz, track.world_xyz)
        assert other.meta == track.meta
        with pytest.raises(ValueError, match="read-only"):
            other.image_xyz[0, 0, 0] = 1.0
        with pytest.raises(TypeError):
            other.meta["source"] = "changed"  # type: ignore[index]


def test_pending_arrays_of_the_wrong_shape_are_refused() -> None:
    track = _random_track()
    with pytest.raises(TrackError, match=r"world_xyz must have shape \(20, 33, 3\)"):
        track.replace(world_xyz=PendingArray((19, 33, 3), Future().result))
    wrong: Future[np.ndarray] = Future()
    wrong.set_result(np.zeros((20, 33, 2)))
    late = track.replace(world_xyz=PendingArray((20, 33, 3), wrong.result))
    with pytest.raises(TrackError, match=r"world_xyz must have shape \(20, 33, 3\), got \(20, 33, 2\)"):
        _ = late.world_xyz


def test_arrays_are_read_only() -> None:
    track = _random_track()
    with pytest.raises(ValueError, match="read-only"):
        track.image_xyz[0, 0, 0] = 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_xyz": np.zeros((20, 17, 3))}, r"image_xyz must have shape \(20, 33, 3\)"),
        ({"visibility": np.zeros((20, 33, 1))}, r"visibility must have shape \(20, 33\)"),
        ({"pose_found": np.ones(20)}, "pose_found must be a bool array"),
        ({"time_s": np.r_[np.arange(10), np.arange(10)] / 30.0}, "strictly increasing; frame 10"),
        ({"width": 0}, "width and height must be positive"),
        ({"fps": float("nan")}, "fps must be a positive number"),
        ({"visibility": np.full((20, 33), 1.5)}, r"visibility must lie in \[0, 1\]"),
    ],
)
def test_invalid_tracks_are_refused_with_a_specific_message(change: dict[str, object], message: str) -> None:
    with pytest.raises(TrackError, match=message):
        _random_track().replace(**change)


def test_replace_checks_again_whatever_it_changes() -> None:
    """replace() skips re-checking the arrays it keeps, never the ones it is given, and a track
    it made validates later changes in full."""
    kept = _random_track().replace(meta={"clip": "x"})
    np.testing.assert_array_equal(kept.visibility, _random_track().visibility)
    with pytest.raises(TrackError, match=r"visibility must lie in \[0, 1\]"):
        kept.replace(visibility=np.full((20, 33), -0.5))
    with pytest.raises(TrackError, match="strictly increasing"):
        dataclasses.replace(kept, time_s=np.zeros(20))


def test_select_frames_keeps_every_array_aligned() -> None:
    track = _random_track()
    part = track.select_frames(slice(5, 9))
    assert part.n_frames == 4
    np.testing.assert_array_equal(part.time_s, track.time_s[5:9])
    np.testing.assert_array_equal(part.image_xyz, track.image_xyz[5:9])


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    track = _random_track()
    path = track.save(tmp_path / "t.parquet")
    loaded = PoseTrack.load(path)
    for name in ("time_s", "image_xyz", "visibility", "presence", "world_xyz", "pose_found"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(track, name))
    assert (loaded.width, loaded.height, loaded.fps) == (640, 480, 30.0)
    assert loaded.meta == {"source": "unit-test", "settings": {"a": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_saved_track_is_a_tidy_parquet_table(tmp_path: Path) -> None:
    path = _random_track().save(tmp_path / "t.parquet")
    table = pq.read_table(path)
    assert table.num_rows == 20
    assert {"frame", "time_s", "pose_found", "left_hip_x", "left_hip_world_z", "right_heel_visibility"} <= set(
        table.column_names
    )


def test_loading_a_foreign_parquet_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with pytest.raises(TrackError, match="no gaitcheck metadata"):
        PoseTrack.load(path)


def test_loading_a_missing_or_corrupt_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TrackError, match=r"missing\.parquet: no such track file"):
        PoseTrack.load(tmp_path / "missing.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(TrackError, match=r"bad\.parquet: not a readable Parquet pose track"):
        PoseTrack.load(bad)


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_text_atomic(target, json.dumps({"a": 1}))
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_sha256_of_a_known_string(tmp_path: Path) -> None:
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_truth_replay_carries_the_true_pixels(sample_videos: Path) -> None:
    truth_path = sample_videos / "demo_rear.truth.json"
    truth = read_truth(truth_path)
    track = track_from_truth(truth_path)
    assert track.n_frames == truth["clip"]["n_frames"]
    assert (track.width, track.height, track.fps) == (1280, 720, 60.0)
    np.testing.assert_allclose(track.point_px("right_ankle"), truth["frames"]["landmarks_px"]["right_ankle"], atol=1e-9)
    # landmarks the truth does not give are missing, not zero
    assert np.isnan(track.point_px("left_eye")).all()
    # world landmarks are centred on the pelvis, like MediaPipe's
    hips = (track.point_world("left_hip") + track.point_world("right_hip")) / 2
    np.testing.assert_allclose(hips, 0.0, atol=1e-3)


def test_truth_reader_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "x.truth.json"
    path.write_text('{"a": 1}')
    from gaitcheck.errors import InputError

    with pytest.raises(InputError, match="not a gaitsynth truth file"):
        read_truth(path)


def test_skeleton_names_and_mirror() -> None:
    assert skeleton.N_LANDMARKS == 33
    assert skeleton.index("right_foot_index") == 32
    assert skeleton.mirror("right_heel") == "left_heel"
    assert skeleton.mirror("nose") == "nose"
    with pytest.raises(KeyError, match="unknown landmark 'left_toe'"):
        skeleton.index("left_toe")


def test_atomic_writes_get_the_usual_file_mode(tmp_path: Path) -> None:
    import os

    target = tmp_path / "report.html"
    write_text_atomic(target, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_derived_values_are_computed_once_per_track() -> None:
    track = _random_track()
    calls: list[int] = []

    def frames_seen(t: PoseTrack) -> int:
        calls.append(1)
        return int(t.pose_found.sum())

    assert track.derived("seen", frames_seen) == 19
    assert track.derived("seen", frames_seen) == 19
    assert len(calls) == 1
    fewer = track.replace(pose_found=np.zeros(20, dtype=bool))
    assert fewer.derived("seen", frames_seen) == 0
    assert len(calls) == 2
