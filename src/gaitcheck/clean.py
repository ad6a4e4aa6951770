"""Cleaning a raw pose track before events and metrics are computed.

Steps, in order (on image coordinates; world coordinates get the same masking, outlier
rejection, swap repair and gap filling but no low-pass: they only give the body scale, as
a median length, and filtering them would double the cost of cleaning):

1. **Mask** landmarks whose visibility is below :data:`MIN_VISIBILITY`.
2. **Reject outliers** with a Hampel filter: a coordinate further than
   :data:`HAMPEL_N_SIGMA` robust standard deviations (and at least
   :data:`HAMPEL_MIN_DEVIATION_LEG` leg lengths) from the running median is dropped.
3. **Repair left/right leg swaps** (knee, ankle, heel, toe exchanged between the legs, as
   MediaPipe does in side views). Label flickers are put right first, before step 2 (which
   would otherwise delete them): between two crossings of the feet the same foot stays in
   front, so a frame that names the front foot differently from most of its half-stride is
   relabelled (:func:`_order_flicker`). After step 2 a Viterbi pass over "as labelled" /
   "swapped" states picks, for every frame, the labelling whose trajectories continue the
   previous two frames best (constant-velocity prediction); changing state costs a fixed
   penalty and the swapped state a small one (a large one where the foot order agrees with
   the half-stride), so a labelling is only flipped when the motion clearly says so.
4. **Fill gaps** of at most :data:`MAX_GAP_S` by cubic Hermite interpolation (the limb keeps
   the speed it had on both sides of the gap); longer gaps stay NaN.
5. **Smooth**, twice from the same repaired landmarks:

   * the **event track** (:func:`clean_track`): 2nd-order Butterworth low-pass run forwards
     and backwards (zero lag), cutoff :data:`CUTOFF_HZ` capped at 0.4 x Nyquist (6 Hz at
     30 fps, 12 Hz at 60 fps, 20 Hz from 100 fps). The event rules were calibrated on
     tracks cleaned this way. Such a low cutoff flattens the short stance peaks of knee
     and pelvis angles, so it is not used for the metrics.
   * the **metric track** (:func:`clean_tracks`): the same filter with a cutoff of
     :data:`METRIC_CUTOFF_NYQUIST_FRACTION` x Nyquist, which keeps the peaks of the
     stance (a 0.1-0.2 s event spans only a few frames) while still removing the
     frame-to-frame jitter of a pose model.

Steps 2-5 apply to :data:`BODY_LANDMARKS`, the landmarks the analysis reads (pixel and world
coordinates); the face, arm and hand landmarks are only masked for low visibility (the report
draws them low-passed for display only, :func:`gaitcheck.report.keyframes.display_xy_px`).
Counts in the report are landmark points (frame x landmark).
Every step works on (columns, frames) arrays, one contiguous row per coordinate series,
and visits missing samples only where they are; the cost grows linearly with the frames
(``benchmarks/bench_metrics.py`` times an hour at 60 fps). The cleaned tracks keep these
rows as their body landmarks' pixels; their full (T, 33, 3) world array is repaired on a
second thread and their image array built on first read (:class:`~gaitcheck.track.PendingArray`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.events import leg_length_px
from gaitcheck.filters import running_median, zero_lag_lowpass
from gaitcheck.track import PendingArray, PoseTrack, gather_landmark_rows, scatter_landmark_rows

if TYPE_CHECKING:
    from gaitcheck.classify import ClipClassification

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

MIN_VISIBILITY = 0.3
HAMPEL_WINDOW_S = 0.1
HAMPEL_N_SIGMA = 5.0
HAMPEL_MIN_DEVIATION_LEG = 0.15
MAX_GAP_S = 0.1
CUTOFF_HZ = 20.0
MAX_CUTOFF_NYQUIST_FRACTION = 0.4
#: Lowest cutoff of the metric track's low-pass (running stance peaks keep their height
#: above it), and its cap as a fraction of Nyquist.
METRIC_MIN_CUTOFF_HZ = 12.0
METRIC_CUTOFF_NYQUIST_FRACTION = 0.8
FILTER_ORDER = 2
#: Viterbi costs, in squared leg lengths of prediction error.
SWAP_CHANGE_COST = 0.01
SWAPPED_STATE_COST = 0.01
#: Label flicker (:func:`_order_flicker`). Fastest closing speed of the two feet in leg
#: lengths per second: the swing foot moves forward at up to ~1.5x running speed while the
#: stance foot moves back at running speed, ~12 m/s at 5 m/s, i.e. 13 leg lengths/s (physical
#: bound, not fitted). Feet closer than what they can close within the median window (at
#: least MIN_CROSSING_HALF_WIDTH_LEG) count as crossing. The median window (0.07 s: 5 frames
#: at 60 fps) passes over up to two frames in which the model draws both feet onto one;
#: chosen on side_land30_cad155 (the suite clip whose MediaPipe labels flicker), checked on
#: the other side clips and three held-out side renders.
MAX_FEET_CLOSING_SPEED_LEG_PER_S = 13.0
MIN_CROSSING_HALF_WIDTH_LEG = 0.15
CROSSING_MEDIAN_WINDOW_S = 0.07
#: Viterbi cost of the swapped state in a frame whose foot order agrees with its half-stride:
#: a whole half-stride is relabelled only when the motion through its crossings clearly says so.
SWAPPED_AGAINST_ORDER_COST = 1.0

_SWAPPABLE_PARTS = ("knee", "ankle", "heel", "foot_index")

#: Landmarks that are cleaned: the ones events, metrics, pelvis and report signals read
#: (legs, and shoulders for the trunk lean). The face, arm and hand landmarks are only
#: masked for low visibility and otherwise passed through unchanged (cleaning them cost a
#: third more and nothing reads them but the report's drawings).
BODY_LANDMARKS: tuple[str, ...] = ("left_shoulder", "right_shoulder", *skeleton.LEG_LANDMARKS)


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
    metric_filter_cutoff_hz: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class CleanedTracks:
    """The two smoothings of one repaired track (see the module docstring).

    Attributes
    ----------
    events : low-pass filtered at :func:`filter_cutoff_hz`, the input of event detection.
    metrics : filtered at :func:`metric_filter_cutoff_hz`, the input of the per-stance
        metrics (its world coordinates are the event track's; they only give the scale).
        The same object as ``events`` where both cutoffs agree (from 60 fps up).
    report : what cleaning changed.
    """

    events: PoseTrack
    metrics: PoseTrack
    report: CleaningReport


def filter_cutoff_hz(fps: float) -> float:
    """Event-track low-pass cutoff at a frame rate: :data:`CUTOFF_HZ`, at most 0.4 x Nyquist."""
    return float(min(CUTOFF_HZ, MAX_CUTOFF_NYQUIST_FRACTION * fps / 2.0))


def metric_filter_cutoff_hz(fps: float) -> float:
    """Metric-track low-pass cutoff at a frame rate: the event cutoff, raised to at least
    :data:`METRIC_MIN_CUTOFF_HZ` where the frame rate allows it (at most
    :data:`METRIC_CUTOFF_NYQUIST_FRACTION` x Nyquist): 12 Hz at 30 and 60 fps, 20 Hz from 100 fps."""
    floor_hz = min(METRIC_MIN_CUTOFF_HZ, METRIC_CUTOFF_NYQUIST_FRACTION * fps / 2.0)
    return float(max(filter_cutoff_hz(fps), floor_hz))


# ------------------------------------------------------------------ column-wise steps
# Every helper below works on a (columns, frames) array: one row per coordinate series,
# contiguous in time, so per-series operations read memory in order.


def _bridge_rows(rows: FloatArray, finite: BoolArray | None = None) -> FloatArray:
    """Every NaN replaced by linear interpolation along a row, ends held; all-NaN rows stay NaN.

    ``finite`` is ``np.isfinite(rows)`` when the caller has it. Returns ``rows`` itself (not a
    copy) when nothing is missing.
    """
    if finite is None:
        finite = np.isfinite(rows)
    incomplete = np.flatnonzero(~finite.all(axis=1))
    if incomplete.size == 0:
        return rows
    out = rows.copy()
    frames = np.arange(rows.shape[1])
    for row in incomplete:  # only rows with missing samples
        known = finite[row]
        if known.any():
            out[row] = np.interp(frames, frames[known], rows[row, known])
    return out


def _hampel_outlier_rows(
    rows: FloatArray, window: int, min_deviation: float, pool: Executor, finite: BoolArray | None = None
) -> BoolArray:
    """(columns, frames) mask of samples that stray from their row's running median.

    Missing samples are bridged linearly for the running median. The scale is the median
    absolute deviation from the running median over the whole (bridged) row, so one
    running-median pass suffices. Missing samples are never outliers.

    A row whose consecutive samples never differ by more than ``min_deviation`` / (window // 2)
    has no outlier (the running median is one of the window's samples, at most window // 2
    steps away, and the threshold is at least ``min_deviation``): its running median is not
    computed (hips and shoulders, whose frame-to-frame motion is small, in most clips). The
    other rows are shared between ``pool`` and the calling thread (:func:`_share`).
    ``finite`` is ``np.isfinite(rows)`` when the caller has it.
    """
    if finite is None:
        finite = np.isfinite(rows)
    bridged = _bridge_rows(rows, finite)
    has_data = np.asarray(finite.any(axis=1))
    safe = bridged if has_data.all() else np.where(has_data[:, None], bridged, 0.0)
    outliers = np.zeros(rows.shape, dtype=bool)
    if rows.shape[1] < 2:
        return outliers
    may_stray = (window // 2) * _largest_steps(safe) > min_deviation * (1.0 - 1e-9)  # margin against rounding
    settled_below = min_deviation / (HAMPEL_N_SIGMA * 1.4826) * (1.0 - 1e-9)

    def reject(row: int) -> None:
        deviation = running_median(safe[row], window)
        np.subtract(safe[row], deviation, out=deviation)
        np.abs(deviation, out=deviation)
        # The robust sigma only matters where HAMPEL_N_SIGMA sigma exceeds ``min_deviation``.
        # When more than half of the row's deviations lie at or below that sigma's deviation
        # (a little less, against rounding), so does their median, and the threshold is
        # ``min_deviation`` whatever the exact median; it is computed (a selection over every
        # frame) for the other rows only.
        sigma = 0.0
        settled = np.count_nonzero(deviation <= settled_below) > rows.shape[1] // 2
        if has_data[row] and not settled:
            sigma = 1.4826 * float(np.median(deviation))
        np.greater(deviation, max(HAMPEL_N_SIGMA * sigma, min_deviation), out=outliers[row])
        outliers[row] &= finite[row]

    _share(pool, reject, [int(row) for row in np.flatnonzero(may_stray)])
    return outliers


def _largest_steps(rows: FloatArray) -> FloatArray:
    """Largest |difference| between consecutive samples of every row, taken over blocks of
    :data:`_STEP_BLOCK_FRAMES` frames, whose differences stay in cache."""
    largest = np.zeros(rows.shape[0])
    for first in range(0, rows.shape[1] - 1, _STEP_BLOCK_FRAMES):
        steps = np.diff(rows[:, first : first + _STEP_BLOCK_FRAMES + 1], axis=1)
        np.maximum(largest, np.maximum(steps.max(axis=1), -steps.min(axis=1)), out=largest)
    return largest


_STEP_BLOCK_FRAMES = 8192


def _fill_gap_rows(
    rows: FloatArray, max_gap: int, *, in_place: bool = False, finite: BoolArray | None = None
) -> FloatArray:
    """Fill NaN runs of at most ``max_gap`` samples along every row.

    Cubic Hermite interpolation between the two known samples around the gap, with the
    slopes of the known samples next to them (one-sided differences), so a swinging limb
    keeps its speed through the gap; linear where a neighbour's slope is unknown. Only the
    missing samples are visited; ``rows`` itself is returned when no gap is short enough,
    or always with ``in_place`` (the gaps are then filled in ``rows``). ``finite``, when
    given, is ``np.isfinite(rows)``; it is brought up to date with the filled samples.
    """
    if finite is None:
        finite = np.isfinite(rows)
    out = rows
    copy_on_fill = not in_place
    for row in np.flatnonzero(~finite.all(axis=1)):
        series = rows[row]
        known = np.flatnonzero(finite[row])
        if known.size < 2:
            continue
        missing = np.flatnonzero(~finite[row])
        after = np.searchsorted(known, missing)
        before = after - 1
        inside = (before >= 0) & (after < known.size)
        missing, before, after = missing[inside], before[inside], after[inside]
        short = known[after] - known[before] - 1 <= max_gap
        missing, k0, k1 = missing[short], before[short], after[short]
        if missing.size == 0:
            continue
        if copy_on_fill:
            out, copy_on_fill = rows.copy(), False
        x0, x1 = known[k0].astype(np.float64), known[k1].astype(np.float64)
        y0, y1 = series[known[k0]], series[known[k1]]
        span = x1 - x0
        linear = (y1 - y0) / span
        prev = known[np.maximum(k0 - 1, 0)]
        nxt = known[np.minimum(k1 + 1, known.size - 1)]
        with np.errstate(invalid="ignore", divide="ignore"):
            slope0 = np.where(k0 > 0, (y0 - series[prev]) / (x0 - prev), linear)
            slope1 = np.where(k1 < known.size - 1, (series[nxt] - y1) / (nxt - x1), linear)
        u = (missing - x0) / span
        h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
        h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
        out[row, missing] = h00 * y0 + h10 * span * slope0 + h01 * y1 + h11 * span * slope1
        finite[row, missing] = np.isfinite(out[row, missing])
    return out


def lowpass_across_gaps(rows: FloatArray, cutoff_hz: float, fps: float) -> FloatArray:
    """Zero-lag Butterworth low-pass (order :data:`FILTER_ORDER`) along every row of a
    (series, frames) array, as cleaning filters the body landmarks: NaN runs are bridged for
    the filter and NaN again in the result."""
    return _lowpass_rows(rows, cutoff_hz, fps, np.zeros((1, rows.shape[1]), dtype=bool))


def _lowpass_rows(
    rows: FloatArray, cutoff_hz: float, fps: float, missing_points: BoolArray, finite: BoolArray | None = None
) -> FloatArray:
    """Zero-lag Butterworth low-pass along every row; NaN runs are bridged for the filter.

    The result is NaN where ``rows`` is and at the (landmarks, T) ``missing_points`` (each
    landmark owns ``rows / landmarks`` consecutive rows). ``finite`` is ``np.isfinite(rows)``
    when the caller has it.
    """
    if finite is None:
        finite = np.isfinite(rows)
    missing = ~finite
    usable = ~missing.all(axis=1)
    if usable.all():
        out = zero_lag_lowpass(_bridge_rows(rows, finite), cutoff_hz, fps, order=FILTER_ORDER, axis=1)
    else:
        out = np.full_like(rows, np.nan)
        if usable.any():
            out[usable] = zero_lag_lowpass(_bridge_rows(rows[usable]), cutoff_hz, fps, order=FILTER_ORDER, axis=1)
    missing |= np.repeat(missing_points, rows.shape[0] // missing_points.shape[0], axis=0)
    if missing.any():
        out[missing] = np.nan
    return out


# ------------------------------------------------------------------ leg-label swaps


def _swap_index() -> NDArray[np.intp]:
    """Landmark permutation that exchanges the swappable leg landmarks."""
    order = np.arange(skeleton.N_LANDMARKS)
    for part in _SWAPPABLE_PARTS:
        left, right = skeleton.index(f"left_{part}"), skeleton.index(f"right_{part}")
        order[left], order[right] = right, left
    return order


def _swap_costs(labelled: FloatArray, swapped: FloatArray) -> FloatArray:
    """(T-2, a, b, c) squared constant-velocity prediction errors plus state costs.

    ``labelled`` and ``swapped`` are (T, N) leg coordinates in leg lengths, as labelled and
    with the legs exchanged. Frame t in state c is predicted from frames t-1 (state b) and
    t-2 (state a); states are 0 = as labelled, 1 = legs exchanged. Missing points cost
    nothing. Exchanging all three states only exchanges the two legs' terms, so
    cost(a, b, c) = cost(1-a, 1-b, 1-c) and four of the eight combinations are computed.

    The errors are computed per coordinate series ((N, T) rows, which the transposed
    ``(T, N)`` views of the cleaning's pixel rows already are) and their squares summed
    over the N series in order; the missing-point check is skipped when nothing is missing.
    """
    rows = (labelled.T, swapped.T)
    n = labelled.shape[0]
    has_missing = not (np.isfinite(labelled).all() and np.isfinite(swapped).all())
    cost = np.empty((n - 2, 2, 2, 2))
    for b in (0, 1):
        predicted = 2.0 * rows[b][:, 1:-1] - rows[0][:, :-2]
        for c in (0, 1):
            error = rows[c][:, 2:] - predicted
            if has_missing:
                np.copyto(error, 0.0, where=~np.isfinite(error))
            error *= error
            cost[:, 0, b, c] = error.sum(axis=0)
            cost[:, 1, 1 - b, 1 - c] = cost[:, 0, b, c]
    cost += SWAPPED_STATE_COST * np.array([0.0, 1.0])[None, None, None, :]
    cost += SWAP_CHANGE_COST * (np.arange(2)[None, None, :, None] != np.arange(2)[None, None, None, :])
    return cost


def _blockwise_swap_costs(
    labelled: FloatArray, swapped: FloatArray, block: int = 4096, pool: Executor | None = None
) -> FloatArray:
    """:func:`_swap_costs` over blocks of ``block`` frames, joined: the same values (the cost of
    a frame depends on it and the two frames before it, which each block includes) with the
    temporaries of a block in cache (a third faster on an hour of frames).

    With ``pool``, the blocks are shared between it and the calling thread (:func:`_share`;
    numpy's arithmetic runs without the interpreter lock); the values are the same.
    """
    n = labelled.shape[0]

    def costs(first: int) -> FloatArray:
        return _swap_costs(labelled[first : first + block + 2], swapped[first : first + block + 2])

    firsts = list(range(0, n - 2, block))
    return np.concatenate(_share(pool, costs, firsts) if pool is not None else [costs(first) for first in firsts])


def _viterbi_pairs(columns: FloatArray, steps: int, k: int) -> BoolArray:
    """Best state path for ``k`` sequences of pair states, each ``steps`` steps long.

    ``columns`` is (P, a, b, c, C) with C >= k + (steps - 1) // P: step ``s`` of sequence
    ``j`` costs ``columns[s % P, ..., s // P + j]`` (sequence j's steps are the costs from
    position j * P on, stored P positions to a column). Every step's costs of all sequences
    are then one contiguous (a, b, c, k) block, the sequences innermost (numpy loops over
    them, not over the 2 x 2 x 2 states). Returns (steps + 2, k) bool states.
    """
    period = columns.shape[0]
    total = np.zeros((2, 2, k))  # state (previous, current) before the first step
    total += SWAPPED_STATE_COST * np.array([0.0, 1.0])[None, :, None]
    total += SWAP_CHANGE_COST * (np.arange(2)[:, None] != np.arange(2)[None, :])[:, :, None]
    back = np.empty((steps, 2, 2, k), dtype=bool)
    candidates = np.empty((2, 2, 2, k))
    for step in range(steps):
        first = step // period
        np.add(total[:, :, None, :], columns[step % period, ..., first : first + k], out=candidates)  # (a, b, c, k)
        np.less(candidates[1], candidates[0], out=back[step])
        np.minimum(candidates[0], candidates[1], out=total)
    states = np.zeros((steps + 2, k), dtype=bool)
    best = np.argmin(total.reshape(4, k), axis=0)
    b, c = best // 2, best % 2
    states[-1], states[-2] = c.astype(bool), b.astype(bool)
    sequences = np.arange(k)
    for step in range(steps - 1, -1, -1):
        a = back[step, b, c, sequences]
        states[step] = a
        b, c = a.astype(np.intp), b
    return states


def _decode_swaps(cost: FloatArray, segment: int, overlap: int) -> BoolArray:
    """(T,) Viterbi states from (T-2, 2, 2, 2) costs, long tracks in overlapping segments.

    Segment ``s`` decodes steps ``s * segment - overlap`` to ``(s + 1) * segment + overlap``
    (steps outside the track cost nothing) and keeps its middle ``segment`` states; all
    segments are decoded together, from one copy of the zero-padded costs laid out
    ``segment`` steps to a column (:func:`_viterbi_pairs`).
    """
    steps = cost.shape[0]
    n = steps + 2
    if steps <= segment + 2 * overlap:
        return _viterbi_pairs(cost[..., None], steps, 1)[:, 0]
    n_segments = -(-steps // segment)
    length = segment + 2 * overlap
    n_columns = n_segments + (length - 1) // segment
    padded = np.zeros((n_columns * segment, *cost.shape[1:]))
    padded[overlap : overlap + steps] = cost
    # the columns transposed a few at a time: the reads and writes of a block stay in cache
    # (3x faster than one transposing copy on an hour of frames)
    blocks = padded.reshape(n_columns, segment, 8)
    columns = np.empty((segment, 8, n_columns))
    for first in range(0, n_columns, 64):
        columns[:, :, first : first + 64] = blocks[first : first + 64].transpose(1, 2, 0)
    columns = columns.reshape(segment, 2, 2, 2, n_columns)
    decoded = _viterbi_pairs(columns, length, n_segments)[2:]  # (step, segment): frame index + 2
    kept = decoded[overlap : overlap + segment].T.ravel()  # segment by segment, in frame order
    states = np.zeros(n, dtype=bool)
    states[2:] = kept[:steps]
    states[:2] = states[2]
    return states


def _order_flicker(labelled: FloatArray, fps: float) -> tuple[BoolArray, BoolArray]:
    """Frames whose front/back foot order disagrees with the rest of their half-stride.

    Between two crossings of the feet (where their image u positions pass each other) the
    same leg stays in front, so the label of the front foot must not change; a frame in which
    the pose model gives the front foot the other label than most frames of its half-stride
    is a flicker of the labels (MediaPipe does this in side views just before the near foot
    lands). A frame is at a crossing when the running median of the feet's distance (the same
    under either labelling) is within what the feet can close over the median window
    (:data:`MAX_FEET_CLOSING_SPEED_LEG_PER_S`), so fast feet at a low frame rate cannot cross
    unseen, or when the feet are missing; such frames do not vote and are never flickers.

    Parameters
    ----------
    labelled : (T, N) leg coordinates in leg lengths, columns (x, y) per landmark of
        :func:`_leg_swap_pairs` (the left leg's parts, then the right leg's).
    fps : frame rate.

    Returns
    -------
    (flicker, ordered) : (T,) bool each; ``ordered`` marks the frames that voted.
    """
    n_parts = len(_SWAPPABLE_PARTS)
    feet = [_SWAPPABLE_PARTS.index(part) for part in ("ankle", "heel", "foot_index")]
    left_u = labelled[:, [2 * part for part in feet]].mean(axis=1)
    right_u = labelled[:, [2 * (n_parts + part) for part in feet]].mean(axis=1)
    apart = left_u - right_u
    finite = np.isfinite(apart)
    # the feet's distance is the same under either labelling; its running median ignores a
    # frame or two in which the model put both feet in one place, which is not a crossing
    window = max(3, round(CROSSING_MEDIAN_WINDOW_S * fps) | 1)
    distance = running_median(np.abs(_bridge_rows(apart[None, :])[0]), window)
    closing_leg = MAX_FEET_CLOSING_SPEED_LEG_PER_S / fps * (1 + (window - 1) // 4)  # the median of a V
    crossing = ~finite | (distance < max(MIN_CROSSING_HALF_WIDTH_LEG, closing_leg))
    half_stride = np.cumsum(crossing)
    voting = finite & ~crossing
    votes = np.bincount(half_stride[voting], weights=np.sign(apart[voting]), minlength=half_stride[-1] + 1)
    majority = np.sign(votes)[half_stride]
    return np.asarray(voting & (majority != 0) & (np.sign(apart) != majority)), voting


def leg_label_swaps(
    labelled: FloatArray,
    swapped: FloatArray,
    fps: float,
    pool: Executor | None = None,
    order: tuple[BoolArray, BoolArray] | None = None,
) -> BoolArray:
    """(T,) frames whose leg labels are exchanged.

    Order flickers within a half-stride (:func:`_order_flicker`) are exchanged first; then
    the Viterbi pass (:func:`_swap_costs`) decides the frames at crossings and whole
    half-strides, with the swapped state costing :data:`SWAPPED_AGAINST_ORDER_COST` extra
    where the foot order agrees with its half-stride. ``labelled`` and ``swapped`` are (T, N)
    leg coordinates in leg lengths, as labelled and with the legs exchanged. ``pool``, if
    given, shares the computation of the costs with the calling thread (same result);
    ``order``, if given, is ``_order_flicker(labelled, fps)``, which the caller already has.
    """
    flicker, ordered = order if order is not None else _order_flicker(labelled, fps)
    first, second = labelled, swapped
    if flicker.any():
        first = np.where(flicker[:, None], swapped, labelled)
        second = np.where(flicker[:, None], labelled, swapped)
    cost = _blockwise_swap_costs(first, second, pool=pool)
    cost[:, :, :, 1] += SWAPPED_AGAINST_ORDER_COST * ordered[2:, None, None]
    return np.asarray(flicker ^ _decode_swaps(cost, 256, 128))


def _in_leg_lengths(xy_rows: FloatArray, rows: NDArray[np.intp], leg_px: float) -> FloatArray:
    """A copy of some of the (columns, frames) pixel rows divided by the leg length."""
    selected = xy_rows[rows]
    selected /= leg_px
    return selected


def _leg_swap_pairs() -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Landmark indices of the swappable leg points and of their exchanged partners."""
    legs = np.array([skeleton.index(f"{side}_{part}") for side in ("left", "right") for part in _SWAPPABLE_PARTS])
    return legs, _swap_index()[legs]


# ------------------------------------------------------------------ the cleaning pass


def clean_tracks(track: PoseTrack, classification: ClipClassification) -> CleanedTracks:
    """Repair a raw pose track once and smooth it for events and for metrics.

    Parameters
    ----------
    track : PoseTrack
        Raw landmarks (e.g. from ``gaitcheck extract``).
    classification : ClipClassification
        Swap repair runs for side views only (in rear/front views the legs do not cross).

    Returns
    -------
    CleanedTracks
        The event track (as :func:`clean_track` returns it), the metric track (same
        repairs, higher cutoff) and the report; both tracks keep the frames and metadata
        and carry the report under ``meta["cleaning"]``.
    """
    return _clean(track, classification, metric_track=True)


def clean_track(track: PoseTrack, classification: ClipClassification) -> tuple[PoseTrack, CleaningReport]:
    """Mask, de-outlier, de-swap, gap-fill and low-pass filter a raw pose track for event detection.

    Parameters
    ----------
    track : PoseTrack
        Raw landmarks (e.g. from ``gaitcheck extract``).
    classification : ClipClassification
        Swap repair runs for side views only (in rear/front views the legs do not cross).

    Returns
    -------
    (PoseTrack, CleaningReport)
        The event track (same frames and metadata plus ``cleaning``) and what changed. Use
        :func:`clean_tracks` for the peak-preserving metric track as well.
    """
    cleaned = _clean(track, classification, metric_track=False)
    return cleaned.events, cleaned.report


def _clean(track: PoseTrack, classification: ClipClassification, *, metric_track: bool) -> CleanedTracks:
    """Both cleaning products; the metric track is the event track when ``metric_track`` is False.

    Work that numpy and scipy run without holding the interpreter lock (array copies, the
    running medians, the Butterworth filter, the swap costs' arithmetic) runs in a second
    thread beside the rest: the outlier rejection's rows, the swap costs and the filtered rows
    are shared in parts between the two threads (:func:`_share`).

    The cleaned tracks' (T, 33, 3) arrays are pending (:class:`~gaitcheck.track.PendingArray`):
    events and metrics read the body landmarks from the pixel rows the tracks keep, the world
    array is copied and repaired in that thread after this call returns (the metrics read a
    sample of it last), and the image array is built when first read (:func:`_cleaned_track`). Every result
    is the same as computed in one thread.
    """
    pool = ThreadPoolExecutor(max_workers=_WORKER_THREADS, thread_name_prefix="gaitcheck-clean")
    try:
        return _clean_in(pool, track, classification, metric_track=metric_track)
    finally:
        pool.shutdown(wait=False)  # its thread ends once the pending arrays are built


#: Threads beside the calling one in :func:`clean_tracks` (this machine class has 2 cores).
_WORKER_THREADS = 1


def _clean_in(
    pool: ThreadPoolExecutor, track: PoseTrack, classification: ClipClassification, *, metric_track: bool
) -> CleanedTracks:
    """:func:`_clean` with ``pool`` for the work that runs beside the calling thread."""
    fps, n_frames = track.fps, track.n_frames
    leg_px = track.derived("leg_length_px", leg_length_px)  # as classification read it
    body = _body_indices()
    n_body = body.size
    # points with low visibility, seen or not (masking a missing point changes nothing)
    below_visibility = track.visibility < MIN_VISIBILITY
    # on the second thread while the label flicker is read: the masked points the image has
    low_visibility_seen = pool.submit(_seen_points, track, below_visibility)

    # (columns, frames): 2 pixel rows per body landmark, as the track keeps them (PoseTrack.points_px)
    xy_rows = np.concatenate([points.T for points in track.points_px(BODY_LANDMARKS).values()])
    if below_visibility.any():
        xy_rows[np.repeat(below_visibility[:, body].T, 2, axis=0)] = np.nan

    swapped = np.zeros(n_frames, dtype=bool)
    side_view = classification.view.startswith("side") and n_frames >= 3
    if side_view:
        column = {landmark: position for position, landmark in enumerate(body)}
        legs, partners = _leg_swap_pairs()
        leg_rows = np.array([2 * column[landmark] + axis for landmark in legs for axis in (0, 1)])
        body_order = np.array([column[landmark] for landmark in _swap_index()[body]])
        xy_order = (2 * body_order[:, None] + np.arange(2)).ravel()
        position = {row: index for index, row in enumerate(leg_rows)}
        # the row of each leg row's partner (the other leg's), among the leg rows
        partner_positions = np.array(
            [position[2 * column[landmark] + axis] for landmark in partners for axis in (0, 1)]
        )
        # the leg rows in leg lengths, relabelled and rejected below as xy_rows is
        labelled = _in_leg_lengths(xy_rows, leg_rows, leg_px)
        # before outlier rejection, which would delete a flickering label instead of relabelling it
        flicker, ordered = _order_flicker(labelled.T, fps)
        if flicker.any():
            xy_rows[:, flicker] = xy_rows[xy_order][:, flicker]
            labelled[:, flicker] = labelled[partner_positions][:, flicker]

    # which samples are known, kept up to date through the steps below (one isfinite pass)
    finite = np.isfinite(xy_rows)
    window = max(3, round(HAMPEL_WINDOW_S * fps) | 1)
    outlier_rows = _hampel_outlier_rows(xy_rows, window, HAMPEL_MIN_DEVIATION_LEG * leg_px, pool, finite)
    outliers = outlier_rows.reshape(n_body, 2, n_frames).any(axis=1) & ~_points_missing(finite, n_body)
    outlier_samples = np.repeat(outliers, 2, axis=0)
    xy_rows[outlier_samples] = np.nan
    finite &= ~outlier_samples

    if side_view:
        leg_outliers = outlier_samples[leg_rows]
        leg_rejected = bool(leg_outliers.any())
        if leg_rejected:
            labelled[leg_outliers] = np.nan
        # the foot order read before outlier rejection holds when it relabelled nothing and no
        # leg point was rejected (the same rows)
        unchanged = not flicker.any() and not leg_rejected
        swapped = leg_label_swaps(
            labelled.T,
            labelled[partner_positions].T,
            fps,
            pool,
            order=(flicker, ordered) if unchanged else None,
        )
        if swapped.any():
            xy_rows[:, swapped] = xy_rows[xy_order][:, swapped]
            finite[:, swapped] = finite[xy_order][:, swapped]
        if flicker.any():
            outliers[:, flicker] = outliers[body_order][:, flicker]  # as labelled in the raw track
            swapped ^= flicker

    missing_before = _points_missing(finite, n_body)
    max_gap = round(MAX_GAP_S * fps)
    _fill_gap_rows(xy_rows, max_gap, in_place=True, finite=finite)
    missing_after = _points_missing(finite, n_body)

    cutoff = filter_cutoff_hz(fps)
    metric_cutoff = metric_filter_cutoff_hz(fps)
    low_visibility = low_visibility_seen.result()
    gap_filled = missing_before & ~missing_after
    report = CleaningReport(
        points_masked_low_visibility=int(low_visibility.sum()),
        points_rejected_outliers=int(outliers.sum()),
        frames_swap_repaired=int(swapped.sum()),
        points_gap_filled=int(gap_filled.sum()),
        points_left_missing=int(missing_after.sum()),
        filter_cutoff_hz=cutoff,
        filter_order=FILTER_ORDER,
        max_gap_s=MAX_GAP_S,
        metric_filter_cutoff_hz=metric_cutoff,
    )
    repaired = bool(low_visibility.any() or outliers.any() or swapped.any() or gap_filled.any() or missing_after.any())
    meta = {**track.meta, "cleaning": report.as_dict()}
    scale = scale_rows(np.array([track.width, track.height], dtype=np.float64), n_body)
    events_xy = _filtered_rows(pool, xy_rows, finite, cutoff, fps, missing_after, scale)
    metric_xy = None
    if metric_track and metric_cutoff != cutoff:
        metric_xy = _filtered_rows(pool, xy_rows, finite, metric_cutoff, fps, missing_after, scale)
    # submitted after the filtering, which the second thread shares (it takes tasks in order)
    world = pool.submit(
        _clean_world,
        track.world_xyz,
        below_visibility if repaired else None,
        body,
        swapped,
        gap_filled,
        max_gap,
        outliers,
        missing_after,
    )
    events = _cleaned_track(track, *events_xy, below_visibility, missing_after, world, meta)
    if metric_xy is None:
        return CleanedTracks(events, events, report)
    return CleanedTracks(
        events, _cleaned_track(track, *metric_xy, below_visibility, missing_after, world, meta), report
    )


def _filtered_rows(
    pool: Executor,
    rows: FloatArray,
    finite: BoolArray,
    cutoff_hz: float,
    fps: float,
    missing_points: BoolArray,
    scale: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """The pixel rows (known where ``finite``) low-pass filtered (:func:`_lowpass_rows`) and
    divided by the (rows, 1) image ``scale``, and the pixels those give back
    (``normalised * scale``, as :meth:`PoseTrack.points_px` computes pixels from image
    coordinates).

    Computed for :data:`_LOWPASS_PARTS` groups of landmarks' rows, shared between ``pool`` and
    the calling thread by :func:`_share` (each row is filtered on its own: the same result),
    each group written into its rows of the two results while it is in cache.
    """
    normalised, pixels = np.empty_like(rows), np.empty_like(rows)
    n_landmarks = missing_points.shape[0]
    per_landmark = rows.shape[0] // max(n_landmarks, 1)
    bounds = np.linspace(0, n_landmarks, min(_LOWPASS_PARTS, n_landmarks) + 1).round().astype(int)

    def filtered(part: tuple[int, int]) -> None:
        first, stop = part
        part_rows = slice(first * per_landmark, stop * per_landmark)
        lowpassed = _lowpass_rows(rows[part_rows], cutoff_hz, fps, missing_points[first:stop], finite[part_rows])
        np.divide(lowpassed, scale[part_rows], out=normalised[part_rows])
        np.multiply(normalised[part_rows], scale[part_rows], out=pixels[part_rows])

    parts = [(int(first), int(stop)) for first, stop in itertools.pairwise(bounds)]
    _share(pool, filtered, parts)
    return normalised, pixels


#: Groups of landmarks whose rows :func:`_filtered_rows` filters as one task.
_LOWPASS_PARTS = 6

_Part = TypeVar("_Part")
_Result = TypeVar("_Result")


def _share(pool: Executor, compute: Callable[[_Part], _Result], parts: Sequence[_Part]) -> list[_Result]:
    """``[compute(part) for part in parts]``, shared between ``pool`` and the calling thread.

    Every part is offered to the pool, which takes them in order; the calling thread takes
    parts back from the end of the queue and computes them itself until it reaches one the
    pool has started. Both work until they meet, however busy the pool was with earlier tasks.
    """
    futures = [pool.submit(compute, part) for part in parts]
    taken: dict[int, _Result] = {}
    for index in reversed(range(len(parts))):
        if not futures[index].cancel():
            break
        taken[index] = compute(parts[index])
    return [taken[index] if index in taken else future.result() for index, future in enumerate(futures)]


def _cleaned_track(
    track: PoseTrack,
    normalised: FloatArray,
    pixels: FloatArray,
    below_visibility: BoolArray,
    missing_after: BoolArray,
    world: Future[FloatArray],
    meta: dict[str, Any],
) -> PoseTrack:
    """The cleaned track whose body landmarks' x, y are the (2 x body landmarks, T) rows
    ``normalised`` by the image size (:func:`_filtered_rows`).

    It keeps the body landmarks' ``pixels`` (``normalised * (width, height)``, as
    :meth:`PoseTrack.points_px` computes them; :meth:`PoseTrack.keep_points_px`), which is all
    events and metrics read of the image. Its full image coordinates (:func:`_cleaned_image`) are built when first read
    (the report's drawings, the pelvis estimate), its world coordinates come from the
    ``world`` future (the metrics read a sample of frames for the body scale), both as
    :class:`~gaitcheck.track.PendingArray`.
    """
    body = _body_indices()
    image = functools.partial(_cleaned_image, track.image_xyz, below_visibility, body, normalised, missing_after)
    shape = track.image_xyz.shape
    cleaned = track.replace(
        image_xyz=PendingArray(shape, image), world_xyz=PendingArray(shape, world.result), meta=meta
    )
    cleaned.keep_points_px(pixels, BODY_LANDMARKS)
    return cleaned


def _body_indices() -> NDArray[np.intp]:
    """Landmark indices of :data:`BODY_LANDMARKS`, in order."""
    return np.array([skeleton.index(name) for name in BODY_LANDMARKS])


def _cleaned_image(
    raw: NDArray[Any], below_visibility: BoolArray, body: NDArray[np.intp], normalised: FloatArray, missing: BoolArray
) -> FloatArray:
    """(T, 33, 3) cleaned image coordinates: the raw ones with the points of low visibility NaN,
    the body landmarks' x, y replaced by the (2 x body landmarks, T) ``normalised`` rows, and
    every coordinate of the (body landmarks, T) ``missing`` points NaN."""
    image = _masked_copy(raw, below_visibility)
    _mask_points(image, body, missing)
    scatter_landmark_rows(image, body, normalised)
    return image


def _masked_copy(values: NDArray[Any], points: BoolArray) -> FloatArray:
    """A writable copy of a (T, 33, C) array with every coordinate of the (T, 33) ``points`` NaN.

    A plain copy with the masked points then written while they are few (up to
    :data:`_SPARSE_MASK_FRACTION` of the points; twice as fast as a masked select on an hour
    of frames), a masked select otherwise.
    """
    n_masked = np.count_nonzero(points)
    if n_masked > _SPARSE_MASK_FRACTION * points.size:
        return np.where(points[..., None], np.nan, values)
    out = np.array(values, dtype=np.float64)
    if n_masked:
        out[points] = np.nan
    return out


#: Above this fraction of masked points, :func:`_masked_copy` selects instead of writing them
#: (rough break-even measured on an hour of 60 fps frames: 0.05 % masked points favour the
#: writes by 1.5-2x, 46 % the select by 1.3x).
_SPARSE_MASK_FRACTION = 0.05


def _seen_points(track: PoseTrack, points: BoolArray) -> BoolArray:
    """The (T, 33) ``points`` whose image x and y are known (the low-visibility points that
    masking removes; the others are missing already)."""
    if not points.any():
        return points
    return points & np.isfinite(track.image_xyz[..., 0]) & np.isfinite(track.image_xyz[..., 1])


def _clean_world(
    raw: NDArray[Any],
    below_visibility: BoolArray | None,
    body: NDArray[np.intp],
    swapped: BoolArray,
    gap_filled: BoolArray,
    max_gap: int,
    outliers: BoolArray,
    missing_after: BoolArray,
) -> FloatArray:
    """(T, 33, 3) world coordinates with the pixel coordinates' repairs applied.

    A copy of the ``raw`` world coordinates masked at the (T, 33) ``below_visibility`` points
    and repaired, or ``raw`` itself when nothing was repaired (``below_visibility`` None).
    ``outliers``, ``gap_filled`` and ``missing_after`` are (body landmarks, T) point masks from
    the pixel coordinates; ``swapped`` is (T,). Gaps are filled only in the landmarks whose
    pixel gaps were filled, the same way; only the filled points are written back. The
    points still missing in the pixel coordinates are NaN.
    """
    if below_visibility is None:
        return np.asarray(raw, dtype=np.float64)  # float64 already: no copy
    world = _masked_copy(raw, below_visibility)
    _mask_points(world, body, outliers)
    if swapped.any():
        world[swapped] = world[swapped][:, _swap_index()]
    filled_landmarks = body[gap_filled.any(axis=1)]
    if filled_landmarks.size:
        rows = gather_landmark_rows(world, filled_landmarks, 3)
        missing = np.isnan(rows)
        _fill_gap_rows(rows, max_gap, in_place=True)
        filled = missing & ~np.isnan(rows)
        for row in np.flatnonzero(filled.any(axis=1)):
            frames = np.flatnonzero(filled[row])
            world[frames, filled_landmarks[row // 3], row % 3] = rows[row, frames]
    _mask_points(world, body, missing_after)
    return world


def _mask_points(values: FloatArray, landmarks: NDArray[np.intp], points: BoolArray) -> None:
    """Set every coordinate of the (landmarks, T) ``points`` of a (T, 33, C) array to NaN."""
    for position in np.flatnonzero(points.any(axis=1)):
        values[points[position], landmarks[position]] = np.nan


def scale_rows(scale: FloatArray, n_landmarks: int) -> FloatArray:
    """(2 x n_landmarks, 1) column of the x and y pixel scales, matching the pixel rows."""
    return np.tile(scale, n_landmarks)[:, None]


def _points_missing(finite_rows: BoolArray, n_landmarks: int) -> BoolArray:
    """(landmarks, T) mask of points with a missing x or y, from the (2 x landmarks, T) mask of
    the pixel rows' known samples."""
    return np.asarray(~finite_rows.reshape(n_landmarks, 2, -1).all(axis=1))
