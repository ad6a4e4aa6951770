"""Cleaning a raw pose track before events and metrics are computed.

Steps, in order (all on image coordinates; world coordinates get the same masking, gap
filling and filtering):

1. **Mask** landmarks whose visibility is below :data:`MIN_VISIBILITY`.
2. **Reject outliers** with a Hampel filter: a coordinate further than
   :data:`HAMPEL_N_SIGMA` robust standard deviations (and at least
   :data:`HAMPEL_MIN_DEVIATION_LEG` leg lengths) from the running median is dropped.
3. **Repair left/right leg swaps** (knee, ankle, heel, toe exchanged between the legs, as
   MediaPipe does in side views): a Viterbi pass over "as labelled" / "swapped" states
   picks, for every frame, the labelling whose trajectories continue the previous two
   frames best (constant-velocity prediction); changing state costs a fixed penalty and
   the swapped state a small one, so a labelling is only flipped when the motion clearly
   says so.
4. **Fill gaps** of at most :data:`MAX_GAP_S` by cubic Hermite interpolation (the limb keeps
   the speed it had on both sides of the gap); longer gaps stay NaN.
5. **Low-pass filter**: 2nd-order Butterworth run forwards and backwards (zero lag) with a
   cutoff of :data:`CUTOFF_HZ`, capped at 0.4 x Nyquist (6 Hz at 30 fps, 12 Hz at 60 fps,
   20 Hz from 100 fps); the events were calibrated on tracks cleaned this way.

Steps 2-5 apply to :data:`BODY_LANDMARKS` (pixel and world coordinates); the face and hand
landmarks are only masked. Counts in the report are landmark points (frame x landmark).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter
from scipy.signal import butter, filtfilt

from gaitcheck import skeleton
from gaitcheck.events import leg_length_px
from gaitcheck.track import PoseTrack

if TYPE_CHECKING:
    from gaitcheck.classify import ClipClassification

FloatArray = NDArray[np.float64]

MIN_VISIBILITY = 0.3
HAMPEL_WINDOW_S = 0.1
HAMPEL_N_SIGMA = 5.0
HAMPEL_MIN_DEVIATION_LEG = 0.15
MAX_GAP_S = 0.1
CUTOFF_HZ = 20.0
MAX_CUTOFF_NYQUIST_FRACTION = 0.4
#: Viterbi costs, in squared leg lengths of prediction error.
SWAP_CHANGE_COST = 0.01
SWAPPED_STATE_COST = 0.01

_SWAPPABLE_PARTS = ("knee", "ankle", "heel", "foot_index")

#: Landmarks that are cleaned (the ones gait analysis uses). The face and hand landmarks
#: are only masked for low visibility and otherwise passed through unchanged.
BODY_LANDMARKS: tuple[str, ...] = (
    "nose",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    *skeleton.LEG_LANDMARKS,
)


@dataclass(frozen=True)
class CleaningReport:
    """What :func:`clean_track` changed; every field is JSON-able."""

    points_masked_low_visibility: int
    points_rejected_outliers: int
    frames_swap_repaired: int
    points_gap_filled: int
    points_left_missing: int
    filter_cutoff_hz: float
    filter_order: int
    max_gap_s: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field."""
        return asdict(self)


def filter_cutoff_hz(fps: float) -> float:
    """Low-pass cutoff used at a frame rate: :data:`CUTOFF_HZ`, at most 0.4 x Nyquist."""
    return float(min(CUTOFF_HZ, MAX_CUTOFF_NYQUIST_FRACTION * fps / 2.0))


