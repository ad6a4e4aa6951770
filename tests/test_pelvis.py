"""Tests of the pelvis-texture obliquity estimator (gaitcheck.pelvis).

The analytic fixture is a sequence of frames showing a left/right-symmetric textured
"pelvis" (waistband + patterned shorts) that tilts by a known angle in every frame, while
the hip landmarks stay level, as MediaPipe's often do. The estimator must read the tilt
from the texture, and must say ``quality="low"`` when the same pelvis is plain grey.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaitcheck import pelvis, skeleton
from gaitcheck.errors import AnalysisError, InputError
from gaitcheck.track import PoseTrack

WIDTH, HEIGHT, FPS = 320, 240, 60.0
HIP_CENTRE = np.array([160.0, 120.0])
HIP_WIDTH_PX = 48.0
TILT_OFFSET_DEG = 2.0  # the pelvis is not level on average (camera roll, say)
AMPLITUDE_DEG = 8.0


def _true_obliquity_deg(n_frames: int) -> np.ndarray:
    """Known answer: 2 deg offset + 8 deg sinusoid at 1.4 Hz (+ = left hip higher)."""
    t = np.arange(n_frames) / FPS
    return TILT_OFFSET_DEG + AMPLITUDE_DEG * np.sin(2 * np.pi * 1.4 * t)


def _pelvis_image(textured: bool, seed: int = 7) -> np.ndarray:
    """An upright pelvis, symmetric about the vertical line through HIP_CENTRE.

    Plain: one uniform colour over the whole pelvis region, edges outside it (a long
    one-colour top over one-colour shorts).
    """
    import cv2

    rng = np.random.default_rng(seed)
    image = np.full((HEIGHT, WIDTH), 110.0)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    x_hw = (xs + 0.5 - HIP_CENTRE[0]) / HIP_WIDTH_PX
    y_hw = (ys + 0.5 - HIP_CENTRE[1]) / HIP_WIDTH_PX
    shorts = (np.abs(x_hw) < 1.05) & (y_hw > (-0.85 if textured else -1.3)) & (y_hw < 1.3)
    image[shorts] = 60.0
    if textured:
        half = cv2.GaussianBlur(rng.normal(0.0, 40.0, (HEIGHT, WIDTH)), (0, 0), 2.0)
        symmetric = np.where(xs + 0.5 < HIP_CENTRE[0], half, half[:, ::-1])
        image[shorts] += symmetric[shorts]
        waistband = (np.abs(x_hw) < 1.05) & (y_hw > -0.85) & (y_hw < -0.6)
        image[waistband] = 200.0
    return image


def _frames(textured: bool, obliquity_deg: np.ndarray, *, left_is_image_left: bool = True) -> list[np.ndarray]:
    """The pelvis rotated by the obliquity (clockwise on screen = left hip higher in a rear view)."""
    import cv2

    rng = np.random.default_rng(3)
    base = _pelvis_image(textured)
    sign = 1.0 if left_is_image_left else -1.0
    frames = []
    for angle in obliquity_deg:
        rotation = cv2.getRotationMatrix2D((HIP_CENTRE[0] - 0.5, HIP_CENTRE[1] - 0.5), -sign * float(angle), 1.0)
        frame = cv2.warpAffine(base, rotation, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        frames.append(np.clip(frame + rng.normal(0.0, 2.0, frame.shape), 0, 255).astype(np.uint8))
    return frames


def _level_hips_track(n_frames: int, *, left_is_image_left: bool = True) -> PoseTrack:
    """Hip landmarks fixed and level: they carry no obliquity at all."""
    track = PoseTrack.empty(n_frames, fps=FPS, width=WIDTH, height=HEIGHT)
    image = np.array(track.image_xyz)
    visibility = np.array(track.visibility)
    sign = 1.0 if left_is_image_left else -1.0
    for name, du in (("left_hip", -sign), ("right_hip", sign)):
        k = skeleton.index(name)
        image[:, k, 0] = (HIP_CENTRE[0] + du * HIP_WIDTH_PX / 2) / WIDTH
        image[:, k, 1] = HIP_CENTRE[1] / HEIGHT
        image[:, k, 2] = 0.0
        visibility[:, k] = 1.0
    return track.replace(
        image_xyz=image, visibility=visibility, presence=visibility.copy(), pose_found=np.ones(n_frames, dtype=bool)
    )


@pytest.mark.parametrize("left_is_image_left", [True, False], ids=["rear", "front"])
def test_textured_pelvis_tilt_is_recovered(left_is_image_left: bool) -> None:
    truth = _true_obliquity_deg(90)
    track = _level_hips_track(truth.size, left_is_image_left=left_is_image_left)
    frames = _frames(True, truth, left_is_image_left=left_is_image_left)
    estimate = pelvis.estimate_from_frames(frames, track)
    assert estimate.quality == "ok", estimate.reasons
    assert estimate.anchor == "mirror-symmetry"
    assert np.all(np.isfinite(estimate.obliquity_deg))
    np.testing.assert_allclose(estimate.obliquity_deg, truth, atol=0.5)
    assert np.all(estimate.confidence > 0.5)
    np.testing.assert_allclose(estimate.hip_line_deg, 0.0, atol=1e-9)  # the landmarks saw nothing


def test_texture_height_follows_the_pelvis_not_the_jittering_hips() -> None:
    """The pelvis moves up and down by a known 6 px (and tilts); the hip landmarks jitter by
    2 px around a fixed point, as MediaPipe's do. The texture height follows the pelvis to
    0.2 px, the landmark hip midpoint does not."""
    import cv2

    n = 90
    obliquity_deg = _true_obliquity_deg(n)
    drop_px = 6.0 * np.sin(2 * np.pi * 2.8 * np.arange(n) / FPS)  # + = lower in the image
    frames = []
    for frame, dy in zip(_frames(True, obliquity_deg), drop_px, strict=True):
        shift = np.float32([[1, 0, 0], [0, 1, dy]])
        frames.append(
            cv2.warpAffine(frame, shift, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        )
    track = _level_hips_track(n)
    image = np.array(track.image_xyz)
    jitter_px = np.random.default_rng(5).normal(0.0, 2.0, n)
    for name in ("left_hip", "right_hip"):
        image[:, skeleton.index(name), 1] += jitter_px / HEIGHT
    estimate = pelvis.estimate_from_frames(frames, track.replace(image_xyz=image))
    assert estimate.quality == "ok", estimate.reasons
    assert estimate.height_px is not None and np.all(np.isfinite(estimate.height_px))
    # the texture's centre is fixed only up to a constant (the template's mean position)
    texture_error = estimate.height_px - drop_px
    np.testing.assert_allclose(texture_error - np.mean(texture_error), 0.0, atol=0.2)
    landmark_error = jitter_px - drop_px
    assert np.std(landmark_error) > 3.0


def test_plain_pelvis_is_flagged_low_quality() -> None:
    truth = _true_obliquity_deg(60)
    estimate = pelvis.estimate_from_frames(_frames(False, truth), _level_hips_track(truth.size))
    assert estimate.quality == "low"
    assert any("texture" in reason for reason in estimate.reasons)
    assert np.nanmedian(estimate.confidence) < 0.5


def test_uniform_frames_give_nothing_and_no_error() -> None:
    frames = [np.full((HEIGHT, WIDTH), 100, dtype=np.uint8) for _ in range(20)]
    estimate = pelvis.estimate_from_frames(frames, _level_hips_track(len(frames)))
    assert estimate.quality == "low"
    assert np.all(np.isnan(estimate.obliquity_deg))
    assert np.all(estimate.confidence == 0.0)


def test_blurred_pelvis_is_flagged_low_quality() -> None:
    import cv2

    truth = _true_obliquity_deg(40)
    frames = [cv2.GaussianBlur(frame, (0, 0), 4.0) for frame in _frames(True, truth)]
    estimate = pelvis.estimate_from_frames(frames, _level_hips_track(truth.size))
    assert estimate.quality == "low"
    assert any("blurred" in reason for reason in estimate.reasons)
    assert np.all(estimate.confidence <= pelvis.LOW_QUALITY_CONFIDENCE_FACTOR)


def test_small_pelvis_is_flagged_low_quality() -> None:
    truth = _true_obliquity_deg(30)
    frames = _frames(True, truth)
    geometry = pelvis.pelvis_geometry(_level_hips_track(truth.size))
    patches, valid = pelvis.cut_patches(frames, geometry)
    estimate = pelvis.estimate_from_patches(patches, valid, geometry, native_hip_width_px=12.0)
    assert estimate.quality == "low"
    assert any("px apart" in reason for reason in estimate.reasons)


def test_frames_without_hips_are_not_measured() -> None:
    truth = _true_obliquity_deg(60)
    track = _level_hips_track(truth.size)
    image = np.array(track.image_xyz)
    image[10:15] = np.nan
    track = track.replace(image_xyz=image)
    estimate = pelvis.estimate_from_frames(_frames(True, truth), track)
    assert np.all(np.isnan(estimate.obliquity_deg[10:15]))
    assert np.all(estimate.confidence[10:15] == 0.0)
    keep = np.r_[0:10, 15:60]
    np.testing.assert_allclose(estimate.obliquity_deg[keep], truth[keep], atol=0.5)


def test_crops_give_the_frames_own_patches() -> None:
    """A pelvis narrower than CROP_HIP_WIDTH_PX is cropped at full resolution: the patches cut
    from the crops are exactly those cut from the frames."""
    truth = _true_obliquity_deg(30)
    frames, track = _frames(True, truth), _level_hips_track(truth.size)
    geometry = pelvis.pelvis_geometry(track)
    direct, direct_valid = pelvis.cut_patches(frames, geometry)
    crops = pelvis.crops_from_frames(frames, track)
    assert all(crop.scale == 1.0 for crop in crops.crops.values())
    assert sorted(crops.scenes) == pelvis.scene_frame_indices(truth.size) == [0, 14, 29]
    patches, valid, outside = pelvis.patches_from_crops(crops, geometry)
    assert outside == 0
    np.testing.assert_array_equal(valid, direct_valid)
    np.testing.assert_array_equal(patches, direct)


def test_large_pelvis_is_read_from_shrunk_crops() -> None:
    """At four times the size (hips 192 px apart) the crops are shrunk; the tilt is read as well."""
    import cv2

    zoom = 4
    assert zoom * HIP_WIDTH_PX > pelvis.CROP_HIP_WIDTH_PX  # the case under test: a shrunk crop
    truth = _true_obliquity_deg(60)
    frames = [
        cv2.resize(frame, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR) for frame in _frames(True, truth)
    ]
    small = _level_hips_track(truth.size)
    track = small.replace(width=zoom * WIDTH, height=zoom * HEIGHT)  # same normalised landmarks, more pixels
    crops = pelvis.crops_from_frames(frames, track)
    assert all(
        crop.scale == pytest.approx(pelvis.CROP_HIP_WIDTH_PX / (zoom * HIP_WIDTH_PX)) for crop in crops.crops.values()
    )
    estimate = pelvis.estimate_from_crops(crops, track)
    assert estimate.quality == "ok", estimate.reasons
    assert estimate.meta["frames_outside_crop"] == 0
    np.testing.assert_allclose(estimate.obliquity_deg, truth, atol=0.5)


def test_frame_whose_box_leaves_its_crop_is_skipped() -> None:
    """One frame's hips nearly meet (a landmark glitch): its crop is too small for the box of
    the smoothed hip width, so that frame is not measured and the others are."""
    truth = _true_obliquity_deg(60)
    track = _level_hips_track(truth.size)
    image = np.array(track.image_xyz)
    image[30, skeleton.index("left_hip"), 0] = (HIP_CENTRE[0] - 4.0) / WIDTH
    image[30, skeleton.index("right_hip"), 0] = (HIP_CENTRE[0] + 4.0) / WIDTH
    track = track.replace(image_xyz=image)
    estimate = pelvis.estimate_from_frames(_frames(True, truth), track)
    assert estimate.meta["frames_outside_crop"] == 1
    assert np.isnan(estimate.obliquity_deg[30])
    keep = np.r_[0:30, 31:60]
    np.testing.assert_allclose(estimate.obliquity_deg[keep], truth[keep], atol=0.5)


def test_estimate_survives_a_save_and_load(tmp_path: Path) -> None:
    truth = _true_obliquity_deg(40)
    estimate = pelvis.estimate_from_frames(_frames(True, truth), _level_hips_track(truth.size))
    path = tmp_path / "pelvis" / "estimate.npz"
    pelvis.save_estimate(estimate, path)
    loaded = pelvis.load_estimate(path)
    assert loaded is not None
    for name in ("obliquity_deg", "confidence", "angle_se_deg", "hip_line_deg", "obliquity_level_deg", "height_px"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(estimate, name))
    assert loaded.as_dict() == estimate.as_dict()
    assert pelvis.load_estimate(tmp_path / "missing.npz") is None
    (tmp_path / "damaged.npz").write_bytes(b"not a zip file")
    assert pelvis.load_estimate(tmp_path / "damaged.npz") is None


def test_analysis_measures_on_the_extraction_crops_and_caches_the_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With crops from extraction the clip is not decoded again; a second analysis of the
    same track (its track cached, so no crops) takes the estimate from the cache."""
    from gaitcheck import pipeline

    monkeypatch.setenv("GAITCHECK_CACHE_DIR", str(tmp_path))
    truth = _true_obliquity_deg(60)
    track = _level_hips_track(truth.size).with_meta(video_sha256="ab" * 32)
    crops = pelvis.crops_from_frames(_frames(True, truth), track)
    missing_video = tmp_path / "not_there.mp4"  # decoding it would fail

    first, entry = pipeline._pelvis_estimate_from_video(missing_video, track, crops)
    assert entry["used"] is True
    np.testing.assert_allclose(first.obliquity_deg, truth, atol=0.5)
    assert len(list((tmp_path / pipeline.PELVIS_CACHE_SUBDIR).glob("*.npz"))) == 1
    again, entry_again = pipeline._pelvis_estimate_from_video(missing_video, track)
    np.testing.assert_array_equal(again.obliquity_deg, first.obliquity_deg)
    assert entry_again == entry
    moved = track.replace(image_xyz=track.image_xyz + 0.001)  # another track: not the cached estimate
    with pytest.raises(InputError):
        pipeline._pelvis_estimate_from_video(missing_video, moved)


