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
4. **Fill gaps** of at most :data:`MAX_GAP_S` by linear interpolation; longer gaps stay NaN.
5. **Low-pass filter**: 2nd-order Butterworth run forwards and backwards (zero lag) with a
   cutoff of :data:`CUTOFF_HZ`, capped at 0.4 x Nyquist for low frame rates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import PchipInterpolator
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
    """Boolean (T, K) mask of points whose x or y is a Hampel outlier along time."""
    filled = _bridge(xy)
    finite = np.isfinite(filled)
    safe = np.where(finite, filled, 0.0)
    size = (window, 1, 1)
    running_median = median_filter(safe, size=size, mode="nearest")
    deviation = np.abs(safe - running_median)
    sigma = 1.4826 * median_filter(deviation, size=size, mode="nearest")
    outlier = (deviation > HAMPEL_N_SIGMA * sigma) & (deviation > min_deviation) & finite
    return np.asarray(outlier.any(axis=2) & np.isfinite(xy).all(axis=2))


def _interpolate_gaps(values: FloatArray, max_gap: int) -> FloatArray:
    """Fill NaN runs of at most ``max_gap`` samples along axis 0.

    Shape-preserving cubic (PCHIP) interpolation through all known samples, which follows
    the curved path of a swinging limb better than a straight line; series with fewer
    than 3 known samples are filled linearly. ``values`` has time first; every other axis
    is treated independently.
    """
    flat = values.reshape(values.shape[0], -1)
    out = flat.copy()
    frames = np.arange(flat.shape[0])
    for column in range(flat.shape[1]):  # one pass per coordinate series, vectorised over time
        series = flat[:, column]
        finite = np.isfinite(series)
        if finite.all() or finite.sum() < 2:
            continue
        known = frames[finite]
        # length of the gap each sample belongs to: distance between the surrounding known frames
        after = np.searchsorted(known, frames)
        before = after - 1
        inside = (before >= 0) & (after < known.size)
        gap = np.where(
            inside, known[np.clip(after, 0, known.size - 1)] - known[np.clip(before, 0, known.size - 1)] - 1, 0
        )
        fill = ~finite & inside & (gap <= max_gap)
        if not fill.any():
            continue
        if known.size >= 3:
            out[fill, column] = PchipInterpolator(known, series[finite])(frames[fill])
        else:
            out[fill, column] = np.interp(frames[fill], known, series[finite])
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