def _hampel_outliers(xy: FloatArray, window: int, min_deviation: float) -> NDArray[np.bool_]:
    """Boolean (T, K) mask of points whose x or y strays from the running median.

    The scale is the median absolute deviation from the running median over the whole
    series (one per coordinate), so one median filter pass suffices.
    """
    filled = _bridge(xy)
    finite = np.isfinite(filled)
    safe = np.where(finite, filled, 0.0)
    running_median = median_filter(safe, size=(window, 1, 1), mode="nearest")
    deviation = np.abs(safe - running_median)
    masked = np.where(finite, deviation, np.nan)
    has_data = finite.any(axis=0)
    sigma = np.zeros(deviation.shape[1:])
    if has_data.any():
        sigma[has_data] = 1.4826 * np.nanmedian(masked[:, has_data], axis=0)
    outlier = (deviation > HAMPEL_N_SIGMA * sigma) & (deviation > min_deviation) & finite
    return np.asarray(outlier.any(axis=2) & np.isfinite(xy).all(axis=2))


def _interpolate_gaps(values: FloatArray, max_gap: int) -> FloatArray:
    """Fill NaN runs of at most ``max_gap`` samples along axis 0.

    Cubic Hermite interpolation between the two known samples around the gap, with the
    slopes of the known samples next to them (one-sided differences), so a swinging limb
    keeps its speed through the gap; linear where a neighbour's slope is unknown.
    ``values`` has time first; every other axis is treated independently.
    """
    flat = values.reshape(values.shape[0], -1)
    out = flat.copy()
    frames = np.arange(flat.shape[0])
    for column in np.flatnonzero(~np.isfinite(flat).all(axis=0)):  # vectorised over time
        series = flat[:, column]
        finite = np.isfinite(series)
        if finite.sum() < 2:
            continue
        known = frames[finite]
        after = np.searchsorted(known, frames)
        before = after - 1
        inside = (before >= 0) & (after < known.size)
        left = known[np.clip(before, 0, known.size - 1)]
        right = known[np.clip(after, 0, known.size - 1)]
        fill = ~finite & inside & (right - left - 1 <= max_gap)
        if not fill.any():
            continue
        k0, k1 = before[fill], after[fill]
        x0, x1 = known[k0].astype(np.float64), known[k1].astype(np.float64)
        y0, y1 = series[known[k0]], series[known[k1]]
        span = x1 - x0
        linear = (y1 - y0) / span
        prev = np.clip(k0 - 1, 0, known.size - 1)
        nxt = np.clip(k1 + 1, 0, known.size - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope0 = np.where(k0 > 0, (y0 - series[known[prev]]) / (x0 - known[prev]), linear)
            slope1 = np.where(k1 < known.size - 1, (series[known[nxt]] - y1) / (known[nxt] - x1), linear)
        u = (frames[fill] - x0) / span
        h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
        h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
        out[fill, column] = h00 * y0 + h10 * span * slope0 + h01 * y1 + h11 * span * slope1
    return out.reshape(values.shape)


def _bridge(values: FloatArray) -> FloatArray:
    """Every NaN replaced by linear interpolation along axis 0, ends held; all-NaN series stay NaN."""
    flat = values.reshape(values.shape[0], -1)
    out = flat.copy()
    frames = np.arange(flat.shape[0])
    for column in np.flatnonzero(~np.isfinite(flat).all(axis=0)):
        finite = np.isfinite(flat[:, column])
        if finite.any():
            out[:, column] = np.interp(frames, frames[finite], flat[finite, column])
    return out.reshape(values.shape)


def _swap_index() -> NDArray[np.intp]:
    """Landmark permutation that exchanges the swappable leg landmarks."""
    order = np.arange(skeleton.N_LANDMARKS)
    for part in _SWAPPABLE_PARTS:
        left, right = skeleton.index(f"left_{part}"), skeleton.index(f"right_{part}")
        order[left], order[right] = right, left
    return order


def _swap_costs(xy: FloatArray, legs: NDArray[np.intp], swapped_legs: NDArray[np.intp], leg_px: float) -> FloatArray:
    """(T-2, a, b, c) squared constant-velocity prediction errors plus state costs.

    Frame t in state c is predicted from frames t-1 (state b) and t-2 (state a); states
    are 0 = as labelled, 1 = legs exchanged. Missing points cost nothing.
    """
    n = xy.shape[0]
    views = np.stack([xy[:, legs, :], xy[:, swapped_legs, :]]) / leg_px  # (2, T, L, 2)
    cost = np.empty((n - 2, 2, 2, 2))
    for a in (0, 1):
        for b in (0, 1):
            predicted = 2.0 * views[b, 1:-1] - views[a, :-2]
            for c in (0, 1):
                error = views[c, 2:] - predicted
                cost[:, a, b, c] = np.nansum(error * error, axis=(1, 2))
    cost += SWAPPED_STATE_COST * np.array([0.0, 1.0])[None, None, None, :]
    cost += SWAP_CHANGE_COST * (np.arange(2)[None, None, :, None] != np.arange(2)[None, None, None, :])
    return cost


def _viterbi_pairs(cost: FloatArray) -> NDArray[np.bool_]:
    """Best state path for K independent sequences of pair states.

    ``cost`` is (K, S, a, b, c); returns (K, S + 2) bool states. The loop runs over the S
    steps; every step is vectorised over the K sequences.
    """
    k, steps = cost.shape[:2]
    total = np.zeros((k, 2, 2))  # state (previous, current) before the first step
    total += SWAPPED_STATE_COST * np.array([0.0, 1.0])[None, None, :]
    total += SWAP_CHANGE_COST * (np.arange(2)[:, None] != np.arange(2)[None, :])[None]
    back = np.empty((k, steps, 2, 2), dtype=bool)
    for step in range(steps):
        candidates = total[:, :, :, None] + cost[:, step]  # (K, a, b, c)
        back[:, step] = candidates[:, 1] < candidates[:, 0]
        total = np.minimum(candidates[:, 0], candidates[:, 1])
    states = np.zeros((k, steps + 2), dtype=bool)
    best = np.argmin(total.reshape(k, 4), axis=1)
    b, c = best // 2, best % 2
    states[:, -1], states[:, -2] = c.astype(bool), b.astype(bool)
    rows = np.arange(k)
    for step in range(steps - 1, -1, -1):
        a = back[rows, step, b, c]
        states[:, step] = a
        b, c = a.astype(np.intp), b
    return states


def swap_states(xy: FloatArray, leg_px: float, *, segment: int = 1024, overlap: int = 128) -> NDArray[np.bool_]:
    """Viterbi decision, per frame, whether the legs' labels are exchanged.

    Parameters
    ----------
    xy : (T, 33, 2) pixel coordinates (NaN allowed).
    leg_px : leg length in pixels, the unit of the costs.
    segment, overlap : long tracks are decoded in overlapping segments, all at once; each
        segment keeps the decision of its central part (the path forgets its ends within
        a few strides).

    Returns
    -------
    (T,) bool, True where the left and right leg landmarks should be exchanged.
    """
    n = xy.shape[0]
    if n < 3:
        return np.zeros(n, dtype=bool)
    legs = np.array([skeleton.index(f"{side}_{part}") for side in ("left", "right") for part in _SWAPPABLE_PARTS])
    swapped_legs = _swap_index()[legs]
    cost = _swap_costs(xy, legs, swapped_legs, leg_px)
    steps = n - 2
    if steps <= segment + 2 * overlap:
        return _viterbi_pairs(cost[None])[0]
    stride = segment
    starts = np.arange(0, steps, stride)
    length = segment + 2 * overlap
    index = (starts - overlap)[:, None] + np.arange(length)[None, :]
    valid = (index >= 0) & (index < steps)
    segments = np.where(valid[..., None, None, None], cost[np.clip(index, 0, steps - 1)], 0.0)
    decoded = _viterbi_pairs(segments)[:, 2:]  # state of step j = frame index[j] + 2
    keep = (np.arange(length)[None, :] >= overlap) & (np.arange(length)[None, :] < overlap + stride) & valid
    states = np.zeros(n, dtype=bool)
    states[index[keep] + 2] = decoded[keep]
    states[:2] = states[2]
    return states


def clean_track(track: PoseTrack, classification: ClipClassification) -> tuple[PoseTrack, CleaningReport]:
    """Mask, de-outlier, de-swap, gap-fill and low-pass filter a raw pose track.

    Parameters
    ----------
    track : PoseTrack
        Raw landmarks (e.g. from ``gaitcheck extract``).
    classification : ClipClassification
        Swap repair runs for side views only (in rear/front views the legs do not cross).

    Returns
    -------
    (PoseTrack, CleaningReport)
        The cleaned track (same frames and metadata plus ``cleaning``) and what changed.
    """
    fps = track.fps
    leg_px = leg_length_px(track)
    body = np.array([skeleton.index(name) for name in BODY_LANDMARKS])
    scale = np.array([track.width, track.height], dtype=np.float64)
    all_xy = np.array(track.image_xyz[..., :2] * scale, dtype=np.float64)
    all_world = np.array(track.world_xyz, dtype=np.float64)
    low_visibility = (track.visibility < MIN_VISIBILITY) & np.isfinite(all_xy).all(axis=2)
    all_xy[low_visibility] = np.nan
    all_world[low_visibility] = np.nan
    xy, world = all_xy[:, body], all_world[:, body]

    window = max(3, round(HAMPEL_WINDOW_S * fps) | 1)
    outliers = _hampel_outliers(xy, window, HAMPEL_MIN_DEVIATION_LEG * leg_px)
    xy[outliers] = np.nan
    world[outliers] = np.nan

    swapped = np.zeros(track.n_frames, dtype=bool)
    if classification.view.startswith("side"):
        all_xy[:, body] = xy
        swapped = swap_states(all_xy, leg_px)
        order = _swap_index()[body]
        position = {landmark: column for column, landmark in enumerate(body)}
        body_order = np.array([position[landmark] for landmark in order])
        xy[swapped] = xy[swapped][:, body_order]
        world[swapped] = world[swapped][:, body_order]

    missing_before = ~np.isfinite(xy).all(axis=2)
    max_gap = round(MAX_GAP_S * fps)
    xy = _interpolate_gaps(xy, max_gap)
    world = _interpolate_gaps(world, max_gap)
    missing_after = ~np.isfinite(xy).all(axis=2)

    cutoff = filter_cutoff_hz(fps)
    xy = _lowpass(xy, cutoff, fps)
    world = _lowpass(world, cutoff, fps)
    xy[missing_after] = np.nan
    world[missing_after] = np.nan

    image = np.array(track.image_xyz, dtype=np.float64)
    image[low_visibility] = np.nan
    all_world[:, body] = world
    image[:, body, :2] = xy / scale
    body_image = image[:, body]
    body_image[missing_after] = np.nan
    image[:, body] = body_image
    report = CleaningReport(
        points_masked_low_visibility=int(low_visibility.sum()),
        points_rejected_outliers=int(outliers.sum()),
        frames_swap_repaired=int(swapped.sum()),
        points_gap_filled=int((missing_before & ~missing_after).sum()),
        points_left_missing=int(missing_after.sum()),
        filter_cutoff_hz=cutoff,
        filter_order=2,
        max_gap_s=MAX_GAP_S,
    )
    cleaned = track.replace(image_xyz=image, world_xyz=all_world).with_meta(cleaning=report.as_dict())
    return cleaned, report


def _lowpass(values: FloatArray, cutoff_hz: float, fps: float) -> FloatArray:
    """Zero-lag Butterworth low-pass along time; NaN runs are bridged for the filter and kept NaN."""
    b, a = butter(2, cutoff_hz / (fps / 2.0))
    flat = values.reshape(values.shape[0], -1)
    missing = ~np.isfinite(flat)
    usable = ~missing.all(axis=0)
    out = np.full_like(flat, np.nan)
    if not usable.any():
        return out.reshape(values.shape)
    series = np.ascontiguousarray(_bridge(flat[:, usable]).T)  # (columns, time): filter along rows
    if flat.shape[0] > 3 * max(len(a), len(b)):
        series = filtfilt(b, a, series, axis=1)
    out[:, usable] = series.T
    out[missing] = np.nan
    return out.reshape(values.shape)