def test_track_without_hips_raises() -> None:
    track = PoseTrack.empty(5, fps=FPS, width=WIDTH, height=HEIGHT, source="clip.mp4")
    with pytest.raises(AnalysisError, match="no frame shows both hips"):
        pelvis.pelvis_geometry(track)


def test_batch_alignment_recovers_known_rotations() -> None:
    """Patches rotated by known angles about the patch centre align back to them."""
    import cv2

    rng = np.random.default_rng(11)
    rows, cols = pelvis.patch_shape()
    template = cv2.GaussianBlur(rng.normal(128.0, 40.0, (rows, cols)), (0, 0), 2.0).astype(np.float32)
    cx, cy = pelvis.patch_centre()
    angles_deg = np.array([-6.0, -2.0, 0.0, 1.5, 5.0])
    patches = np.stack(
        [
            cv2.warpAffine(template, cv2.getRotationMatrix2D((cx, cy), -a, 1.0), (cols, rows), flags=cv2.INTER_CUBIC)
            for a in angles_deg
        ]
    ).astype(np.float32)
    fit = pelvis.align_to_template(patches, template, pelvis.registration_mask())
    np.testing.assert_allclose(np.degrees(fit.angle_rad), angles_deg, atol=0.05)
    np.testing.assert_allclose(fit.shift_px, 0.0, atol=0.05)