def swap_states(xy: FloatArray, leg_px: float) -> NDArray[np.bool_]:
    """Viterbi decision, per frame, whether the legs' labels are exchanged.

    Parameters
    ----------
    xy : (T, 33, 2) pixel coordinates (NaN allowed).
    leg_px : leg length in pixels, the unit of the costs.

    Returns
    -------
    (T,) bool, True where the left and right leg landmarks should be exchanged.
    """
    n = xy.shape[0]
    if n < 3:
        return np.zeros(n, dtype=bool)
    legs = np.array([skeleton.index(f"{side}_{part}") for side in ("left", "right") for part in _SWAPPABLE_PARTS])
    swapped_legs = _swap_index()[legs]
    views = np.stack([xy[:, legs, :], xy[:, swapped_legs, :]]) / leg_px  # (2, T, L, 2)
    views = np.where(np.isfinite(views), views, np.nan)
    # prediction error of frame t in state c from frames t-1 (state b) and t-2 (state a)
    a_idx, b_idx, c_idx = np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij")
    predicted = 2.0 * views[b_idx.ravel(), 1:-1] - views[a_idx.ravel(), :-2]  # (8, T-2, L, 2)
    error = views[c_idx.ravel(), 2:] - predicted
    squared = np.nansum(error**2, axis=(2, 3))  # missing points cost nothing
    cost = squared.reshape(2, 2, 2, n - 2).transpose(3, 0, 1, 2)  # (T-2, a, b, c)
    cost = cost + SWAPPED_STATE_COST * np.array([0.0, 1.0])[None, None, None, :]
    cost = cost + SWAP_CHANGE_COST * (np.arange(2)[None, None, :, None] != np.arange(2)[None, None, None, :])
    # state = (previous, current); Viterbi over 4 states with a tight scalar loop
    total = np.array([0.0, SWAP_CHANGE_COST + SWAPPED_STATE_COST, SWAP_CHANGE_COST, 2 * SWAPPED_STATE_COST])
    cost_list = cost.tolist()
    t00, t01, t10, t11 = (float(v) for v in total)
    back_list = []
    for step in cost_list:
        c = step  # c[a][b][c]
        # new state (b, c): choose the best a
        n00a, n00b = t00 + c[0][0][0], t10 + c[1][0][0]
        n01a, n01b = t00 + c[0][0][1], t10 + c[1][0][1]
        n10a, n10b = t01 + c[0][1][0], t11 + c[1][1][0]
        n11a, n11b = t01 + c[0][1][1], t11 + c[1][1][1]
        back_list.append((n00b < n00a, n01b < n01a, n10b < n10a, n11b < n11a))
        t00, t01, t10, t11 = min(n00a, n00b), min(n01a, n01b), min(n10a, n10b), min(n11a, n11b)
    back = np.array(back_list, dtype=bool).reshape(n - 2, 2, 2)
    states = np.zeros(n, dtype=bool)
    finals = np.array([[t00, t01], [t10, t11]])
    best = int(np.argmin(finals))
    b, c = best // 2, best % 2
    states[-1], states[-2] = bool(c), bool(b)
    for t in range(n - 3, -1, -1):  # backtrack: one step per frame over precomputed choices
        a = int(back[t, b, c])
        states[t] = bool(a)
        b, c = a, b
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
    xy: FloatArray = np.array(track.xy_px, dtype=np.float64)
    world = np.array(track.world_xyz, dtype=np.float64)
    low_visibility = (track.visibility < MIN_VISIBILITY) & np.isfinite(xy).all(axis=2)
    xy[low_visibility] = np.nan
    world[low_visibility] = np.nan

    window = max(3, round(HAMPEL_WINDOW_S * fps) | 1)
    outliers = _hampel_outliers(xy, window, HAMPEL_MIN_DEVIATION_LEG * leg_px)
    xy[outliers] = np.nan
    world[outliers] = np.nan

    swapped = np.zeros(track.n_frames, dtype=bool)
    if classification.view.startswith("side"):
        swapped = swap_states(xy, leg_px)
        order = _swap_index()
        xy[swapped] = xy[swapped][:, order]
        world[swapped] = world[swapped][:, order]

    missing_before = ~np.isfinite(xy).all(axis=2)
    max_gap = round(MAX_GAP_S * fps)
    xy = _interpolate_gaps(xy, max_gap)
    world = _interpolate_gaps(world, max_gap)
    missing_after = ~np.isfinite(xy).all(axis=2)

    cutoff = filter_cutoff_hz(fps)
    xy = _lowpass(xy, cutoff, fps)
    world = _lowpass(world, cutoff, fps)

    image = np.array(track.image_xyz, dtype=np.float64)
    image[..., :2] = xy / np.array([track.width, track.height], dtype=np.float64)
    image[missing_after] = np.nan
    world[missing_after] = np.nan
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
    cleaned = track.replace(image_xyz=image, world_xyz=world).with_meta(cleaning=report.as_dict())
    return cleaned, report


def _lowpass(values: FloatArray, cutoff_hz: float, fps: float) -> FloatArray:
    """Zero-lag Butterworth low-pass along time; NaN runs are bridged for the filter and kept NaN."""
    b, a = butter(2, cutoff_hz / (fps / 2.0))
    flat = values.reshape(values.shape[0], -1)
    missing = ~np.isfinite(flat)
    bridged = _bridge(flat)
    usable = np.isfinite(bridged).all(axis=0)
    out = np.full_like(flat, np.nan)
    pad = 3 * max(len(a), len(b))
    if flat.shape[0] > pad and usable.any():
        out[:, usable] = filtfilt(b, a, bridged[:, usable], axis=0)
    elif usable.any():
        out[:, usable] = bridged[:, usable]
    out[missing] = np.nan
    return out.reshape(values.shape)
