"""Pelvic obliquity from the image of the pelvis, not from the hip landmarks.

MediaPipe's hip landmarks follow the trunk more than the pelvis (docs/pelvis.md), so the
hip line under-reads contralateral pelvic drop. This module measures the tilt of the
pelvis region itself: the waistband, seams and print of the shorts move rigidly with the
pelvis, so the in-plane rotation of that texture is the in-image pelvic obliquity.

Method (pure functions; a thin driver at the end reads the video):

1. :func:`pelvis_geometry` places a box on the pelvis of every frame from the track (hip
   midpoint, smoothed hip width, which anatomical side is on the image's left).
2. :func:`stabilised_patch` cuts each frame's pelvis box out at a fixed scale (no rotation),
   so the runner's translation and size no longer matter.
3. :func:`register_patches` aligns every patch to a common template by a batch Euclidean
   Lucas-Kanade (rotation + shift, Huber-weighted), all frames at once; the template is
   rebuilt from the aligned patches and the alignment repeated, so it sharpens and the
   angle gain converges to one. :func:`repair_outliers` re-aligns frames that jump away
   from their neighbours.
4. The rotations are relative to the template; :func:`mirror_tilt` gives the template's
   own tilt from its left/right symmetry (the shorts are symmetric about the spine), with
   the mean hip-landmark line as the flagged fall-back.
5. Each frame gets a standard error from its correlation with the template and the
   template's rotational texture; :func:`estimate_from_patches` turns these, the texture,
   detail and size checks into ``confidence`` and ``quality``.
6. :func:`estimate_camera_roll_deg` reads the camera roll from the scene's horizontal lines,
   giving a levelled (3D-like) obliquity.

:func:`estimate_from_frames` runs all of it on frames in memory; :func:`estimate_pelvis_obliquity`
streams them from a video file.
Signs follow the project convention: + = LEFT hip higher in the image.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.errors import AnalysisError
from gaitcheck.track import PoseTrack

FloatArray = NDArray[np.float64]

METHOD_TEXTURE: Final[str] = "pelvis-texture-registration"

#: Patch scale: hip-joint-centre separation in patch pixels.
PATCH_HIP_WIDTH_PX: Final[float] = 40.0
#: Patch extent in hip widths: left/right of the hip midpoint, above and below the hip line.
PATCH_HALF_WIDTH_HW: Final[float] = 1.5
PATCH_ABOVE_HW: Final[float] = 1.2
PATCH_BELOW_HW: Final[float] = 1.0
#: Region whose texture is registered (hip widths): the seat of the shorts and the waistband,
#: above the point where the thighs leave the pelvis.
MASK_HALF_WIDTH_HW: Final[float] = 0.9
MASK_TOP_HW: Final[float] = -0.9
MASK_BOTTOM_HW: Final[float] = 0.2

#: A frame's angle counts as measured when its standard error is below this (degrees).
MAX_ANGLE_SE_DEG: Final[float] = 1.0
#: The clip is ``quality="low"`` when the median frame standard error exceeds this (degrees).
LOW_QUALITY_MEDIAN_SE_DEG: Final[float] = 0.5
#: The pelvis region must correlate this well (median over frames) with its median image
#: before refinement; plain regions do not.
MIN_TEXTURE_CORRELATION: Final[float] = 0.5
#: Fine-detail fraction of the template (see :func:`template_detail`) below which the image
#: is too blurred or coarse: registration then follows the body outline, not the pelvis.
MIN_TEMPLATE_DETAIL: Final[float] = 0.12
#: Per-frame confidences are multiplied by this when the clip's quality is "low".
LOW_QUALITY_CONFIDENCE_FACTOR: Final[float] = 0.25
#: Below this hip width in the video (pixels) the pelvis is too small to read.
MIN_NATIVE_HIP_WIDTH_PX: Final[float] = 24.0
#: The mirror-symmetry anchor is used when the template matches its mirror image this well.
MIN_MIRROR_CORRELATION: Final[float] = 0.4
#: Shading is removed (Gaussian high-pass, patch pixels) before the mirror comparison, since
#: side lighting makes the two halves of the pelvis differ in brightness.
MIRROR_HIGHPASS_SIGMA_PX: Final[float] = 4.0
#: Camera-roll search: working image width, angle range and step, edge selection.
ROLL_WORK_WIDTH_PX: Final[int] = 640
ROLL_SEARCH_DEG: Final[float] = 8.0
ROLL_STEP_DEG: Final[float] = 0.05
ROLL_EDGE_QUANTILE: Final[float] = 0.97
ROLL_MAX_EDGE_SLOPE: Final[float] = 0.25
#: The roll counts as measured when the best projection score is this many times the median.
MIN_ROLL_PEAKINESS: Final[float] = 1.5
#: Frames (spread over the clip) whose scene is used for the roll.
ROLL_SAMPLE_FRAMES: Final[int] = 3
#: Huber-weighted registration (arms, shirt hem); see docs/pelvis.md for the comparison.
ROBUST_REGISTRATION: Final[bool] = True
#: Outlier repair: running-median window (seconds) and the smallest jump that counts (degrees).
OUTLIER_WINDOW_S: Final[float] = 0.15
OUTLIER_MIN_DEG: Final[float] = 2.0
#: A re-aligned frame that lands within this of its first answer (degrees) is believed.
OUTLIER_SAME_DEG: Final[float] = 0.5
#: Fraction of frames that must yield a patch.
MIN_FRAME_FRACTION: Final[float] = 0.5
#: Pelvis crops (:func:`pelvis_crop`, cut while extraction decodes the frames anyway) are
#: sized from a robust width: the frame's hip width, but at least this fraction of its torso
#: length (shoulder midpoint to hip midpoint), since single frames' hip landmarks can nearly
#: meet. Over the 35 rendered and real tracks in the repository's benchmarks the smoothed hip
#: width of :func:`pelvis_geometry` stayed below 0.88 of this robust width (rear, front, side).
CROP_MIN_TORSO_FRACTION: Final[float] = 0.5
#: A crop holds the pelvis box (patch extent plus the anti-aliasing margin) of this many times
#: the robust width (margin over the 0.88 above). Frames whose box still does not fit are
#: skipped (``meta["frames_outside_crop"]`` of the estimate).
CROP_BOX_MARGIN: Final[float] = 1.25
#: A robust width above this (pixels) is shrunk to it in the crop; a narrower pelvis is cut at
#: full resolution, so its patches are exactly those cut from the frame. The smoothed hip
#: width then spans 0.6-0.9 of it, well above the patch's 40 pixels. At 72 pixels the
#: slightly shrunk crops of rear_valgus15 (robust width about 80 pixels) lost the mirror
#: anchor (correlation 0.32, flagged "low"); at 128 the shared renders are cut at full
#: resolution and 1080p clips of a whole runner are still shrunk (bounding the memory).
CROP_HIP_WIDTH_PX: Final[float] = 128.0
#: Anti-aliasing blur of a shrunk crop, in crop pixels (as :func:`stabilised_patch` blurs).
CROP_ANTIALIAS_SIGMA_PX: Final[float] = 0.5

_N_PASSES: Final[int] = 3
_N_ITERATIONS: Final[int] = 25
_CONVERGED_RAD: Final[float] = 1e-4
_MOSAIC_MAX_ROWS: Final[int] = 30000  # cv2.remap needs images below 32767 rows
_MEAN_BLOCK_FRAMES: Final[int] = 128  # frames resampled at once for the template


@dataclass(frozen=True)
class PelvisGeometry:
    """Where the pelvis is in each frame.

    Attributes
    ----------
    centre_px : (T, 2) hip midpoint in pixels of the upright frame; NaN where unknown.
    hip_width_px : (T,) smoothed horizontal hip-joint separation in pixels; NaN where unknown.
    left_is_image_left : True when the runner's left hip is on the image's left (rear view).
    hip_line_deg : (T,) in-image obliquity of the landmark hip line (+ = left hip higher).
    fps : frame rate of the track.
    """

    centre_px: FloatArray
    hip_width_px: FloatArray
    left_is_image_left: bool
    hip_line_deg: FloatArray
    fps: float = 60.0

    @property
    def valid(self) -> NDArray[np.bool_]:
        """(T,) frames with a usable pelvis box."""
        return np.isfinite(self.centre_px).all(axis=1) & np.isfinite(self.hip_width_px) & (self.hip_width_px > 0)


@dataclass(frozen=True)
class PelvisEstimate:
    """Per-frame in-image pelvic obliquity measured from the pelvis region.

    Attributes
    ----------
    obliquity_deg : (T,) + = left hip higher in the image; NaN where not measured.
    confidence : (T,) in [0, 1]; 0 where not measured.
    angle_se_deg : (T,) standard error of each frame's angle (degrees, inf where not measured).
    hip_line_deg : (T,) the landmark hip line, for comparison.
    method : how the values were obtained (:data:`METHOD_TEXTURE`).
    quality : ``"ok"`` or ``"low"`` (too little pelvis texture, pelvis too small, ...).
    reasons : why the quality is low (empty when ``"ok"``).
    anchor : ``"mirror-symmetry"`` or ``"hip-line-mean"``: what fixes the absolute angle.
    anchor_deg : template tilt (degrees, obliquity convention).
    mirror_correlation : how well the template matches its mirror image (-1..1).
    cost_ms_per_frame : wall time of the estimate per frame (patch cutting + registration;
        the driver adds decoding).
    camera_roll_deg : camera roll read from the scene's horizontal lines (NaN when the scene
        has none); + = camera turned clockwise.
    obliquity_level_deg : (T,) the obliquity with the camera roll removed (a 3D-like value,
        what a levelled camera would have shown); None when not computed.
    height_px : (T,) vertical image position (pixels, down) of the registered pelvis texture's
        centre: the landmark hip midpoint plus the texture's vertical shift from it, so the hip
        landmarks' jitter and lag cancel; NaN where not registered; None when not computed.
    """

    obliquity_deg: FloatArray
    confidence: FloatArray
    angle_se_deg: FloatArray
    hip_line_deg: FloatArray
    method: str
    quality: Literal["ok", "low"]
    reasons: tuple[str, ...]
    anchor: str
    anchor_deg: float
    mirror_correlation: float
    cost_ms_per_frame: float
    camera_roll_deg: float = float("nan")
    obliquity_level_deg: FloatArray | None = None
    height_px: FloatArray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_frame_table(self, time_s: NDArray[Any] | None = None) -> Any:
        """A pandas DataFrame, one row per frame: obliquity, level obliquity, confidence, hip line."""
        import pandas as pd

        n = self.obliquity_deg.size
        level = self.obliquity_level_deg if self.obliquity_level_deg is not None else np.full(n, np.nan)
        columns: dict[str, Any] = {"frame": np.arange(n, dtype=np.int64)}
        if time_s is not None:
            columns["time_s"] = np.asarray(time_s, dtype=np.float64)
        columns.update(
            {
                "pelvis_obliquity_deg": self.obliquity_deg,
                "pelvis_obliquity_level_deg": level,
                "confidence": self.confidence,
                "angle_se_deg": self.angle_se_deg,
                "hip_line_obliquity_deg": self.hip_line_deg,
            }
        )
        return pd.DataFrame(columns)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (no per-frame arrays)."""
        measured = np.isfinite(self.obliquity_deg)
        median_se = _finite_median(self.angle_se_deg)
        return {
            "method": self.method,
            "quality": self.quality,
            "reasons": list(self.reasons),
            "anchor": self.anchor,
            "anchor_deg": round(self.anchor_deg, 3),
            "camera_roll_deg": round(self.camera_roll_deg, 2),
            "mirror_correlation": round(self.mirror_correlation, 3),
            "measured_fraction": float(measured.mean()) if measured.size else 0.0,
            "median_angle_se_deg": None if median_se is None else round(median_se, 3),
            "cost_ms_per_frame": round(self.cost_ms_per_frame, 2),
            **self.meta,
        }


