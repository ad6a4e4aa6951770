"""Key frames: the moments behind the headline numbers, with the skeleton and the angle drawn.

* :func:`select_key_frames` (pure) picks the frame of the largest pelvic drop and of the
  largest knee valgus (rear/front views) and the landing with the heel farthest ahead
  (side views), using the per-stance values of the strides table, leaving out stances
  whose value is an outlier and frames whose hip line or leg has collapsed (tracking
  glitches rather than the runner's peak);
* :func:`draw_key_frame` (pure) crops the frame around the runner and draws on it;
* :func:`display_xy_px` (pure) gives the landmark pixels to draw, here and in the overlay
  video: the arms steadied for display only;
* :func:`read_frames` is the only function here that touches a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.clean import BODY_LANDMARKS, lowpass_across_gaps
from gaitcheck.track import PoseTrack

FloatArray = NDArray[np.floating[Any]]
ImageArray = NDArray[np.uint8]

MAX_KEY_FRAME_WIDTH_PX = 560
#: Stances beyond the quartiles by this many interquartile ranges are not chosen as key frames.
OUTLIER_IQRS = 3.0
OUTLIER_MIN_FRACTION = 0.25
OUTLIER_MIN_UNITS = 2.0
#: A hip line or leg shorter than this fraction of its median length marks a failed frame.
MIN_SPAN_FRACTION = 0.5
#: Display-only low-pass of the landmarks cleaning leaves as the pose model placed them (arms,
#: hands, face): cutoff, capped at a fraction of Nyquist. Arm swing follows the stride
#: (~1.5 Hz, harmonics to ~5 Hz). Chosen among 4-12 Hz on the MediaPipe tracks of demo_side
#: and demo_rear against their truth: the frame-to-frame jitter of elbows and wrists (p95 of
#: the 2nd difference) falls from a median 4.5x the true motion's to 1.4x, their median and
#: p95 error do not grow. Held out: the shared suite (2.8x -> 0.8x) and 17 extra renders
#: (2.4x -> 0.8x), errors unchanged or lower.
DISPLAY_CUTOFF_HZ = 6.0
DISPLAY_MAX_CUTOFF_NYQUIST_FRACTION = 0.4
_CROP_MARGIN = 0.18
_SKELETON_RGB = (80, 220, 255)
_ANGLE_RGB = (255, 60, 60)
_REFERENCE_RGB = (255, 255, 255)


@dataclass(frozen=True)
class KeyFrameSpec:
    """Which frame to show and what to draw on it."""

    kind: str  # "pelvic_drop" | "knee_valgus" | "heel_contact"
    frame: int
    time_s: float
    side: str
    value: float
    unit: str
    title: str
    caption: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "frame": self.frame,
            "time_s": self.time_s,
            "side": self.side,
            "value": self.value,
            "unit": self.unit,
            "title": self.title,
            "caption": self.caption,
        }


def _candidates(strides: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Complete stances ordered by ``metric``, largest first, outliers left out.

    Per side, a value beyond Tukey's far-out fences (quartiles -/+ :data:`OUTLIER_IQRS` x the
    interquartile range, but at least a quarter of the median and 2 units, so that a tight
    but honest spread is not cut) is taken as a tracking glitch, not as the runner's peak.
    """
    if metric not in strides.columns:
        return strides.iloc[:0]
    usable = strides[strides["complete"].astype(bool)] if "complete" in strides.columns else strides
    values = usable[metric].to_numpy(dtype=np.float64)
    keep = np.isfinite(values)
    for side in skeleton.SIDES:
        on_side = keep & (usable["side"] == side).to_numpy()
        if on_side.sum() >= 4:
            q1, q3 = np.percentile(values[on_side], [25, 75])
            median = float(np.median(values[on_side]))
            spread = max(OUTLIER_IQRS * (q3 - q1), OUTLIER_MIN_FRACTION * abs(median), OUTLIER_MIN_UNITS)
            keep &= ~on_side | ((values >= q1 - spread) & (values <= q3 + spread))
    return usable[keep].sort_values(metric, ascending=False, kind="stable")


def _plausible_span(start: FloatArray, end: FloatArray) -> NDArray[np.bool_]:
    """(T,) True where the segment start-end is seen and at least half its median length
    (a hip line or leg collapsed to a point is a tracking failure, not a posture)."""
    length = np.linalg.norm(end - start, axis=1)
    seen = np.isfinite(length)
    if not seen.any():
        return seen
    return seen & (length >= MIN_SPAN_FRACTION * float(np.median(length[seen])))


def _peak_frame(signal: FloatArray, first: int, last: int) -> int:
    window = signal[first : last + 1]
    if not np.isfinite(window).any():
        return first
    return first + int(np.nanargmax(window))


