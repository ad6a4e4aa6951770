"""What every metric family needs about one clip: stance frames, sides, direction and scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from gaitcheck import skeleton
from gaitcheck.errors import AnalysisError
from gaitcheck.filters import zero_lag_lowpass
from gaitcheck.metrics._geometry import (
    FloatArray,
    IntArray,
    interpolate_at,
    segment_length,
    segment_max,
    segment_mean,
    segment_min,
)
from gaitcheck.track import PoseTrack

FRONTAL_VIEWS = ("rear", "front")
SAGITTAL_VIEWS = ("side_left", "side_right")

#: Winter's (2009) segment proportions of body height H: thigh + shank 0.491 H (0.245 +
#: 0.246) and ankle joint height 0.039 H; a running-shoe sole adds a fixed SHOE_SOLE_M.
THIGH_PLUS_SHANK_PER_BODY_HEIGHT = 0.491
ANKLE_HEIGHT_PER_BODY_HEIGHT = 0.039
SHOE_SOLE_M = 0.025
#: Leg length (standing hip joint centre height, shod) in metres per metre of body height,
#: and the shoe sole added to it: leg = 0.530 H + 0.025 m.
LEG_LENGTH_PER_BODY_HEIGHT = THIGH_PLUS_SHANK_PER_BODY_HEIGHT + ANKLE_HEIGHT_PER_BODY_HEIGHT
#: Shod ankle height over thigh + shank length when the body height is not known: the 2.5 cm
#: sole is about 0.015 H for a 1.75 m runner, so (0.039 + 0.015) / 0.491 = 0.11 (0.105-0.112
#: over 1.55-1.95 m; :func:`shod_ankle_height_per_thigh_shank` uses the height when given).
SHOD_ANKLE_HEIGHT_PER_THIGH_SHANK = 0.108
#: Percentile of the per-frame projected segment length taken as the segment's true length:
#: projection only shortens a segment, and thigh and shank pass through the image plane
#: every stride, so a high percentile recovers the length while ignoring outliers.
SEGMENT_LENGTH_PERCENTILE = 90.0
#: Degree of the polynomial in time fitted to the log apparent body size
#: (:func:`apparent_size_trend`): a runner on a straight path at an angle to the image plane
#: changes distance smoothly; 2 also absorbs a slow approach then retreat.
SIZE_TREND_DEGREE = 2
#: Segment lengths are read while the hip midpoint is within this fraction of the image width
#: around its centre. Off the optical axis a pinhole camera turns the depth extent of a
#: segment (the knee and foot lie nearer the body midline than the hip) into image length, so
#: a runner crossing a wide-angle frame looks longer-legged near its edges (the truth replay
#: even has landmarks outside the frame). Chosen on truth replays of the shared overground
#: side render (88 deg lens): leg length over the true one 1.035 with all stance frames,
#: 1.026 inside the image, 1.025 in the central 70 %, 1.012 in the central half; confirmed on
#: the two held-out overground side renders (1.025 -> 1.000, 1.023 -> 0.998). Treadmill
#: clips, rear and front views, where the runner stays central, do not change.
CENTRAL_IMAGE_WIDTH_FRACTION = 0.5
#: Least stance time (seconds of frames) the preferred frames must span before they are used
#: instead of a wider choice (about two stances).
MIN_SECONDS_FOR_LENGTHS = 0.3
_TIME_TOLERANCE_S = 1e-6
#: :meth:`StrideContext.at_ic_unblurred` fits its kinked model to the frames within this
#: time of IC, and to at least KINK_FIT_MIN_FRAMES_EACH_SIDE frames before and after it (the
#: model has four coefficients; 3 frames a side span 0.1 s at 30 fps). Chosen as the span over
#: which late swing and early stance stay close to a parabola and a line.
KINK_FIT_HALF_WINDOW_S = 0.05
KINK_FIT_MIN_FRAMES_EACH_SIDE = 3
#: The low-pass impulse response that blurs the model's basis is computed over +-2 s and cut
#: where it stays below this fraction of its peak (0.28 s a side at 12 Hz and 60 fps, 0.97 s
#: at 12 Hz and 30 fps, where the cutoff is close to Nyquist and the response rings); the cut
#: tail leaves under 1e-3 px of error on a model signal of some 100 px.
IMPULSE_RESPONSE_SPAN_S = 2.0
IMPULSE_RESPONSE_TAIL = 1e-6
#: In a side view the contact foot at IC is the lower one (the other foot is in swing). When
#: the other side's heel is lower than the stance side's by more than this fraction of the
#: leg length at IC, the pose model has swapped the leg labels at that instant and the
#: at-IC values are read from the other side's landmarks (recorded per stance).
IC_LABEL_SWAP_HEEL_DROP_LEG = 0.05


class HasView(Protocol):
    """The part of a clip classification the metrics use."""

    @property
    def view(self) -> str: ...

    @property
    def oblique(self) -> bool: ...


def forward_sign_of_view(view: str) -> float:
    """Image direction of running: +1 image-right (side_right), -1 image-left (side_left), 0 otherwise."""
    return {"side_right": 1.0, "side_left": -1.0}.get(view, 0.0)


def left_direction_of_view(view: str) -> float:
    """Image u direction of the runner's left: -1 in a rear view, +1 in a front view, 0 otherwise."""
    return {"rear": -1.0, "front": 1.0}.get(view, 0.0)