def test_trapped_frames_are_realigned() -> None:
    """Frames knocked 20 deg off (a wrong minimum) return to the trend of their neighbours."""
    import dataclasses

    truth = _true_obliquity_deg(60)
    geometry = pelvis.pelvis_geometry(_level_hips_track(truth.size))
    patches, _ = pelvis.cut_patches(_frames(True, truth), geometry)
    mask = pelvis.registration_mask()
    good, _ = pelvis.register_patches(patches, mask)
    knocked = np.array(good.angle_rad)
    knocked[[20, 21]] += np.radians(20.0)
    trapped = dataclasses.replace(good, angle_rad=knocked, correlation=np.where(knocked != good.angle_rad, 0.2, 1.0))
    repaired, outlier = pelvis.repair_outliers(patches, mask, trapped, window_frames=9)
    np.testing.assert_allclose(np.degrees(repaired.angle_rad), np.degrees(good.angle_rad), atol=0.1)
    assert not outlier.any()


@pytest.mark.parametrize("roll_deg", [-2.5, 0.0, 1.7])
def test_camera_roll_from_scene_horizontals(roll_deg: float) -> None:
    """A wall stripe and a floor edge, rotated as a rolled camera would show them."""
    import cv2

    width, height = 1280, 720
    scene = np.full((height, width), 150.0)
    scene[250:270] = 60.0  # wall stripe
    scene[450:] = 90.0  # floor
    scene[:, 600:680] = 200.0  # the runner (excluded by its box) with strong vertical edges
    # Positive roll = camera turned clockwise = scene turned counter-clockwise (+ angle in OpenCV).
    rotation = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), roll_deg, 1.0)
    rolled = cv2.warpAffine(scene, rotation, (width, height), borderMode=cv2.BORDER_REPLICATE)
    estimate, peakiness = pelvis.estimate_camera_roll_deg(rolled.astype(np.uint8), (560.0, 0.0, 720.0, 720.0))
    assert estimate == pytest.approx(roll_deg, abs=0.1)
    assert peakiness > pelvis.MIN_ROLL_PEAKINESS