def select_key_frames(
    track: PoseTrack, strides: pd.DataFrame, view: str, signals: Mapping[str, Mapping[str, FloatArray]]
) -> list[KeyFrameSpec]:
    """Key frames of one clip.

    Parameters
    ----------
    track : the cleaned track the strides were measured on (frame indices refer to it).
    strides : per-stance table with ``side``, ``ic_frame``, ``to_frame`` and metric columns.
    view : the clip's camera view.
    signals : per-frame signals from :func:`gaitcheck.report.signals.report_signals`.
    """
    specs: list[KeyFrameSpec] = []
    last_frame = track.n_frames - 1
    hips_seen = _plausible_span(track.point_px("left_hip"), track.point_px("right_hip"))

    def first_plausible(metric: str, ok: Callable[[str, int], bool]) -> tuple[pd.Series, int] | None:
        for _, row in _candidates(strides, metric).iterrows():
            side = str(row["side"])
            frame = _peak_frame(signals[metric][side], int(row["ic_frame"]), min(int(row["to_frame"]), last_frame))
            if ok(side, frame):
                return row, frame
        return None

    drop = (
        first_plausible("pelvic_drop_deg", lambda side, f: bool(hips_seen[f])) if "pelvic_drop_deg" in signals else None
    )
    if drop is not None:
        row, frame = drop
        side, value = str(row["side"]), float(row["pelvic_drop_deg"])
        specs.append(
            KeyFrameSpec(
                "pelvic_drop",
                frame,
                float(track.time_s[frame]),
                side,
                value,
                "deg",
                f"Largest pelvic drop ({side} stance)",
                f"Standing on the {side} leg, the other side of the pelvis sags {value:.1f} deg below level "
                "(yellow: hip line, white: level).",
            )
        )
    legs_seen = {
        side: _plausible_span(
            track.point_px(skeleton.side_name(side, "hip")), track.point_px(skeleton.side_name(side, "ankle"))
        )
        for side in skeleton.SIDES
    }
    valgus = (
        first_plausible("knee_fppa_deg", lambda side, f: bool(legs_seen[side][f] and hips_seen[f]))
        if "knee_fppa_deg" in signals
        else None
    )
    if valgus is not None:
        row, frame = valgus
        side, value = str(row["side"]), float(row["knee_fppa_deg"])
        specs.append(
            KeyFrameSpec(
                "knee_valgus",
                frame,
                float(track.time_s[frame]),
                side,
                value,
                "deg",
                f"Largest knee valgus ({side} knee)",
                f"The {side} knee sits {value:.1f} deg inside the hip-ankle line (red: thigh and shin, "
                "white: hip to ankle).",
            )
        )
    heel_rows = _candidates(strides, "heel_ahead_pct_leg")
    heel = heel_rows.iloc[0] if len(heel_rows) else None
    if heel is not None and view.startswith("side"):
        side = str(heel["side"])
        frame = min(int(heel["ic_frame"]), last_frame)
        value = float(heel["heel_ahead_pct_leg"])
        specs.append(
            KeyFrameSpec(
                "heel_contact",
                frame,
                float(track.time_s[frame]),
                side,
                value,
                "% leg",
                f"Landing with the heel farthest ahead ({side} foot)",
                f"At landing the {side} heel is {value:.0f}% of leg length ahead of the pelvis (white: below "
                "the pelvis, yellow: the heel).",
            )
        )
    return specs


def _crop_box(points: FloatArray, width: int, height: int) -> tuple[int, int, int, int]:
    finite = points[np.isfinite(points).all(axis=1)]
    if finite.size == 0:
        return 0, 0, width, height
    (u0, v0), (u1, v1) = finite.min(axis=0), finite.max(axis=0)
    margin = _CROP_MARGIN * max(u1 - u0, v1 - v0)
    left, top = max(int(u0 - margin), 0), max(int(v0 - margin), 0)
    right, bottom = min(int(u1 + margin), width), min(int(v1 + margin), height)
    if right - left < 8 or bottom - top < 8:
        return 0, 0, width, height
    return left, top, right, bottom