# ---------------------------------------------------------------------------------- geometry
def pelvis_geometry(track: PoseTrack, *, smoothing_s: float = 1.0) -> PelvisGeometry:
    """Pelvis box of every frame from the hip landmarks.

    The hip width is smoothed with a running median over ``smoothing_s`` (it changes only
    slowly with the camera distance, while the landmarks jitter). Which anatomical side is
    on the image's left is decided once for the clip (rear view: left is image-left).

    Raises
    ------
    AnalysisError
        No frame has both hip landmarks. (A side view gives a box a few pixels wide, which
        :func:`estimate_from_patches` flags as too small.)
    """
    from scipy.ndimage import median_filter

    left = track.point_px("left_hip")
    right = track.point_px("right_hip")
    centre = 0.5 * (left + right)
    du = right[:, 0] - left[:, 0]
    found = np.isfinite(du)
    if not found.any():
        raise AnalysisError(f"{track.meta.get('source', 'track')}: no frame shows both hips")
    left_is_image_left = bool(np.median(du[found]) > 0)
    width = np.abs(du)
    window = max(1, round(smoothing_s * track.fps) | 1)
    smooth = np.full_like(width, np.nan)
    smooth[found] = median_filter(width[found], size=window, mode="nearest")
    hip_line = np.degrees(np.arctan2(right[:, 1] - left[:, 1], width))
    return PelvisGeometry(
        centre_px=centre,
        hip_width_px=smooth,
        left_is_image_left=left_is_image_left,
        hip_line_deg=hip_line,
        fps=track.fps,
    )


def patch_shape(hip_width_px: float = PATCH_HIP_WIDTH_PX) -> tuple[int, int]:
    """(rows, columns) of a stabilised pelvis patch."""
    rows = round((PATCH_ABOVE_HW + PATCH_BELOW_HW) * hip_width_px)
    cols = round(2 * PATCH_HALF_WIDTH_HW * hip_width_px)
    return rows, cols


def patch_centre(hip_width_px: float = PATCH_HIP_WIDTH_PX) -> tuple[float, float]:
    """(x, y) of the hip midpoint inside a patch, in patch pixels."""
    _, cols = patch_shape(hip_width_px)
    return (cols - 1) / 2.0, PATCH_ABOVE_HW * hip_width_px - 0.5


def registration_mask(hip_width_px: float = PATCH_HIP_WIDTH_PX) -> NDArray[np.bool_]:
    """Patch pixels whose texture is registered: waistband and seat of the shorts."""
    rows, cols = patch_shape(hip_width_px)
    cx, cy = patch_centre(hip_width_px)
    ys, xs = np.mgrid[0:rows, 0:cols]
    x_hw = (xs - cx) / hip_width_px
    y_hw = (ys - cy) / hip_width_px
    return (np.abs(x_hw) < MASK_HALF_WIDTH_HW) & (y_hw > MASK_TOP_HW) & (y_hw < MASK_BOTTOM_HW)