#: Landmarks the metrics read, gathered once per clip.
METRIC_LANDMARKS = (*skeleton.LEG_LANDMARKS, "left_shoulder", "right_shoulder")
#: Most frames used for clip-level length statistics (evenly spaced); percentiles of
#: 20,000 frames are as good as of all of them and much faster on hour-long tracks.
MAX_FRAMES_FOR_LENGTHS = 20_000


def _length_sample(n_frames: int) -> slice:
    return slice(None, None, max(1, n_frames // MAX_FRAMES_FOR_LENGTHS))


def stance_frame_mask(n_frames: int, first_frame: IntArray, stop_frame: IntArray) -> np.ndarray:
    """(T,) bool, True for frames inside any of the [first, stop) frame ranges."""
    edges = np.zeros(n_frames + 1, dtype=np.int64)
    np.add.at(edges, np.clip(first_frame, 0, n_frames), 1)
    np.add.at(edges, np.clip(stop_frame, 0, n_frames), -1)
    return np.cumsum(edges)[:n_frames] > 0


def apparent_size_trend(time_s: FloatArray, size_px: FloatArray) -> FloatArray:
    """Per-frame apparent body size relative to its median, as a smooth function of time.

    ``size_px`` is any per-frame body size (NaN where unseen); its logarithm is fitted with a
    polynomial in time of degree :data:`SIZE_TREND_DEGREE`, which follows a runner whose
    distance to the camera changes along the clip and is flat on a treadmill. All ones when
    too few frames have a size.
    """
    usable = np.isfinite(size_px) & (size_px > 0)
    if usable.sum() <= 4 * (SIZE_TREND_DEGREE + 1):
        return np.ones(len(time_s))
    centre_s, spread_s = float(np.mean(time_s)), max(float(np.ptp(time_s)), 1e-9)
    scaled_time = (time_s - centre_s) / spread_s
    coefficients = np.polyfit(scaled_time[usable], np.log(size_px[usable]), SIZE_TREND_DEGREE)
    log_trend = np.polyval(coefficients, scaled_time)
    return np.asarray(np.exp(log_trend - np.median(log_trend)))


def shod_ankle_height_per_thigh_shank(height_cm: float | None) -> float:
    """Shod ankle height over thigh + shank length: from the body height when given (the sole
    is a fixed thickness, so its share shrinks as the runner gets taller), else
    :data:`SHOD_ANKLE_HEIGHT_PER_THIGH_SHANK`."""
    if height_cm is None or not height_cm > 0:
        return SHOD_ANKLE_HEIGHT_PER_THIGH_SHANK
    height_m = height_cm / 100.0
    return (ANKLE_HEIGHT_PER_BODY_HEIGHT * height_m + SHOE_SOLE_M) / (THIGH_PLUS_SHANK_PER_BODY_HEIGHT * height_m)


def _inside_image(points: FloatArray, width: int, height: int) -> np.ndarray:
    """(T,) bool, True where a (T, 2) pixel track lies inside the image (False where NaN)."""
    u, v = points[:, 0], points[:, 1]
    return np.asarray((u >= 0.0) & (u <= width) & (v >= 0.0) & (v <= height))


def estimate_leg_length_px(
    track: PoseTrack, stance_frames: dict[str, np.ndarray] | None = None, *, height_cm: float | None = None
) -> float:
    """Leg length (standing hip joint centre height, shod) in pixels from the landmarks, at the
    clip's median apparent body size.

    Thigh and shank are each the 90th percentile of their projected hip-knee and knee-ankle
    lengths over the frames where that leg is in stance (all frames when ``stance_frames``
    is not given): projection only shortens a segment, and both segments pass through the
    vertical during stance while the foot is near the midline, i.e. near the pelvis depth.
    Of those frames, the ones where the leg's landmarks are inside the image and the hips in
    the central part of it (:data:`CENTRAL_IMAGE_WIDTH_FRACTION`) are used when they span
    :data:`MIN_SECONDS_FOR_LENGTHS`; else those inside the image, else all.
    The lengths are first divided by the :func:`apparent_size_trend` of thigh + shank summed
    over both legs (whose opposite perspective errors cancel), so that the frames where the
    runner is closest to the camera do not make the high percentile. The two legs are
    averaged. The shod ankle height is added as a fraction of thigh + shank
    (:func:`shod_ankle_height_per_thigh_shank` of ``height_cm``), because heel landmarks are
    too noisy to measure it. Raises :class:`AnalysisError` when no leg is visible.
    """
    sample = _length_sample(track.n_frames)
    points = {name: xy[sample] for name, xy in track.points_px(skeleton.LEG_LANDMARKS).items()}
    hip_mid_u = 0.5 * (points["left_hip"][:, 0] + points["right_hip"][:, 0])
    central = np.abs(hip_mid_u - 0.5 * track.width) <= 0.5 * CENTRAL_IMAGE_WIDTH_FRACTION * track.width
    min_frames = max(3, int(np.ceil(MIN_SECONDS_FOR_LENGTHS * track.fps / (sample.step or 1))))
    lengths_by_side, inside_by_side = {}, {}
    for side in skeleton.SIDES:
        hip, knee, ankle = (points[skeleton.side_name(side, part)] for part in ("hip", "knee", "ankle"))
        lengths_by_side[side] = np.stack([segment_length(hip, knee), segment_length(knee, ankle)])
        inside_by_side[side] = np.all([_inside_image(p, track.width, track.height) for p in (hip, knee, ankle)], axis=0)
    size_px = np.sum([lengths.sum(axis=0) for lengths in lengths_by_side.values()], axis=0)
    size_trend = apparent_size_trend(track.time_s[sample], size_px)
    thigh_plus_shank_px = []
    for side in skeleton.SIDES:
        lengths = lengths_by_side[side] / size_trend
        seen = np.isfinite(lengths).all(axis=0)
        if not np.isfinite(lengths).any(axis=1).all():
            raise AnalysisError(
                f"no frame shows the {side} hip, knee and ankle; the leg length cannot be measured "
                "(film the whole body, legs included)"
            )
        stance = np.ones_like(seen) if stance_frames is None else stance_frames[side][sample]
        inside = inside_by_side[side]
        candidates = [mask & seen for mask in (stance & inside & central, stance & inside, stance)]
        frames = next((mask for mask in candidates if mask.sum() >= min_frames), None)
        if frames is None:
            frames = next((mask for mask in candidates if mask.any()), np.ones_like(seen))
        thigh_plus_shank_px.append(float(np.nanpercentile(lengths[:, frames], SEGMENT_LENGTH_PERCENTILE, axis=1).sum()))
    return float(np.mean(thigh_plus_shank_px)) * (1.0 + shod_ankle_height_per_thigh_shank(height_cm))


def estimate_leg_length_m(track: PoseTrack, height_cm: float | None) -> tuple[float | None, str]:
    """Leg length in metres from the body height when given, else from world landmarks.

    Returns ``(metres or None, source)`` with source ``"height_cm"``, ``"world_landmarks"``
    or ``"none"``.
    """
    if height_cm is not None:
        return LEG_LENGTH_PER_BODY_HEIGHT * height_cm / 100.0 + SHOE_SOLE_M, "height_cm"
    segment_m = []
    world = track.world_xyz[_length_sample(track.n_frames)]
    for side in skeleton.SIDES:
        hip, knee, ankle = (
            world[:, skeleton.index(skeleton.side_name(side, part))] for part in ("hip", "knee", "ankle")
        )
        segment_m.append([segment_length(hip, knee), segment_length(knee, ankle)])
    lengths = np.asarray(segment_m)
    if not np.isfinite(lengths).any(axis=-1).all():
        return None, "none"
    thigh_plus_shank = float(np.nanmedian(lengths, axis=-1).sum(axis=1).mean())
    return thigh_plus_shank * (1.0 + SHOD_ANKLE_HEIGHT_PER_THIGH_SHANK), "world_landmarks"


def lowpass_impulse_response(meta: Mapping[str, Any], fps: float) -> FloatArray:
    """Symmetric impulse response (odd length) of the zero-lag low-pass the metric track went
    through, from the cleaning report in ``meta`` (``metric_filter_cutoff_hz``, ``filter_order``);
    ``[1.0]`` for a track that was not cleaned (e.g. an exact truth replay)."""
    report = meta.get("cleaning") or {}
    cutoff_hz = report.get("metric_filter_cutoff_hz")
    if cutoff_hz is None:
        return np.ones(1)
    half = int(np.ceil(IMPULSE_RESPONSE_SPAN_S * fps))
    impulse = np.zeros(2 * half + 1)
    impulse[half] = 1.0
    response = zero_lag_lowpass(impulse, float(cutoff_hz), fps, order=int(report.get("filter_order", 2)))
    magnitude = np.abs(response)
    keep = int(np.flatnonzero(magnitude > IMPULSE_RESPONSE_TAIL * magnitude.max()).max()) - half
    return response[half - keep : half + keep + 1]


#: Events whose (window x lags) ramp block :func:`_blurred_ramps` builds at a time: 512 x 7 x 35
#: values at 60 fps (1.4 MB) stay in the processor cache instead of one (events, window, lags)
#: array of some 10 MB on an hour of contacts.
RAMP_BLOCK_EVENTS = 512


def _blurred_ramps(
    from_event: FloatArray, lags: FloatArray, impulse_response: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The model's ramp columns ``min(t, 0)`` and ``min(t, 0)^2`` blurred by the low-pass,
    (events, window) each: ``t`` is ``from_event`` shifted by every lag of the impulse response.

    Built for :data:`RAMP_BLOCK_EVENTS` events at a time, clipped and squared in place (each
    event's values do not depend on the blocking; 6 -> 3.5 ms on an hour of contacts).
    """
    ramp, ramp_sq = np.empty_like(from_event), np.empty_like(from_event)
    for first in range(0, len(from_event), RAMP_BLOCK_EVENTS):
        block = slice(first, first + RAMP_BLOCK_EVENTS)
        before = from_event[block, :, None] + lags
        np.minimum(before, 0.0, out=before)
        ramp[block] = before @ impulse_response
        np.square(before, out=before)
        ramp_sq[block] = before @ impulse_response
    return ramp, ramp_sq


def _gram_matrices(design: FloatArray) -> FloatArray:
    """``einsum("ewc,ewd->ecd", design, design)``: each event's (columns x columns) Gram matrix of
    its (window x columns) design, summed over the window in the same order as the einsum (the
    same values), one upper entry at a time on (window, events) rows and mirrored: 4x faster
    than the einsum's length-7 reductions on an hour of contacts."""
    n_events, n_window, n_columns = design.shape
    rows = np.ascontiguousarray(design.transpose(2, 1, 0))  # (columns, window, events)
    gram = np.empty((n_events, n_columns, n_columns))
    for c in range(n_columns):
        for d in range(c, n_columns):
            total = rows[c, 0] * rows[d, 0]
            for w in range(1, n_window):
                total += rows[c, w] * rows[d, w]
            gram[:, c, d] = gram[:, d, c] = total
    return gram


def kink_value_at(
    time_s: FloatArray, signal: FloatArray, event_time_s: FloatArray, impulse_response: FloatArray, fps: float
) -> FloatArray:
    """Value at each event of a signal whose slope jumps there, from a low-passed copy.

    Around each event the signal is modelled as ``a + b t`` after the event and
    ``a + b t + c t + d t^2`` before it (t = time from the event), i.e. a line and a parabola
    meeting at the event. The model's basis is blurred with ``impulse_response`` (the
    low-pass the signal went through, sampled at the frame rate) and fitted by least squares
    to the frames around the event (:data:`KINK_FIT_HALF_WINDOW_S`), so the rounding of the
    kink by the filter is undone and ``a`` is the unfiltered value at the event. NaN where
    the window leaves the clip or holds a missing frame. Frames are taken as evenly spaced.
    """
    n_frames = len(time_s)
    frames_each_side = max(KINK_FIT_MIN_FRAMES_EACH_SIDE, int(np.ceil(KINK_FIT_HALF_WINDOW_S * fps)))
    after = np.searchsorted(time_s, event_time_s - _TIME_TOLERANCE_S, side="left")
    frames = after[:, None] + np.arange(-frames_each_side, frames_each_side + 1)
    inside = (frames[:, 0] >= 0) & (frames[:, -1] < n_frames)
    frames = np.clip(frames, 0, n_frames - 1)
    time_scale_s = frames_each_side / fps
    from_event = (time_s[frames] - event_time_s[:, None]) / time_scale_s  # (events, window)
    half = len(impulse_response) // 2
    lags = np.arange(-half, half + 1) / (fps * time_scale_s)
    ramp_blurred, ramp_sq_blurred = _blurred_ramps(from_event, lags, impulse_response)
    design = np.stack([np.ones_like(from_event), from_event, ramp_blurred, ramp_sq_blurred], axis=-1)
    values = signal[frames]
    usable = inside & np.isfinite(values).all(axis=1)
    # least squares through the normal equations (4 x 4 per event, the basis is scaled to the
    # window): 15x faster than a batched pseudo-inverse on an hour of contacts
    design, values = design[usable], values[usable]
    gram = _gram_matrices(design)
    moments = np.einsum("ewc,ew->ec", design, values)
    out = np.full(len(event_time_s), np.nan)
    if usable.any():
        out[usable] = np.linalg.solve(gram, moments[..., None])[:, 0, 0]
    return out


@dataclass(frozen=True, eq=False)
class StrideContext:
    """One clip's stances laid out for vectorised per-stance reductions.

    ``first_frame``/``stop_frame`` bound the frames whose time lies inside [IC, TO] (stop
    exclusive); stances are in IC-time order.
    """

    track: PoseTrack
    stances: pd.DataFrame
    is_left: np.ndarray
    complete: np.ndarray
    ic_time_s: FloatArray
    to_time_s: FloatArray
    first_frame: IntArray
    stop_frame: IntArray
    view: str
    oblique: bool
    forward_sign: float
    leg_length_px: float
    px_per_cm: float | None
    scale_source: str
    ic_labels_swapped: np.ndarray
    _midpoints: dict[str, FloatArray] = field(default_factory=dict, repr=False)
    _ic_reads: dict[float, tuple[IntArray, IntArray, FloatArray, FloatArray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    def point(self, name: str) -> FloatArray:
        """(T, 2) pixel track of one landmark, read-only (kept with the track, see
        :meth:`PoseTrack.points_px`; :func:`build_context` reads the metric landmarks together)."""
        return self.track.point_px(name)

    def midpoint(self, part: str) -> FloatArray:
        """(T, 2) midpoint of the left and right landmark of a body part (``"hip"``, ...), computed
        once per context (read-only: several metrics read the hip midpoint)."""
        if part not in self._midpoints:
            middle = 0.5 * (self.point(f"left_{part}") + self.point(f"right_{part}"))
            middle.setflags(write=False)
            self._midpoints[part] = middle
        return self._midpoints[part]

    def by_stance_side(self, left_values: FloatArray, right_values: FloatArray) -> FloatArray:
        """Per-stance values taken from the left or right array according to each stance's side."""
        return np.where(self.is_left, left_values, right_values)

    def peak_in_stance(self, left_signal: FloatArray, right_signal: FloatArray) -> FloatArray:
        """Max over each stance's frames of the per-frame signal of the stance side."""
        return self.by_stance_side(
            segment_max(left_signal, self.first_frame, self.stop_frame),
            segment_max(right_signal, self.first_frame, self.stop_frame),
        )

    def stance_frames(self, stances: np.ndarray) -> tuple[IntArray, IntArray, IntArray]:
        """The frames of some stances laid end to end, for reductions over stance frames only.

        Returns ``(frames, start, stop)``: the frames of the i-th selected stance (in IC
        order) are ``frames[start[i]:stop[i]]``, none for a stance without a frame in the clip.
        ``segment_mean(signal[frames], start, stop)`` equals ``mean_in_stance(signal)[stances]``
        to the bit (the same values summed in the same order), without touching the frames
        outside these stances (flight and the other foot's stances).
        """
        n_frames = self.track.n_frames
        first = np.clip(self.first_frame[stances], 0, n_frames)
        length = np.maximum(np.clip(self.stop_frame[stances], 0, n_frames) - first, 0)
        stop = np.cumsum(length)
        start = stop - length
        frames = np.repeat(first - start, length) + np.arange(int(stop[-1]) if stop.size else 0)
        return frames, start, stop

    def mean_in_stance(self, signal: FloatArray) -> FloatArray:
        """Mean over each stance's frames of a per-frame signal."""
        return segment_mean(signal, self.first_frame, self.stop_frame)

    def at_times(self, signal: FloatArray, times_s: FloatArray) -> FloatArray:
        """A per-frame signal linearly interpolated at given instants."""
        return interpolate_at(self.track.time_s, signal, times_s)

    def at_ic(self, left_signal: FloatArray, right_signal: FloatArray) -> FloatArray:
        """The stance side's per-frame signal at each stance's initial contact.

        Taken from the first two frames at or after IC and extrapolated back to the IC instant
        (exact when IC falls on a frame): after IC the foot is planted and the signal changes
        smoothly, while across IC its velocity jumps, which interpolation would smear.
        """
        return self.by_stance_side(self.at_ic_from_after(left_signal), self.at_ic_from_after(right_signal))

    def at_ic_contact_leg(
        self, left_signal: FloatArray, right_signal: FloatArray, *, delay_s: float = 0.0
    ) -> FloatArray:
        """Like :meth:`at_ic`, but from the leg that touches the ground at IC: the other side's
        landmarks where :attr:`ic_labels_swapped` says the labels were swapped (``delay_s`` as
        in :meth:`at_ic_from_after`)."""
        contact_is_left = self.is_left ^ self.ic_labels_swapped
        return np.where(
            contact_is_left,
            self.at_ic_from_after(left_signal, delay_s=delay_s),
            self.at_ic_from_after(right_signal, delay_s=delay_s),
        )

    def at_ic_unblurred(self, left_signal: FloatArray, right_signal: FloatArray) -> FloatArray:
        """The contact leg's signal (as in :meth:`at_ic_contact_leg`) at each IC, read through
        the track's low-pass: :func:`kink_value_at` with the filter named in the track's
        cleaning report. For a signal whose slope jumps at IC (heel ahead: the heel stops, the
        pelvis goes on), which the low-pass rounds off over some 50 ms."""
        impulse_response = lowpass_impulse_response(self.track.meta, self.track.fps)
        contact_is_left = self.is_left ^ self.ic_labels_swapped
        values = np.full(self.ic_time_s.shape, np.nan)
        for on_left, signal in ((True, left_signal), (False, right_signal)):
            stances = contact_is_left == on_left  # each side's signal read at its own contacts only
            values[stances] = kink_value_at(
                self.track.time_s, signal, self.ic_time_s[stances], impulse_response, self.track.fps
            )
        return values

    def at_ic_from_after(self, signal: FloatArray, *, delay_s: float = 0.0) -> FloatArray:
        """A per-frame signal extrapolated back to each IC from the two frames at or after it.

        With ``delay_s`` > 0 the two frames are the first ones at or after IC + ``delay_s``
        (never past the stance's last frame), skipping frames the track's low-pass filter has
        blended with the motion before contact.
        """
        first, second, span_s, from_first_s, inside = self._ic_read(delay_s)
        value_first, value_second = signal[first], signal[second]
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(span_s > 0, (value_second - value_first) / span_s, 0.0)
        slope = np.where(np.isfinite(slope), slope, 0.0)
        return np.where(inside, value_first + slope * from_first_s, np.nan)

    def _ic_read(self, delay_s: float) -> tuple[IntArray, IntArray, FloatArray, FloatArray, np.ndarray]:
        """The frames and times :meth:`at_ic_from_after` reads each IC from: the two frames, the
        time between them and from the first to IC, and whether IC is inside the clip. Computed
        once per delay and kept: a side view reads ten signals at its ICs (4.2 -> 2.9 ms CPU for
        them on an hour of contacts)."""
        if delay_s not in self._ic_reads:
            time_s = self.track.time_s
            last = len(time_s) - 1
            first_frame = self.first_frame
            if delay_s > 0.0:
                delayed = np.searchsorted(time_s, self.ic_time_s + delay_s - _TIME_TOLERANCE_S, side="left")
                first_frame = np.maximum(first_frame, np.minimum(delayed, self.stop_frame - 2))
            first = np.clip(first_frame, 0, last)
            second = np.clip(first + 1, 0, last)
            inside = (self.first_frame <= last) & (self.ic_time_s >= time_s[0] - _TIME_TOLERANCE_S)
            span_s = time_s[second] - time_s[first]
            self._ic_reads[delay_s] = (first, second, span_s, self.ic_time_s - time_s[first], inside)
        return self._ic_reads[delay_s]

    def range_between(self, signal: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
        """Peak-to-peak of a per-frame signal over frame ranges [start, stop)."""
        return segment_max(signal, start, stop) - segment_min(signal, start, stop)


def build_context(
    track: PoseTrack,
    stances: pd.DataFrame,
    classification: HasView,
    *,
    height_cm: float | None,
    metre_scale: bool = True,
) -> StrideContext:
    """Sort the stances by IC time and locate their frames; estimate leg length and scale.

    Without ``metre_scale`` the context has no scale yet (``px_per_cm`` None, ``scale_source``
    ``"not read"``); :func:`with_metre_scale` adds it.
    """
    missing = {"side", "ic_time_s", "to_time_s"} - set(stances.columns)
    if missing:
        raise AnalysisError(f"stances table lacks column(s) {sorted(missing)}; it must come from events.detect_stances")
    ordered = stances.sort_values("ic_time_s", kind="stable").reset_index(drop=True)
    ic_time_s = ordered["ic_time_s"].to_numpy(dtype=np.float64)
    to_time_s = ordered["to_time_s"].to_numpy(dtype=np.float64)
    time_s = track.time_s
    first_frame = np.searchsorted(time_s, ic_time_s - _TIME_TOLERANCE_S, side="left")
    stop_frame = np.searchsorted(time_s, to_time_s + _TIME_TOLERANCE_S, side="right")
    is_left = (ordered["side"] == "left").to_numpy()
    stance_frames = {
        side: stance_frame_mask(track.n_frames, first_frame[mask], stop_frame[mask])
        for side, mask in (("left", is_left), ("right", ~is_left))
    }
    leg_length_px = estimate_leg_length_px(track, stance_frames, height_cm=height_cm)
    track.points_px(METRIC_LANDMARKS)  # gathered in one pass and kept with the track
    context = StrideContext(
        track=track,
        stances=ordered,
        is_left=is_left,
        complete=(
            ordered["complete"].astype(bool).to_numpy() if "complete" in ordered else np.ones(len(ordered), dtype=bool)
        ),
        ic_time_s=ic_time_s,
        to_time_s=to_time_s,
        first_frame=first_frame,
        stop_frame=stop_frame,
        view=classification.view,
        oblique=bool(classification.oblique),
        forward_sign=forward_sign_of_view(classification.view),
        leg_length_px=leg_length_px,
        px_per_cm=None,
        scale_source="not read",
        ic_labels_swapped=np.zeros(len(ordered), dtype=bool),
    )
    if classification.view in SAGITTAL_VIEWS:
        object.__setattr__(context, "ic_labels_swapped", _ic_labels_swapped(context))
    return with_metre_scale(context, height_cm) if metre_scale else context


def with_metre_scale(ctx: StrideContext, height_cm: float | None) -> StrideContext:
    """The context with its pixels-per-centimetre scale (:func:`estimate_leg_length_m`: from the
    body height, else from the world landmarks, which a cleaned track may still be repairing
    in another thread: :func:`~gaitcheck.metrics.compute_strides` reads them last)."""
    leg_length_m, scale_source = estimate_leg_length_m(ctx.track, height_cm)
    px_per_cm = None if leg_length_m is None else ctx.leg_length_px / (100.0 * leg_length_m)
    return replace(ctx, px_per_cm=px_per_cm, scale_source=scale_source)


def _ic_labels_swapped(ctx: StrideContext) -> np.ndarray:
    """Stances whose other-side heel is clearly lower than the stance-side heel at IC."""
    heel_v = {side: ctx.at_ic_from_after(ctx.point(f"{side}_heel")[:, 1]) for side in skeleton.SIDES}
    stance_v = np.where(ctx.is_left, heel_v["left"], heel_v["right"])
    other_v = np.where(ctx.is_left, heel_v["right"], heel_v["left"])
    with np.errstate(invalid="ignore"):
        return np.asarray((other_v - stance_v) > IC_LABEL_SWAP_HEEL_DROP_LEG * ctx.leg_length_px)


MetricColumns = dict[str, Any]