def draw_key_frame(rgb: ImageArray, points_px: Mapping[str, FloatArray], spec: KeyFrameSpec) -> ImageArray:
    """The frame cropped around the runner with the skeleton and the measured angle drawn.

    Parameters
    ----------
    rgb : (H, W, 3) uint8 frame, upright.
    points_px : landmark name -> (2,) pixel position in that frame (NaN if unseen).
    spec : what the frame shows.

    Returns
    -------
    (h, w, 3) uint8 RGB image, at most :data:`MAX_KEY_FRAME_WIDTH_PX` wide.
    """
    import cv2

    height, width = rgb.shape[:2]
    names = list(points_px)
    stacked = np.array([points_px[n] for n in names], dtype=np.float64).reshape(-1, 2)
    left, top, right, bottom = _crop_box(stacked, width, height)
    image = np.ascontiguousarray(rgb[top:bottom, left:right].copy())
    scale = min(1.0, MAX_KEY_FRAME_WIDTH_PX / image.shape[1])
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    points = {n: (np.asarray(p, dtype=np.float64) - (left, top)) * scale for n, p in points_px.items()}
    thickness = max(2, round(image.shape[1] / 220))

    def pixel(point: FloatArray) -> tuple[int, int]:
        return round(float(point[0])), round(float(point[1]))

    def seen(*parts: str) -> bool:
        return all(p in points and np.isfinite(points[p]).all() for p in parts)

    def line(a: FloatArray, b: FloatArray, colour: tuple[int, int, int], width_px: int) -> None:
        cv2.line(image, pixel(a), pixel(b), colour, width_px, cv2.LINE_AA)

    for a, b in skeleton.EDGES:
        if seen(a, b):
            line(points[a], points[b], _SKELETON_RGB, max(1, thickness - 1))
    side = spec.side
    hip, knee, ankle, heel = (skeleton.side_name(side, part) for part in ("hip", "knee", "ankle", "heel"))
    if spec.kind == "pelvic_drop" and seen("left_hip", "right_hip"):
        a, b = points["left_hip"], points["right_hip"]
        span = b - a
        extension = 0.6 * span
        line(a - extension, b + extension, (255, 220, 0), thickness + 1)
        anchor = points[hip]
        level_end = anchor + np.array([np.sign((points[skeleton.mirror(hip)] - anchor)[0]) * 1.6 * abs(span[0]), 0.0])
        line(anchor, level_end, _REFERENCE_RGB, thickness)
    elif spec.kind == "knee_valgus" and seen(hip, knee, ankle):
        line(points[hip], points[ankle], _REFERENCE_RGB, thickness)
        line(points[hip], points[knee], _ANGLE_RGB, thickness + 1)
        line(points[knee], points[ankle], _ANGLE_RGB, thickness + 1)
        cv2.circle(image, pixel(points[knee]), thickness * 3, _ANGLE_RGB, thickness, cv2.LINE_AA)
    elif spec.kind == "heel_contact" and seen("left_hip", "right_hip", heel):
        hip_mid = 0.5 * (points["left_hip"] + points["right_hip"])
        ground_v = float(points[heel][1])
        line(hip_mid, np.array([hip_mid[0], ground_v]), _REFERENCE_RGB, thickness)
        line(np.array([points[heel][0], hip_mid[1]]), points[heel], (255, 220, 0), thickness)
        line(np.array([hip_mid[0], ground_v]), points[heel], _ANGLE_RGB, thickness + 1)
    label = f"{spec.value:.1f} {'deg' if spec.unit == 'deg' else spec.unit}"
    font_scale = max(0.5, image.shape[1] / 700)
    origin = (8, round(30 * font_scale) + 4)
    cv2.putText(image, label, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness + 3, cv2.LINE_AA)
    cv2.putText(image, label, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return image


def display_xy_px(track: PoseTrack, cutoff_hz: float = DISPLAY_CUTOFF_HZ) -> FloatArray:
    """(T, 33, 2) landmark pixels to draw: cleaned landmarks as they are, the others steadied.

    The landmarks the analysis reads (:data:`gaitcheck.clean.BODY_LANDMARKS`) were filtered
    by cleaning and are returned unchanged. The others (arms, hands, face) were only masked
    for low visibility; their pixel series are low-passed with zero lag (``cutoff_hz``, at
    most :data:`DISPLAY_MAX_CUTOFF_NYQUIST_FRACTION` x Nyquist) across their gaps, which are
    bridged linearly for the filter and stay unseen (NaN) afterwards. For drawing only: no
    metric reads these positions.
    """
    xy = np.array(track.xy_px, dtype=np.float64)
    others = np.array([i for i, name in enumerate(skeleton.LANDMARK_NAMES) if name not in BODY_LANDMARKS])
    n_frames = xy.shape[0]
    series = xy[:, others].reshape(n_frames, -1)
    cutoff = min(cutoff_hz, DISPLAY_MAX_CUTOFF_NYQUIST_FRACTION * track.fps / 2.0)
    steadied = lowpass_across_gaps(np.ascontiguousarray(series.T), cutoff, track.fps).T
    xy[:, others] = steadied.reshape(n_frames, others.size, 2)
    return xy


def landmarks_at(track: PoseTrack, frame: int) -> dict[str, FloatArray]:
    """Landmark name -> (2,) pixel position to draw in one frame of the track (:func:`display_xy_px`)."""
    xy = track.derived("display_xy_px", display_xy_px)[frame]  # filtered once per track, not per key frame
    return {name: xy[skeleton.index(name)].copy() for name in skeleton.LANDMARK_NAMES}


def read_frames(video_path: str | Path, frames: Iterable[int]) -> dict[int, ImageArray]:
    """Decode the given frames of a video (upright RGB) with :func:`gaitcheck.video.iter_frames_at`."""
    from gaitcheck.video import iter_frames_at

    return {frame.index: frame.rgb for frame in iter_frames_at(video_path, sorted(set(frames)))}


def png_bytes(rgb: ImageArray) -> bytes:
    """PNG encoding of an RGB image."""
    import cv2

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(encoded.tobytes())
