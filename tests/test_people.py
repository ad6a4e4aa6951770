"""Finding, linking, ranking and following people (gaitcheck.people).

The pure functions are tested on hand-made detections whose answer is known; the last
tests run the whole extraction on the Sports2D demo clip (two walkers and a person on a
box) and check that the track follows one person without jumping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaitcheck import people, skeleton
from gaitcheck.errors import InputError


def _person(hip_x: float, hip_y: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """Box and hip centre of a standing person: hips at mid-height."""
    box = np.array([hip_x - 0.15 * height, hip_y - 0.5 * height, hip_x + 0.15 * height, hip_y + 0.5 * height])
    return box, np.array([hip_x, hip_y])


def _frame(index: int, *persons: tuple[float, float, float]) -> people.PeopleInFrame:
    pairs = [_person(*p) for p in persons]
    boxes = np.array([b for b, _ in pairs]).reshape(-1, 4)
    hips = np.array([h for _, h in pairs]).reshape(-1, 2)
    return people.PeopleInFrame(index, boxes, hips)


def test_scan_tiles_cover_wide_and_tall_frames() -> None:
    wide = people.scan_tiles(1768, 994)
    assert (wide[:, 2] == 994).all() and wide[0, 0] == 0 and wide[-1, 0] + 994 == 1768
    assert np.all(np.diff(wide[:, 0]) <= 0.5 * 994 + 1)  # neighbours overlap by at least half a tile
    tall = people.scan_tiles(720, 1280)
    assert (tall[:, 0] == 0).all() and tall[-1, 1] + 720 == 1280
    assert people.scan_tiles(640, 600).shape == (0, 3)


def test_poses_in_pixels_maps_region_coordinates_to_the_frame() -> None:
    xy = np.full((1, skeleton.N_LANDMARKS, 2), 0.5)
    xy[0, :, 1] = np.linspace(0.1, 0.9, skeleton.N_LANDMARKS)
    boxes, hips = people.poses_in_pixels(xy, (100.0, 50.0), (200.0, 200.0))
    assert boxes[0].tolist() == pytest.approx([200.0, 70.0, 200.0, 230.0])
    expected_hip_y = 50 + 200 * np.mean(xy[0, [skeleton.index("left_hip"), skeleton.index("right_hip")], 1])
    assert hips[0].tolist() == pytest.approx([200.0, expected_hip_y])


def test_merge_duplicates_keeps_one_detection_per_person() -> None:
    frame = _frame(0, (500, 500, 300), (505, 498, 290), (1200, 500, 300), (1210, 505, 420))
    whole_frame = [0.0, 0.0, 1768.0, 994.0]
    tile = [800.0, 0.0, 1300.0, 500.0]  # the fourth detection sticks out of its tile: extrapolated
    regions = np.array([whole_frame, whole_frame, whole_frame, tile])
    keep = people.merge_duplicates(frame.boxes_px, frame.hip_centre_px, regions)
    # The taller of two detections of one person wins, unless it was cut by its image's edge.
    assert keep.tolist() == [True, False, True, False]


def test_link_people_follows_two_crossing_walkers() -> None:
    """Walker A goes right at 60 px/sample, B goes left; they pass each other at sample 5."""
    samples = [_frame(10 * s, (300 + 60 * s, 700, 300), (900 - 60 * s, 710, 290)) for s in range(11)]
    tracks = people.link_people(samples)
    assert len(tracks) == 2
    for track in tracks:
        steps = np.diff(track.hip_centre_px[:, 0])
        assert track.frame_index.size == 11
        assert np.all(np.abs(steps - steps[0]) < 1e-9)  # constant direction: no swap at the crossing


def test_link_people_bridges_a_short_gap_and_splits_far_jumps() -> None:
    samples = [_frame(0, (300, 700, 300)), _frame(10), _frame(20, (320, 700, 300)), _frame(30, (1500, 700, 300))]
    tracks = people.link_people(samples)
    assert sorted(t.frame_index.tolist() for t in tracks) == [[0, 20], [30]]


def test_rank_and_choose_people() -> None:
    big_persistent = [(400, 700, 350)] * 8
    small_persistent = [(1400, 300, 150)] * 8
    samples = [_frame(10 * s, big_persistent[s], small_persistent[s]) for s in range(8)]
    samples[3] = _frame(30, big_persistent[3], small_persistent[3], (900, 500, 400))  # one-off detection
    ranked = people.rank_people(people.link_people(samples), len(samples))
    assert [t.person_id for t in ranked] == [1, 2]
    assert ranked[0].centre_x_px == pytest.approx(400)
    assert people.choose_person(ranked, None, "clip.mp4").person_id == 1
    assert people.choose_person(ranked, "2", "clip.mp4").centre_x_px == pytest.approx(1400)
    assert people.choose_person(ranked, 2, "clip.mp4").person_id == 2
    assert people.choose_person(ranked, "right", "clip.mp4").person_id == 2
    assert people.choose_person(ranked, "LEFT", "clip.mp4").person_id == 1
    assert people.choose_person(ranked, "largest", "clip.mp4").person_id == 1
    with pytest.raises(InputError, match=r"no person 3; found 2 .*gaitcheck info clip.mp4"):
        people.choose_person(ranked, 3, "clip.mp4")
    with pytest.raises(InputError, match="not understood"):
        people.choose_person(ranked, "tallest", "clip.mp4")


def test_crop_boxes_follow_the_person_inside_the_frame() -> None:
    samples = [_frame(10 * s, (200 + 100 * s, 600, 300)) for s in range(6)]
    (track,) = people.link_people(samples)
    frames = np.arange(80)
    boxes = people.crop_boxes(track, frames, (1280, 720), sample_step_frames=10)
    side = people.crop_side_px(track, (1280, 720))
    assert side == round(people.CROP_MARGIN * 300)
    active = boxes[:, 2] > 0
    assert active.tolist() == [bool(f <= 60) for f in frames]  # one sample step after the last sighting
    assert np.all(boxes[active, 0] >= 0) and np.all(boxes[active, 0] + side <= 1280)
    assert np.all(boxes[active, 1] >= 0) and np.all(boxes[active, 1] + side <= 720)
    centre_x = boxes[:, 0] + side / 2
    inside = (frames >= 20) & (frames <= 40)  # away from the frame edge, the centre is the person's
    assert np.allclose(centre_x[inside], 200 + 10 * frames[inside], atol=1)


def test_on_subject_path_rejects_someone_else() -> None:
    samples = [_frame(10 * s, (200 + 100 * s, 600, 300)) for s in range(6)]
    (track,) = people.link_people(samples)
    frames = np.array([5, 15, 25, 35])
    hips = np.array([[250.0, 600.0], [350.0, 640.0], [1100.0, 300.0], [np.nan, np.nan]])
    assert people.on_subject_path(track, frames, hips).tolist() == [True, True, False, False]


# ------------------------------------------------------------------ whole clip, several people


def _hip_centre_jumps_pct(track, body_height_px: float) -> np.ndarray:
    hips = 0.5 * (track.point_px("left_hip") + track.point_px("right_hip"))
    found = track.pose_found[1:] & track.pose_found[:-1]
    return np.linalg.norm(np.diff(hips, axis=0), axis=1)[found] / body_height_px * 100


def _hip_centre_kinks_pct(track, body_height_px: float) -> np.ndarray:
    """Second difference of the hip centre (change of velocity between frames), % body height.

    Steady walking gives a few percent; hopping to another person gives tens of percent.
    """
    hips = 0.5 * (track.point_px("left_hip") + track.point_px("right_hip"))
    found = track.pose_found[2:] & track.pose_found[1:-1] & track.pose_found[:-2]
    return np.linalg.norm(np.diff(hips, n=2, axis=0), axis=1)[found] / body_height_px * 100


def _person_height_px(track) -> float:
    y = track.xy_px[track.pose_found, :, 1]
    return float(np.median(y.max(axis=1) - y.min(axis=1)))


@pytest.fixture(scope="module")
def sports2d_tracks(shared_data: Path, model_path: Path):
    """Default subject and ``--person right`` on sports2d_demo (two walkers, one person on a box)."""
    from gaitcheck.extract import extract_track

    video = shared_data / "videos" / "sports2d_demo.mp4"
    default = extract_track(video, model=model_path, use_cache=False, progress=False)
    right = extract_track(video, model=model_path, person="right", use_cache=False, progress=False)
    return default, right


@pytest.mark.slow
def test_sports2d_default_subject_never_jumps(sports2d_tracks) -> None:
    default, _ = sports2d_tracks
    assert default.meta["subject"]["mode"] == "crop"
    found = np.flatnonzero(default.pose_found)
    assert found.size > 0.6 * default.n_frames
    assert np.all(np.diff(found) == 1)  # followed without a break while in view
    height_px = _person_height_px(default)
    # Walking moves the hips about 3% of body height per frame at 30 fps; another person is
    # tens of percent away.
    assert _hip_centre_jumps_pct(default, height_px).max() < 6.0
    assert _hip_centre_kinks_pct(default, height_px).max() < 6.0


@pytest.mark.slow
def test_sports2d_person_option_picks_the_other_walker(sports2d_tracks) -> None:
    default, right = sports2d_tracks
    assert right.meta["subject"]["person"] != default.meta["subject"]["person"]
    assert right.pose_found.sum() >= 10
    both = right.pose_found & default.pose_found
    hips_default = 0.5 * (default.point_px("left_hip") + default.point_px("right_hip"))
    hips_right = 0.5 * (right.point_px("left_hip") + right.point_px("right_hip"))
    # Where both tracks have a pose they are different people (hips far apart) ...
    if both.any():
        assert np.min(np.linalg.norm(hips_default[both] - hips_right[both], axis=1)) > 100
    # ... and the chosen walker moves the other way (image-right) without jumps.
    x = hips_right[right.pose_found, 0]
    assert x[-1] - x[0] > 100
    # This walker is farther away and faster (about 7% of body height per frame).
    assert _hip_centre_kinks_pct(right, _person_height_px(right)).max() < 6.0