def stabilised_patch(
    image: NDArray[Any],
    centre_px: NDArray[Any],
    hip_width_px: float,
    *,
    patch_hip_width_px: float = PATCH_HIP_WIDTH_PX,
    prefiltered_sigma_px: float = 0.0,
) -> NDArray[np.float32]:
    """Cut the pelvis box out of one frame (grey or RGB), as grey, scaled so the hips are
    ``patch_hip_width_px`` apart.

    Translation and scale only: the pelvis keeps whatever tilt it has in the frame. Only the
    box's neighbourhood is converted and resampled, so the cost does not grow with the frame size.
    ``prefiltered_sigma_px``: Gaussian blur the image already has (a shrunk crop); only the
    rest of the anti-aliasing blur is added, so a patch cut from a crop is as sharp as one cut
    from the frame.
    """
    import cv2

    scale = patch_hip_width_px / float(hip_width_px)
    rows, cols = patch_shape(patch_hip_width_px)
    cx, cy = patch_centre(patch_hip_width_px)
    margin = 2.0 / scale + 2.0
    x0 = int(max(0, np.floor(float(centre_px[0]) - (cx + 1) / scale - margin)))
    y0 = int(max(0, np.floor(float(centre_px[1]) - (cy + 1) / scale - margin)))
    x1 = int(min(image.shape[1], np.ceil(float(centre_px[0]) + (cols - cx) / scale + margin)))
    y1 = int(min(image.shape[0], np.ceil(float(centre_px[1]) + (rows - cy) / scale + margin)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((rows, cols), dtype=np.float32)
    roi = np.asarray(image[y0:y1, x0:x1])
    if roi.ndim == 3:
        roi = cv2.cvtColor(roi, cv2.COLOR_RGB2GRAY)
    roi = roi.astype(np.float32)
    if scale < 1.0:  # anti-alias before shrinking (Gaussian blurs add in quadrature)
        sigma = 0.5 / scale
        if prefiltered_sigma_px > 0.0:
            sigma = float(np.sqrt(max(0.0, sigma**2 - prefiltered_sigma_px**2)))
        if sigma > 0.05:
            roi = cv2.GaussianBlur(roi, (0, 0), sigmaX=sigma, sigmaY=sigma)
    affine = np.array(
        [
            [scale, 0.0, cx - scale * (float(centre_px[0]) - 0.5 - x0)],
            [0.0, scale, cy - scale * (float(centre_px[1]) - 0.5 - y0)],
        ],
        dtype=np.float64,
    )
    patch = cv2.warpAffine(roi, affine, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(patch, dtype=np.float32)


# ---------------------------------------------------------------------------------- crops
@dataclass(frozen=True)
class PelvisCrop:
    """Grey pixels around the pelvis of one frame, cut while the frame was decoded anyway.

    Attributes
    ----------
    image : (rows, cols) uint8.
    origin_px : (x, y) of the crop's top-left corner in frame pixels.
    scale : crop pixels per frame pixel (1 = full resolution, below 1 = shrunk).
    """

    image: NDArray[np.uint8]
    origin_px: tuple[float, float]
    scale: float

    def to_crop_px(self, frame_xy_px: NDArray[Any]) -> NDArray[np.float64]:
        """Frame pixel coordinates (..., 2) as crop pixel coordinates."""
        return (np.asarray(frame_xy_px, dtype=np.float64) - np.array(self.origin_px)) * self.scale


@dataclass(frozen=True)
class PelvisCrops:
    """What the pelvis estimate needs from a clip's frames, instead of the frames themselves.

    Attributes
    ----------
    n_frames : frames of the clip (of its track).
    crops : crop of each frame that showed both hips, by frame index (a dict, or the
        :class:`gaitcheck.extract.CropStore` extraction fills, which compresses long clips' crops).
    scenes : grey whole frames at :func:`scene_frame_indices`, for the camera roll.
    """

    n_frames: int
    crops: Mapping[int, PelvisCrop]
    scenes: dict[int, NDArray[np.uint8]]


def scene_frame_indices(n_frames: int) -> list[int]:
    """Frames (spread over the clip) whose whole image is kept for the camera roll."""
    if n_frames <= 0:
        return []
    return sorted({round(v) for v in np.linspace(0, n_frames - 1, ROLL_SAMPLE_FRAMES)})


def _box_extent_px(hip_width_px: float, patch_hip_width_px: float = PATCH_HIP_WIDTH_PX) -> tuple[float, float, float]:
    """Half width, height above and height below the hip midpoint (frame pixels) that
    :func:`stabilised_patch` reads for a pelvis ``hip_width_px`` wide."""
    scale = patch_hip_width_px / hip_width_px
    rows, cols = patch_shape(patch_hip_width_px)
    cx, cy = patch_centre(patch_hip_width_px)
    margin = 2.0 / scale + 2.0
    return max(cx + 1, cols - cx) / scale + margin, (cy + 1) / scale + margin, (rows - cy) / scale + margin


def pelvis_crop(image: NDArray[Any], landmarks_px: NDArray[Any]) -> PelvisCrop | None:
    """Cut the neighbourhood of the pelvis out of one frame (grey or RGB) as grey.

    Parameters
    ----------
    image : the upright frame.
    landmarks_px : (33, 2) the frame's landmarks in pixels (NaN where unknown); the hips
        and shoulders are used.

    Returns
    -------
    PelvisCrop or None
        The crop holds :func:`stabilised_patch`'s box for a pelvis :data:`CROP_BOX_MARGIN`
        times the robust width (the hip width, at least :data:`CROP_MIN_TORSO_FRACTION` of
        the torso length), at full resolution or shrunk to :data:`CROP_HIP_WIDTH_PX`. None
        when a hip is unknown or the pelvis is less than a pixel wide.
    """
    import cv2

    points = np.asarray(landmarks_px, dtype=np.float64)
    left, right = points[skeleton.index("left_hip")], points[skeleton.index("right_hip")]
    if not (np.isfinite(left).all() and np.isfinite(right).all()):
        return None
    centre = 0.5 * (left + right)
    shoulders = 0.5 * (points[skeleton.index("left_shoulder")] + points[skeleton.index("right_shoulder")])
    torso = float(np.hypot(*(shoulders - centre)))
    width = max(abs(float(right[0] - left[0])), CROP_MIN_TORSO_FRACTION * torso if np.isfinite(torso) else 0.0)
    if width < 1.0:
        return None
    half_width, above, below = _box_extent_px(CROP_BOX_MARGIN * width)
    height, frame_width = image.shape[:2]
    x0 = int(max(0, np.floor(centre[0] - half_width)))
    y0 = int(max(0, np.floor(centre[1] - above)))
    x1 = int(min(frame_width, np.ceil(centre[0] + half_width)))
    y1 = int(min(height, np.ceil(centre[1] + below)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    roi = np.asarray(image[y0:y1, x0:x1])
    grey = np.asarray(cv2.cvtColor(roi, cv2.COLOR_RGB2GRAY) if roi.ndim == 3 else np.array(roi), dtype=np.uint8)
    scale = min(1.0, CROP_HIP_WIDTH_PX / width)
    if scale < 1.0:
        # Shrunk as stabilised_patch shrinks: anti-alias blur, then a bilinear map that keeps
        # pixel centres in place (crop pixel j covers frame pixels x0 + j / scale ...).
        sigma = CROP_ANTIALIAS_SIGMA_PX / scale
        blurred = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma)
        size = (max(2, int(np.ceil((x1 - x0) * scale))), max(2, int(np.ceil((y1 - y0) * scale))))
        shift = 0.5 * scale - 0.5
        affine = np.array([[scale, 0.0, shift], [0.0, scale, shift]], dtype=np.float64)
        shrunk = cv2.warpAffine(blurred, affine, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        grey = np.clip(np.rint(shrunk), 0, 255).astype(np.uint8)
    return PelvisCrop(image=grey, origin_px=(float(x0), float(y0)), scale=scale)


def crops_from_frames(frames: Iterable[NDArray[Any]], track: PoseTrack) -> PelvisCrops:
    """Pelvis crops and scene frames of a sequence of frames (grey or RGB, one per track frame,
    in order), located by the track's hips. Frames beyond the track are ignored."""
    import cv2

    landmarks_px = track.xy_px
    wanted = set(scene_frame_indices(track.n_frames))
    crops: dict[int, PelvisCrop] = {}
    scenes: dict[int, NDArray[np.uint8]] = {}
    for index, image in enumerate(frames):
        if index >= track.n_frames:
            break
        if index in wanted:
            scenes[index] = np.asarray(image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), np.uint8)
        crop = pelvis_crop(image, landmarks_px[index])
        if crop is not None:
            crops[index] = crop
    return PelvisCrops(n_frames=track.n_frames, crops=crops, scenes=scenes)


def patches_from_crops(
    crops: PelvisCrops, geometry: PelvisGeometry, *, patch_hip_width_px: float = PATCH_HIP_WIDTH_PX
) -> tuple[NDArray[np.float32], NDArray[np.bool_], int]:
    """Stabilised patches cut from the crops (as :func:`cut_patches` cuts them from frames).

    Returns the (T, rows, cols) patches, the (T,) frames that have one, and how many frames
    with a pelvis box and a crop were skipped because the box reaches outside the crop.
    """
    n = geometry.centre_px.shape[0]
    rows, cols = patch_shape(patch_hip_width_px)
    patches = np.zeros((n, rows, cols), dtype=np.float32)
    valid = geometry.valid & np.isin(np.arange(n), np.fromiter(crops.crops, dtype=np.int64, count=len(crops.crops)))
    outside = 0
    for index in np.flatnonzero(valid).tolist():
        crop = crops.crops[index]
        width = float(geometry.hip_width_px[index])
        half_width, above, below = _box_extent_px(width, patch_hip_width_px)
        x, y = geometry.centre_px[index]
        corners = crop.to_crop_px(np.array([[x - half_width, y - above], [x + half_width, y + below]]))
        crop_rows, crop_cols = crop.image.shape
        # The box may leave the crop only where the crop ends at the frame's border.
        x0, y0 = crop.origin_px
        fits_left = corners[0, 0] >= -1.0 or x0 == 0.0
        fits_top = corners[0, 1] >= -1.0 or y0 == 0.0
        fits_right = corners[1, 0] <= crop_cols + 1.0
        fits_bottom = corners[1, 1] <= crop_rows + 1.0
        if not (fits_left and fits_top and fits_right and fits_bottom):
            valid[index] = False
            outside += 1
            continue
        patches[index] = stabilised_patch(
            crop.image,
            crop.to_crop_px(geometry.centre_px[index]),
            width * crop.scale,
            prefiltered_sigma_px=CROP_ANTIALIAS_SIGMA_PX if crop.scale < 1.0 else 0.0,
            patch_hip_width_px=patch_hip_width_px,
        )
    return patches, valid, outside


# ---------------------------------------------------------------------------------- registration
@dataclass(frozen=True)
class Registration:
    """Result of aligning a stack of patches to a template.

    Attributes
    ----------
    angle_rad, shift_px : (T,), (T, 2) warp from template to patch coordinates
        (rotation about the patch centre, clockwise on screen for + angles, then shift).
    residual_rms : (T,) RMS of the normalised intensity difference after alignment.
    correlation : (T,) normalised correlation of each aligned patch with the template.
    angle_se_rad : (T,) standard error of the angle, from the correlation and the template's
        rotational texture (assumes independent pixels at the patch scale).
    template : the template the patches were aligned to.
    n_iterations : Gauss-Newton steps taken.
    """

    angle_rad: FloatArray
    shift_px: FloatArray
    residual_rms: FloatArray
    correlation: FloatArray
    angle_se_rad: FloatArray
    template: NDArray[np.float32]
    n_iterations: int


def _sample_stack(
    patches: NDArray[np.float32],
    angle_rad: FloatArray,
    shift_px: FloatArray,
    points_xy: NDArray[np.float32],
    centre: tuple[float, float],
    frames: NDArray[np.intp] | None = None,
) -> NDArray[np.float32]:
    """Intensities of every patch at its warped copy of the template points (bilinear).

    Parameters
    ----------
    patches : (T, rows, cols).
    angle_rad, shift_px : (F,), (F, 2) warp from template to patch coordinates of each
        sampled frame.
    points_xy : (P, 2) template pixel coordinates to sample.
    centre : rotation centre (x, y) in patch pixels.
    frames : (F,) increasing indices of the patches to sample; all T when None.

    Returns
    -------
    (F, P) float32. Points that fall outside a patch take the nearest border value. The
    stack is laid out as one tall mosaic (a view, no copy), so one ``cv2.remap`` call per
    chunk of frames samples all of them.
    """
    import cv2

    _, rows, cols = patches.shape
    frames = np.arange(patches.shape[0]) if frames is None else np.asarray(frames, dtype=np.intp)
    n = frames.size
    # Patch coordinates of the points: (x, y) = R(angle) (point - centre) + centre + shift,
    # for every frame at once as a contraction of each frame's 2 x 3 warp with the points'
    # homogeneous coordinates (numpy's own loops: several times faster than broadcasting the
    # terms one by one, and no BLAS threads).
    cos, sin = np.cos(angle_rad), np.sin(angle_rad)
    warps = np.empty((2, n, 3), dtype=np.float32)
    warps[0, :, 0], warps[0, :, 1], warps[0, :, 2] = cos, -sin, centre[0] + shift_px[:, 0]
    warps[1, :, 0], warps[1, :, 1], warps[1, :, 2] = sin, cos, centre[1] + shift_px[:, 1]
    homogeneous = np.empty((3, points_xy.shape[0]), dtype=np.float32)
    homogeneous[0], homogeneous[1], homogeneous[2] = points_xy[:, 0] - centre[0], points_xy[:, 1] - centre[1], 1.0
    map_x, map_y = np.einsum("afk,kp->afp", warps, homogeneous)
    np.clip(map_x, 0.0, cols - 1.0, out=map_x)
    np.clip(map_y, 0.0, rows - 1.0, out=map_y)
    chunk_frames = max(1, _MOSAIC_MAX_ROWS // rows)
    map_y += ((frames % chunk_frames) * rows).astype(np.float32)[:, None]  # row in the chunk's mosaic
    out = np.empty((n, points_xy.shape[0]), dtype=np.float32)
    # Chunks of the whole stack (contiguous, so each mosaic is a view); each samples the
    # requested frames that fall inside it.
    bounds = np.searchsorted(frames, np.arange(0, patches.shape[0] + chunk_frames, chunk_frames))
    for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if first == last:
            continue
        base = int(frames[first]) // chunk_frames * chunk_frames
        mosaic = patches[base : base + chunk_frames].reshape(-1, cols)
        cv2.remap(
            mosaic,
            np.ascontiguousarray(map_x[first:last]),
            np.ascontiguousarray(map_y[first:last]),
            cv2.INTER_LINEAR,
            dst=out[first:last],
            borderMode=cv2.BORDER_REPLICATE,
        )
    return out


def _row_medians(values: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]]:
    """Median of each row of a 2-D float array, as a (rows, 1) column of the same dtype.

    Same values as ``np.median(values, axis=-1, keepdims=True)`` (finite values), about five
    times faster: numpy partitions an even-length row around both middle positions, which
    costs several single partitions, whereas the lower middle value is the largest element
    left of the upper one after a single partition.
    """
    n_columns = values.shape[-1]
    middle = n_columns // 2
    partitioned = np.partition(values, middle, axis=-1)
    upper = partitioned[:, middle : middle + 1]
    if n_columns % 2:
        return upper
    lower = partitioned[:, :middle].max(axis=-1, keepdims=True)
    return np.asarray((lower + upper) / 2, dtype=values.dtype)


def _huber_weights(error: NDArray[Any], k: float = 1.345) -> NDArray[Any]:
    """Huber weights of residuals (same dtype), scaled per row by the median absolute deviation."""
    absolute = np.abs(error)
    sigma = 1.4826 * _row_medians(absolute)
    ratio = absolute / np.maximum(sigma, 1e-6)
    return np.asarray(np.minimum(1.0, k / np.maximum(ratio, 1e-12)), dtype=error.dtype)


def _normalised_rows(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """Zero mean and unit standard deviation along the last axis."""
    centred = values - values.mean(axis=-1, keepdims=True)
    std = np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True))  # np.std's arithmetic, centred once
    centred /= np.where(std > 1e-6, std, 1.0).astype(centred.dtype)
    return np.asarray(centred, dtype=np.float32)


def align_to_template(
    patches: NDArray[np.float32],
    template: NDArray[Any],
    mask: NDArray[np.bool_],
    *,
    angle_rad: FloatArray | None = None,
    shift_px: FloatArray | None = None,
    n_iterations: int = _N_ITERATIONS,
    point_step: int = 1,
    robust: bool = False,
) -> Registration:
    """Euclidean alignment of every patch to one template, all frames at once.

    Inverse-compositional Lucas-Kanade on intensities normalised inside ``mask`` (so
    brightness and contrast changes do not matter): the steepest-descent images and the
    3x3 Hessian come from the template once, and each iteration costs one batched resample
    and one tensor contraction.

    Parameters
    ----------
    patches : (T, rows, cols) stabilised patches.
    template : (rows, cols) reference image.
    mask : (rows, cols) pixels that take part.
    angle_rad, shift_px : starting warp (T,), (T, 2); zero by default.
    n_iterations : at most this many Gauss-Newton steps.
    point_step : use every ``point_step``-th mask pixel in a diagonal lattice (2 halves the cost).
    robust : down-weight pixels with large differences (Huber weights, iteratively
        re-weighted), so that an arm or hand over the pelvis, or an asymmetric print, counts less.
    """
    import cv2

    n, rows, cols = patches.shape
    centre = patch_centre(cols / (2 * PATCH_HALF_WIDTH_HW))
    angle = np.zeros(n) if angle_rad is None else np.array(angle_rad, dtype=np.float64)
    shift = np.zeros((n, 2)) if shift_px is None else np.array(shift_px, dtype=np.float64)
    smooth_template = cv2.GaussianBlur(np.asarray(template, dtype=np.float32), (0, 0), 0.8)
    grad_y, grad_x = np.gradient(smooth_template)
    ys, xs = np.nonzero(mask & ((np.add.outer(np.arange(rows), np.arange(cols)) % point_step) == 0))
    points = np.stack([xs, ys], axis=1).astype(np.float32)
    reference_raw = smooth_template[ys, xs]
    scale = max(float(reference_raw.std()), 1e-6)
    reference = (reference_raw - reference_raw.mean()) / scale
    xc, yc = xs - centre[0], ys - centre[1]
    steepest = np.stack([grad_x[ys, xs] * -yc + grad_y[ys, xs] * xc, grad_x[ys, xs], grad_y[ys, xs]]) / scale
    # A small ridge keeps a textureless template (flat patch) solvable; its angles then carry
    # a huge standard error instead of raising.
    ridge = 1e-9 * max(float(np.sum(steepest**2)), 1.0) * np.eye(3)
    hessian_inv = np.linalg.inv(steepest @ steepest.T + ridge)
    projector = (hessian_inv @ steepest).astype(np.float32)  # (3, P)
    # The Hessian is symmetric: its 6 distinct entries' per-point products (row, column).
    upper_row, upper_col = np.triu_indices(3)
    steepest_products = steepest[upper_row] * steepest[upper_col]  # (6, P)
    steepest_32 = steepest.astype(np.float32)
    products_32 = steepest_products.astype(np.float32)
    reference_32 = reference.astype(np.float32)
    # Frames still moving; a frame whose angle step falls below _CONVERGED_RAD is done (each
    # frame's alignment is independent of the others), so later iterations cost only the
    # few slow frames.
    active = np.arange(n)
    iterations = 0
    for iterations in range(1, n_iterations + 1):  # noqa: B007 (the count is reported)
        sampled = _sample_stack(patches, angle[active], shift[active], points, centre, active)
        error = _normalised_rows(sampled) - reference_32  # (F, P)
        if robust:
            weights = _huber_weights(error)
            # Per-frame weighted 3x3 Hessians and gradients as two contractions (numpy's own
            # loops: OpenBLAS's worker threads would spin on the other core between iterations).
            entries = np.einsum("fp,kp->fk", weights, products_32).astype(np.float64)
            hessians = np.empty((entries.shape[0], 3, 3))
            hessians[:, upper_row, upper_col] = entries
            hessians[:, upper_col, upper_row] = entries
            hessians += ridge
            gradients = np.einsum("fp,kp->fk", weights * error, steepest_32).astype(np.float64)
            step = np.linalg.solve(hessians, gradients[..., None])[..., 0]
        else:
            step = np.einsum("fp,kp->fk", error, projector).astype(np.float64)  # (F, 3): d_angle, d_shift_x, d_shift_y
        # Inverse composition W(p) <- W(p) o W(dp)^-1 for a Euclidean warp.
        angle[active] -= step[:, 0]
        cos, sin = np.cos(angle[active]), np.sin(angle[active])
        shift[active] -= np.stack([cos * step[:, 1] - sin * step[:, 2], sin * step[:, 1] + cos * step[:, 2]], axis=1)
        active = active[np.abs(step[:, 0]) >= _CONVERGED_RAD]
        if active.size == 0:
            break
    sampled = _normalised_rows(_sample_stack(patches, angle, shift, points, centre)).astype(np.float64)
    # Frame = r * template + noise (both normalised): the noise variance is 1 - r^2 and the
    # template's rotational information scales with r^2, so texture that is not repeated
    # from frame to frame (noise in a plain region) carries no information.
    correlation = np.clip(np.einsum("fp,p->f", sampled, reference) / reference.size, 1e-3, 1.0)
    residual_var = np.mean((sampled - reference) ** 2, axis=1)
    angle_se = np.sqrt(np.maximum(1.0 - correlation**2, 1e-6) / correlation**2 * hessian_inv[0, 0])
    return Registration(
        angle_rad=angle,
        shift_px=shift,
        residual_rms=np.sqrt(residual_var),
        correlation=correlation,
        angle_se_rad=angle_se,
        template=np.asarray(template, dtype=np.float32),
        n_iterations=iterations,
    )


def aligned_mean(patches: NDArray[np.float32], registration: Registration) -> NDArray[np.float32]:
    """Mean of the patches resampled onto the template grid (a sharp template when aligned)."""
    _, rows, cols = patches.shape
    ys, xs = np.mgrid[0:rows, 0:cols]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    centre = patch_centre(cols / (2 * PATCH_HALF_WIDTH_HW))
    n = patches.shape[0]
    total = np.zeros(rows * cols)
    # Blocks of frames, so the coordinate maps and samples of a long clip stay small.
    for first in range(0, n, _MEAN_BLOCK_FRAMES):
        frames = np.arange(first, min(n, first + _MEAN_BLOCK_FRAMES))
        angle, shift = registration.angle_rad[frames], registration.shift_px[frames]
        total += _sample_stack(patches, angle, shift, grid, centre, frames).sum(axis=0, dtype=np.float64)
    return np.asarray(total.reshape(rows, cols) / max(n, 1), dtype=np.float32)


def register_patches(
    patches: NDArray[np.float32],
    mask: NDArray[np.bool_],
    *,
    n_passes: int = _N_PASSES,
    point_step: int = 2,
    robust: bool = False,
) -> tuple[Registration, Registration]:
    """Align a stack of patches to their own mean, rebuilding the template after each pass.

    The first template (the median patch) is blurred by the pelvis rotation, so the first
    pass under-reads the angles; each later pass uses the mean of the aligned patches, which
    is sharp, and the angle gain converges to one (measured in docs/pelvis.md).

    Returns
    -------
    final, first : the last pass and the first one. The first pass's correlations measure
        how much repeatable texture the pelvis region has: a plain region matches its median
        poorly, and later passes can then lock onto noise and the region's border.
    """
    template = np.median(patches, axis=0).astype(np.float32)
    first = registration = align_to_template(patches, template, mask, point_step=point_step, robust=robust)
    for _ in range(n_passes - 1):
        template = aligned_mean(patches, registration)
        registration = align_to_template(
            patches,
            template,
            mask,
            angle_rad=registration.angle_rad,
            shift_px=registration.shift_px,
            point_step=point_step,
            robust=robust,
        )
    return registration, first


def repair_outliers(
    patches: NDArray[np.float32],
    mask: NDArray[np.bool_],
    registration: Registration,
    *,
    window_frames: int,
    robust: bool = True,
) -> tuple[Registration, NDArray[np.bool_]]:
    """Re-align frames whose angle jumps away from their neighbours; report those that stay off.

    A hand crossing the pelvis or a periodic pattern (hoops) can trap a frame's alignment in
    a wrong minimum for a few frames. The pelvis angle is smooth over a few frames, so a
    frame further than :data:`OUTLIER_MIN_DEG` (and 3 robust standard deviations) from the
    running median of its neighbours is aligned again, starting from that median, and kept
    if it then matches the template better. A frame stays an outlier when it still disagrees
    and the second try found a different answer (two minima, the better one off the trend);
    a true sharp peak gives the same answer twice and is kept.

    Returns
    -------
    registration : with the repaired frames replaced.
    outlier : (T,) frames still off after the second try (not to be trusted).
    """
    from scipy.ndimage import median_filter

    def deviation(angle_rad: FloatArray) -> tuple[NDArray[np.bool_], FloatArray]:
        angle_deg = np.degrees(angle_rad)
        running = median_filter(angle_deg, size=window_frames, mode="nearest")
        off = np.abs(angle_deg - running)
        spread = 1.4826 * float(np.median(off))
        return np.asarray(off > max(OUTLIER_MIN_DEG, 3.0 * spread), dtype=np.bool_), np.radians(running)

    outlier, running_rad = deviation(registration.angle_rad)
    if not outlier.any():
        return registration, outlier
    start_shift = median_filter(registration.shift_px, size=(window_frames, 1), mode="nearest")
    retry = align_to_template(
        patches[outlier],
        registration.template,
        mask,
        angle_rad=running_rad[outlier],
        shift_px=start_shift[outlier],
        point_step=2,
        robust=robust,
    )
    better = np.zeros_like(outlier)
    better[outlier] = retry.correlation > registration.correlation[outlier]

    def merged(name: str) -> FloatArray:
        values = np.array(getattr(registration, name))
        values[better] = getattr(retry, name)[better[outlier]]
        return values

    repaired = dataclasses.replace(
        registration,
        angle_rad=merged("angle_rad"),
        shift_px=merged("shift_px"),
        residual_rms=merged("residual_rms"),
        correlation=merged("correlation"),
        angle_se_rad=merged("angle_se_rad"),
    )
    # A frame whose second try lands where the first did is a true extreme (a sharp peak),
    # not a trapped alignment.
    same_answer = np.zeros_like(outlier)
    same_answer[outlier] = np.abs(retry.angle_rad - registration.angle_rad[outlier]) < np.radians(OUTLIER_SAME_DEG)
    still_off, _ = deviation(repaired.angle_rad)
    return repaired, still_off & outlier & ~same_answer


def mirror_tilt(template: NDArray[np.float32], mask: NDArray[np.bool_]) -> tuple[float, float]:
    """Tilt of the template's left/right symmetry axis and how symmetric it is.

    The template is aligned to its own mirror image; the mirror image is rotated by twice
    the tilt the other way.

    Returns
    -------
    tilt_rad : rotation of the template relative to an upright symmetric pelvis (clockwise
        on screen for +).
    correlation : normalised correlation of the template and its aligned mirror image inside
        the mask (1 = perfectly symmetric).
    """
    import cv2

    detail = template - cv2.GaussianBlur(template, (0, 0), MIRROR_HIGHPASS_SIGMA_PX)
    mirrored = np.ascontiguousarray(detail[:, ::-1])[None]
    fit = align_to_template(mirrored, detail, mask, robust=True, n_iterations=50)
    return -0.5 * float(fit.angle_rad[0]), float(fit.correlation[0])


def template_detail(template: NDArray[Any], mask: NDArray[np.bool_], sigma_px: float = 2.0) -> float:
    """Fraction of the template's contrast that is fine detail (0 = all blur, about 0.3 for sharp shorts).

    Standard deviation, inside the mask, of the template minus its Gaussian blur
    (``sigma_px`` patch pixels), with the template normalised to unit standard deviation.
    """
    import cv2

    values = np.asarray(template, dtype=np.float32)
    spread = float(values[mask].std())
    if spread <= 1e-6:
        return 0.0
    normalised = (values - float(values[mask].mean())) / spread
    high_pass = normalised - cv2.GaussianBlur(normalised, (0, 0), sigma_px)
    return float(high_pass[mask].std())


# ---------------------------------------------------------------------------------- estimate
def _finite_median(values: FloatArray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def estimate_from_patches(
    patches: NDArray[np.float32],
    valid: NDArray[np.bool_],
    geometry: PelvisGeometry,
    *,
    native_hip_width_px: float,
    patch_hip_width_px: float = PATCH_HIP_WIDTH_PX,
) -> PelvisEstimate:
    """Obliquity of every frame from its stabilised pelvis patch.

    Parameters
    ----------
    patches : (T, rows, cols) patches from :func:`stabilised_patch` (any values where not valid).
    valid : (T,) frames whose patch is usable.
    geometry : the boxes the patches were cut from (sides, landmark hip line).
    native_hip_width_px : median hip width in the video, for the resolution check.
    patch_hip_width_px : scale the patches were cut at.
    """
    started = time.perf_counter()
    n = patches.shape[0]
    mask = registration_mask(patch_hip_width_px)
    side_sign = 1.0 if geometry.left_is_image_left else -1.0
    obliquity = np.full(n, np.nan)
    height_px = np.full(n, np.nan)
    angle_se_deg = np.full(n, np.inf)
    reasons: list[str] = []
    anchor, anchor_deg, mirror_corr = "none", float("nan"), float("nan")
    texture_correlation, detail, n_outliers = float("nan"), float("nan"), 0
    if valid.sum() >= max(3, MIN_FRAME_FRACTION * n):
        registration, first_pass = register_patches(patches[valid], mask, robust=ROBUST_REGISTRATION)
        window = max(3, round(OUTLIER_WINDOW_S * geometry.fps) | 1)
        registration, outlier = repair_outliers(
            patches[valid], mask, registration, window_frames=window, robust=ROBUST_REGISTRATION
        )
        n_outliers = int(outlier.sum())
        texture_correlation = float(np.median(first_pass.correlation))
        detail = template_detail(registration.template, mask)
        tilt_rad, mirror_corr = mirror_tilt(registration.template, mask)
        relative_deg = side_sign * np.degrees(registration.angle_rad)
        if mirror_corr >= MIN_MIRROR_CORRELATION:
            anchor, anchor_deg = "mirror-symmetry", side_sign * float(np.degrees(tilt_rad))
        else:
            anchor = "hip-line-mean"
            anchor_deg = float(np.nanmean(geometry.hip_line_deg[valid] - relative_deg))
            reasons.append(
                f"the pelvis region is not left/right symmetric (mirror correlation {mirror_corr:.2f}); "
                "the absolute level comes from the hip landmarks"
            )
        obliquity[valid] = relative_deg + anchor_deg
        # The warp puts the template's centre at the patch centre plus the shift; the patch
        # centre is the landmark hip midpoint and a patch pixel is hip_width / patch_hip_width
        # frame pixels (patches are cut upright, so the shift's axes are the frame's).
        frame_px_per_patch_px = geometry.hip_width_px[valid] / patch_hip_width_px
        height_px[valid] = geometry.centre_px[valid, 1] + registration.shift_px[:, 1] * frame_px_per_patch_px
        height_px[np.flatnonzero(valid)[outlier]] = np.nan
        # Patches cut from a small pelvis are upsampled: fewer independent pixels than patch pixels.
        upsampling = max(1.0, patch_hip_width_px / max(native_hip_width_px, 1e-6))
        angle_se_deg[valid] = np.where(outlier, np.inf, np.degrees(registration.angle_se_rad) * upsampling)
    else:
        reasons.append(f"the pelvis was located in only {int(valid.sum())} of {n} frames")
    if texture_correlation < MIN_TEXTURE_CORRELATION:
        reasons.append(
            f"the pelvis region has little repeatable texture (correlation {texture_correlation:.2f} with its "
            f"median image, need {MIN_TEXTURE_CORRELATION}): plain clothing or a shirt over the waistband; "
            "wear shorts with a visible waistband or pattern"
        )
        angle_se_deg[:] = np.inf
    measured = angle_se_deg < MAX_ANGLE_SE_DEG
    median_se = _finite_median(angle_se_deg)
    if median_se is not None and median_se > LOW_QUALITY_MEDIAN_SE_DEG:
        reasons.append(
            f"too little texture on the pelvis (median angle error {median_se:.2f} deg): plain shorts, a shirt "
            "over the waistband, blur or low resolution; wear shorts with a visible waistband or pattern"
        )
    if detail < MIN_TEMPLATE_DETAIL:
        reasons.append(
            f"the pelvis image is blurred or coarse (fine detail {detail:.2f}, need {MIN_TEMPLATE_DETAIL}): "
            "film at a higher resolution, closer, in better light or with a faster shutter"
        )
    if native_hip_width_px < MIN_NATIVE_HIP_WIDTH_PX:
        reasons.append(
            f"the hips are only {native_hip_width_px:.0f} px apart in the video (need {MIN_NATIVE_HIP_WIDTH_PX:.0f}): "
            "pelvic drop needs a rear or front view, filmed close enough or at a higher resolution"
        )
    obliquity[~measured] = np.nan
    confidence = np.where(measured, 1.0 / (1.0 + (angle_se_deg / LOW_QUALITY_MEDIAN_SE_DEG) ** 2), 0.0)
    if reasons:  # the values stay for inspection, but nothing should rely on them
        confidence *= LOW_QUALITY_CONFIDENCE_FACTOR
    elapsed_ms = 1e3 * (time.perf_counter() - started)
    return PelvisEstimate(
        obliquity_deg=obliquity,
        height_px=height_px,
        confidence=confidence,
        angle_se_deg=angle_se_deg,
        hip_line_deg=geometry.hip_line_deg,
        method=METHOD_TEXTURE,
        quality="low" if reasons else "ok",
        reasons=tuple(reasons),
        anchor=anchor,
        anchor_deg=anchor_deg,
        mirror_correlation=mirror_corr,
        cost_ms_per_frame=elapsed_ms / max(n, 1),
        meta={
            "native_hip_width_px": round(float(native_hip_width_px), 1),
            "texture_correlation": round(texture_correlation, 3),
            "template_detail": round(detail, 3),
            "outlier_frames": n_outliers,
            "registration_ms_per_frame": round(elapsed_ms / max(n, 1), 3),
        },
    )


def cut_patches(
    frames: Iterable[NDArray[Any]],
    geometry: PelvisGeometry,
    *,
    patch_hip_width_px: float = PATCH_HIP_WIDTH_PX,
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Stabilised patches cut straight from a sequence of frames (grey or RGB, one per track
    frame, in order): the reference that :func:`patches_from_crops` reproduces from crops.

    Returns the (T, rows, cols) patches and the (T,) frames that have one (a pelvis box and a
    frame; frames missing at the end of the sequence count as not valid).
    """
    n = geometry.centre_px.shape[0]
    rows, cols = patch_shape(patch_hip_width_px)
    patches = np.zeros((n, rows, cols), dtype=np.float32)
    valid = geometry.valid.copy()
    count = 0
    for index, image in enumerate(frames):
        if index >= n:
            break
        count += 1
        if valid[index]:
            patches[index] = stabilised_patch(
                image, geometry.centre_px[index], geometry.hip_width_px[index], patch_hip_width_px=patch_hip_width_px
            )
    valid[count:] = False
    return patches, valid


# ---------------------------------------------------------------------------------- camera roll
def runner_box_px(track: PoseTrack, frame: int, margin: float = 0.15) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) around every landmark of one frame, grown by ``margin`` of its height."""
    points = track.xy_px[frame]
    points = points[np.isfinite(points).all(axis=1)]
    if points.shape[0] == 0:
        return None
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    grow = margin * (y1 - y0)
    return float(x0 - grow), float(y0 - grow), float(x1 + grow), float(y1 + grow)


def estimate_camera_roll_deg(
    gray: NDArray[Any], runner_box: tuple[float, float, float, float] | None = None
) -> tuple[float, float]:
    """Camera roll from the scene's horizontal lines (floor/wall junction, wall stripes, floor seams).

    Near-horizontal edges outside the runner's box vote, weighted by edge strength, for the
    angle whose projection profile (edge strength summed along lines of that angle) is most
    peaked: long straight lines, even dashed ones, concentrate at one offset. Assumes those
    lines are level in the world and the camera looks roughly along the running direction
    (rear/front view); camera pan of a few degrees tilts them by a fraction of a degree.

    Returns
    -------
    roll_deg : + = camera rotated clockwise (the scene appears rotated counter-clockwise),
        gaitsynth's convention. NaN when there are no horizontal edges.
    peakiness : best projection score over the median score across angles (about 1 when the
        scene has no straight horizontals; trust the roll only well above that).
    """
    import cv2

    scale = ROLL_WORK_WIDTH_PX / gray.shape[1]
    small = cv2.resize(np.asarray(gray, np.float32), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 1.0)
    height, width = small.shape
    grad_x = cv2.Sobel(small, cv2.CV_32F, 1, 0)
    grad_y = cv2.Sobel(small, cv2.CV_32F, 0, 1)
    strength = np.abs(grad_y)
    if runner_box is not None:
        x0, y0, x1, y1 = (round(v * scale) for v in runner_box)
        strength[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = 0.0
    threshold = np.quantile(strength, ROLL_EDGE_QUANTILE)
    edge = (strength > threshold) & (np.abs(grad_x) < ROLL_MAX_EDGE_SLOPE * strength)
    ys, xs = np.nonzero(edge)
    if ys.size < 10:
        return float("nan"), 0.0
    weights = strength[ys, xs].astype(np.float64)
    angles = np.radians(np.arange(-ROLL_SEARCH_DEG, ROLL_SEARCH_DEG + 1e-9, ROLL_STEP_DEG))
    offsets = (ys - height / 2.0)[None, :] * np.cos(angles)[:, None] - (xs - width / 2.0)[None, :] * np.sin(angles)[
        :, None
    ]
    n_bins = 2 * (width + height)
    bins = np.rint(offsets).astype(np.int64) + width + height
    flat = bins + n_bins * np.arange(angles.size)[:, None]
    profiles = np.bincount(
        flat.ravel(), weights=np.broadcast_to(weights, flat.shape).ravel(), minlength=angles.size * n_bins
    )
    score = np.sum(profiles.reshape(angles.size, n_bins) ** 2, axis=1)
    best = int(np.argmax(score))
    # A line y cos(a) - x sin(a) = c rises to the right on screen for a < 0: the scene turned
    # counter-clockwise, i.e. positive roll.
    return -float(np.degrees(angles[best])), float(score[best] / np.median(score))


def estimate_from_crops(crops: PelvisCrops, track: PoseTrack) -> PelvisEstimate:
    """In-image pelvic obliquity of every track frame from the clip's pelvis crops (no file I/O).

    Parameters
    ----------
    crops : the clip's pelvis crops and scene frames (:func:`crops_from_frames`, or cut by
        :func:`gaitcheck.extract.extract_with_pelvis_crops` during extraction).
    track : the pose track of those frames (e.g. cleaned); only the hips are used.
    """
    started = time.perf_counter()
    geometry = pelvis_geometry(track)
    native_width = _finite_median(geometry.hip_width_px) or 0.0
    patches, valid, outside = patches_from_crops(crops, geometry)
    estimate = estimate_from_patches(patches, valid, geometry, native_hip_width_px=native_width)
    rolls = [
        estimate_camera_roll_deg(gray, runner_box_px(track, index))
        for index, gray in sorted(crops.scenes.items())
        if index < track.n_frames
    ]
    roll = [r for r, peakiness in rolls if np.isfinite(r) and peakiness >= MIN_ROLL_PEAKINESS]
    roll_deg = float(np.median(roll)) if roll else float("nan")
    side_sign = 1.0 if geometry.left_is_image_left else -1.0
    return dataclasses.replace(
        estimate,
        camera_roll_deg=roll_deg,
        obliquity_level_deg=estimate.obliquity_deg + side_sign * roll_deg,
        cost_ms_per_frame=1e3 * (time.perf_counter() - started) / max(track.n_frames, 1),
        meta={**estimate.meta, "roll_peakiness": [round(p, 2) for _, p in rolls], "frames_outside_crop": outside},
    )


def estimate_from_frames(frames: Iterable[NDArray[Any]], track: PoseTrack) -> PelvisEstimate:
    """In-image pelvic obliquity of every track frame from the frames themselves (no file I/O).

    The frames are reduced to pelvis crops first (:func:`crops_from_frames`), exactly as
    extraction does, so both routes give the same estimate.

    Parameters
    ----------
    frames : the clip's frames in order (upright, grey or RGB), one per track frame.
    track : the pose track of those frames; only the hips are used.
    """
    started = time.perf_counter()
    estimate = estimate_from_crops(crops_from_frames(frames, track), track)
    return _with_cost(estimate, 1e3 * (time.perf_counter() - started) / max(track.n_frames, 1))


def estimate_pelvis_obliquity(video_path: str | os.PathLike[str], track: PoseTrack) -> PelvisEstimate:
    """In-image pelvic obliquity of every track frame, measured from the video's pelvis region.

    Parameters
    ----------
    video_path : the clip the track was extracted from (same frames, same order).
    track : its pose track (MediaPipe or truth replay); only the hips are used.

    Returns
    -------
    PelvisEstimate
        ``obliquity_deg`` has one value per track frame (NaN where not measured) and can be
        passed as ``pelvis_obliquity_deg`` to :func:`gaitcheck.metrics.compute_strides`
        when ``quality == "ok"``.

    Raises
    ------
    InputError, VideoError
        The video cannot be read.
    AnalysisError
        No frame shows both hips.
    """
    from gaitcheck.video import iter_luma_frames

    started = time.perf_counter()
    frames = iter_luma_frames(Path(video_path), stop=track.n_frames)
    estimate = estimate_from_frames((frame.luma for frame in frames), track)
    return _with_cost(estimate, 1e3 * (time.perf_counter() - started) / max(track.n_frames, 1))


_ESTIMATE_ARRAYS: Final[tuple[str, ...]] = ("obliquity_deg", "confidence", "angle_se_deg", "hip_line_deg")


def save_estimate(estimate: PelvisEstimate, path: str | os.PathLike[str]) -> None:
    """Write an estimate to ``path`` (``.npz``: the per-frame arrays and a JSON header), atomically."""
    import json

    from gaitcheck.fileio import atomic_path, jsonable

    header = {
        name: getattr(estimate, name)
        for name in ("method", "quality", "reasons", "anchor", "anchor_deg", "mirror_correlation")
    }
    header.update(cost_ms_per_frame=estimate.cost_ms_per_frame, camera_roll_deg=estimate.camera_roll_deg)
    arrays: dict[str, Any] = {name: np.asarray(getattr(estimate, name), dtype=np.float64) for name in _ESTIMATE_ARRAYS}
    for optional in ("obliquity_level_deg", "height_px"):
        if getattr(estimate, optional) is not None:
            arrays[optional] = np.asarray(getattr(estimate, optional), dtype=np.float64)
    text = json.dumps({**jsonable(header), "reasons": list(estimate.reasons), "meta": jsonable(estimate.meta)})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        np.savez(stream, header=np.array(text), **arrays)


def load_estimate(path: str | os.PathLike[str]) -> PelvisEstimate | None:
    """An estimate written by :func:`save_estimate`; None when the file is missing or unreadable."""
    import json
    import zipfile

    try:
        with np.load(Path(path), allow_pickle=False) as stored:
            header = json.loads(str(stored["header"]))
            arrays = {name: np.array(stored[name]) for name in stored.files if name != "header"}
        return PelvisEstimate(
            **{name: arrays[name] for name in _ESTIMATE_ARRAYS},
            obliquity_level_deg=arrays.get("obliquity_level_deg"),
            height_px=arrays.get("height_px"),
            method=str(header["method"]),
            quality="ok" if header["quality"] == "ok" else "low",
            reasons=tuple(header["reasons"]),
            anchor=str(header["anchor"]),
            anchor_deg=_float_or_nan(header["anchor_deg"]),
            mirror_correlation=_float_or_nan(header["mirror_correlation"]),
            cost_ms_per_frame=_float_or_nan(header["cost_ms_per_frame"]),
            camera_roll_deg=_float_or_nan(header["camera_roll_deg"]),
            meta=dict(header["meta"]),
        )
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):
        return None


def _float_or_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _with_cost(estimate: PelvisEstimate, cost_ms_per_frame: float) -> PelvisEstimate:
    return dataclasses.replace(estimate, cost_ms_per_frame=cost_ms_per_frame)