def test_featureless_scene_gives_no_roll() -> None:
    rng = np.random.default_rng(5)
    noise = np.clip(rng.normal(128.0, 3.0, (360, 640)), 0, 255).astype(np.uint8)
    _, peakiness = pelvis.estimate_camera_roll_deg(noise)
    assert peakiness < pelvis.MIN_ROLL_PEAKINESS


# ---------------------------------------------------------------------------------- rendered clip
@pytest.mark.shared
@pytest.mark.slow
def test_rendered_asymmetric_drop_meets_acceptance(shared_data: Path) -> None:
    """Issue 4 acceptance on a rendered rear clip (left stance 4 deg, right stance 10 deg).

    Truth landmarks locate the pelvis; truth stances split the clip, so event detection
    plays no part. Per stance: |peak CPD error| median <= 2 deg against the in-image truth,
    within-stance correlation >= 0.8, and the right side's larger drop is seen. With the
    camera roll read from the scene removed, the peaks match the 3D truth.
    """
    from gaitcheck.pose.replay import read_truth, track_from_truth

    clip = shared_data / "synthetic" / "rear_drop_asym_L4_R10.mp4"
    truth = read_truth(clip.with_suffix(".truth.json"))
    estimate = pelvis.estimate_pelvis_obliquity(clip, track_from_truth(truth))
    assert estimate.quality == "ok", estimate.reasons
    true_obliquity = np.asarray(truth["frames"]["pelvic_obliquity_image_deg"])
    assert estimate.obliquity_level_deg is not None
    assert estimate.camera_roll_deg == pytest.approx(truth["params"]["camera_roll_deg"], abs=0.5)
    errors, errors_3d, correlations = [], [], []
    drops: dict[str, list[float]] = {"left": [], "right": []}
    for stance in truth["stances"]:
        if not (stance["complete_in_clip"] and stance["in_view"]):
            continue
        frames = np.arange(stance["ic_frame"], stance["to_frame"] + 1)
        sign = 1.0 if stance["side"] == "left" else -1.0
        drop = sign * estimate.obliquity_deg[frames]
        errors.append(abs(np.nanmax(drop) - stance["pelvic_drop_image_peak_deg"]))
        level_drop = sign * estimate.obliquity_level_deg[frames]
        errors_3d.append(abs(np.nanmax(level_drop) - stance["pelvic_drop_3d_peak_deg"]))
        correlations.append(np.corrcoef(drop, sign * true_obliquity[frames])[0, 1])
        drops[stance["side"]].append(np.nanmax(drop))
    assert len(errors) >= 10
    assert np.median(errors) <= 2.0
    assert np.median(errors_3d) <= 1.0
    assert np.median(correlations) >= 0.8
    assert np.mean(drops["right"]) - np.mean(drops["left"]) > 4.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(480, 1301), (481, 1300), (3, 50), (4, 1), (4, 2)])
def test_row_medians_equal_numpy_median_exactly(dtype: str, shape: tuple[int, int]) -> None:
    # The robust registration's medians come from a single partition for speed; the values
    # (and their dtype, which sets the precision of the Huber weights) must not change.
    values = np.abs(np.random.default_rng(7).standard_normal(shape)).astype(np.dtype(dtype))
    medians = pelvis._row_medians(values)
    expected = np.median(values, axis=-1, keepdims=True)
    assert medians.dtype == expected.dtype
    np.testing.assert_array_equal(medians, expected)


def test_sample_stack_matches_bilinear_sampling_across_mosaic_chunks() -> None:
    """Every requested frame is read from its own patch (also past the first mosaic chunk),
    bilinearly, with points outside the patch taking the nearest border value."""
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng(5)
    rows, cols = pelvis.patch_shape()
    n_frames = 2 * (pelvis._MOSAIC_MAX_ROWS // rows) + 7  # three chunks
    ys, xs = np.mgrid[0:rows, 0:cols]
    phases = rng.uniform(0.0, 2 * np.pi, (n_frames, 1, 1))
    patches = (np.sin(xs / 5.0 + phases) + np.cos(ys / 7.0 - 2 * phases) + phases).astype(np.float32)
    frames = np.sort(rng.choice(n_frames, size=n_frames // 3, replace=False))
    angle_rad = rng.normal(0.0, 0.2, frames.size)
    shift_px = rng.normal(0.0, 15.0, (frames.size, 2))  # many points land outside the patch
    points = np.stack([rng.integers(0, cols, 400), rng.integers(0, rows, 400)], axis=1).astype(np.float32)
    centre = pelvis.patch_centre()

    sampled = pelvis._sample_stack(patches, angle_rad, shift_px, points, centre, frames)

    cos, sin = np.cos(angle_rad)[:, None], np.sin(angle_rad)[:, None]
    xc, yc = points[:, 0] - centre[0], points[:, 1] - centre[1]
    map_x = np.clip(cos * xc - sin * yc + centre[0] + shift_px[:, :1], 0, cols - 1)
    map_y = np.clip(sin * xc + cos * yc + centre[1] + shift_px[:, 1:], 0, rows - 1)
    expected = np.stack(
        [map_coordinates(patches[f], [map_y[i], map_x[i]], order=1) for i, f in enumerate(frames.tolist())]
    )
    assert sampled.shape == (frames.size, points.shape[0])
    # OpenCV interpolates at 1/32 pixel; the patches change by at most 0.35 per pixel.
    np.testing.assert_allclose(sampled, expected, atol=0.35 / 32)
