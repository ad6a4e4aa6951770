"""Gait events: initial contact (IC) and toe-off (TO) of each foot, from image landmarks.

The detector works in two passes, vectorised over frames (a loop runs over the few
feature/side combinations, never over frames):

1. **Coarse phases.** One interval per step, between turning points of the pelvis height
   (running: highest points, mid-flight; walking: lowest points, double support); this
   holds through left/right landmark swaps because the pelvis has no side. The stance
   foot of an interval is the foot lower in the image over it (each foot's height taken
   relative to its own local ground level, which removes the near/far offset of side
   views and the drift of a runner crossing the frame).
2. **Refinement.** In a window around the interval start (IC) or end (TO) the event is
   the peak of one or more features of the stance foot, refined to a fraction of a frame
   by parabolic interpolation, plus a constant lag; several features are averaged:

   =====  ===============================================  =================================
   view   initial contact                                  toe-off
   =====  ===============================================  =================================
   side   leg most extended (hip-ankle, +17 ms) and heel   toe lowest relative to the pelvis
          furthest ahead of the pelvis (Zeni, +27 ms)      (-10 ms) and leg most extended
                                                           (-12 ms)
   rear   toe highest relative to the ankle (+18 ms)       toe lowest relative to the pelvis
                                                           (-24 ms)
   front  toe highest relative to the ankle (+19 ms)       ankle's upward acceleration peak
                                                           (-27 ms)
   =====  ===============================================  =================================

   Rear views have a second IC rule (median of the toe feature, the ankle's vertical
   acceleration and the pelvis's height), used when it gives clearly more regular stride
   times. Front views whose toe peaks well after the leg's extension (a foot landing
   nearly flat, :func:`_toe_rises_late_from_the_front`) use the leg most extended (+17 ms).
   A slight heel strike shows a late toe peak at some contacts only; in rear and front
   views those contacts are placed one by one from the ankle's landing deceleration or the
   leg's extension (:func:`_late_toe_contacts_from_anchor`). In side views a leg-extension
   peak that is the leg's other one (before TO at an IC, before IC at a TO) is dropped from
   the mean (:func:`_without_stray_leg_extension`).

   MediaPipe tracks (``track.meta["backend"]``) in rear and front views use their own
   rules: seen from behind or in front, MediaPipe's landmarks lag the true ones by 20-30 ms
   and its toe is erratic, so IC is the mean of the ankle's landing deceleration (+6 ms)
   and the pelvis's highest point (+20 ms) from behind, the leg most extended (-8 ms) from
   the front, and TO the pelvis's fastest rise (+13 ms), lags calibrated on MediaPipe
   tracks of the renders. When the pelvis's height was measured from its clothing texture
   (``pelvis_height_px``, :mod:`gaitcheck.pelvis`), IC is instead that height's highest
   point, mid-flight, plus half the clip's flight time, estimated from its step time and
   its toe-offs (:func:`_half_flight_frames`), and TO moves halfway toward the next highest
   point minus that half flight (:func:`_texture_flight_events`).

   Side-view running ICs are then refined, when the landmarks are precise enough, to the
   instant the heel's horizontal image track bends from its late-swing approach onto the
   straight line of the planted heel (:func:`_heel_landing_contacts`): a least-squares fit of
   that landing shape, passed through the event track's own low-pass, which does not depend
   on the runner's swing kinematics the way a feature's peak-to-IC lag does.

   Given the metric track (``metric_track``, as the pipeline passes it), the landing is fitted
   on its less smoothed heel, and exact landmarks (not MediaPipe's) read their features from
   it: below 60 fps the event track's low-pass (6 Hz at 30 fps) shifted the features' peaks
   away from the lags calibrated at 60 fps (12 Hz). Given the uncleaned landmarks too
   (``uncleaned_track``, as the pipeline passes them), exact landmarks fit the landing on
   their unfiltered heel first: no low-pass spreads the model's misfit across the kink.

The lags were calibrated on gaitsynth renders (true landmarks and MediaPipe tracks, heel
strikers) and the RBDS001 mocap runner (forefoot striker) projected into virtual cameras;
``benchmarks/validate_events.py`` prints the resulting error tables. The rear-view toe-up
rule assumes a heel strike; when the toe's peak comes well after the ankle's landing at
most contacts of the clip (:func:`_lands_on_forefoot`), the runner lands on the forefoot and
IC is the ankle's landing deceleration instead (+35 ms, calibrated on the one forefoot
striker with truth, the RBDS001 mocap runner).

In rear and front views the initial contacts are then pulled toward the rhythm of their
neighbours in proportion to how erratic they are (:func:`_regularise_steps`): from behind
MediaPipe's feet are noisy, and a contact placed two frames off made the per-step cadence
jump by 20-40 steps/min; true landmarks are left as they are.

Stance sides are then made to alternate strictly (see :func:`detect_stances`), in the phase
that the feet, or a given pelvic obliquity if it separates the sides more clearly, support.

Times convention: a fractional frame index ``f`` maps to time by linear interpolation of
``track.time_s`` (``f / fps`` for a constant-rate track), and the integer frame of an event
is ``round(f)``, as in gaitsynth's truth files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gaitcheck.errors import AnalysisError
from gaitcheck.filters import hann_window, zero_lag_lowpass
from gaitcheck.pose.mediapipe_backend import is_mediapipe_track
from gaitcheck.track import PoseTrack

if TYPE_CHECKING:
    import pandas as pd

    from gaitcheck.classify import ClipClassification

FloatArray = NDArray[np.float64]

#: Columns of the stances table, in order.
STANCE_COLUMNS: tuple[str, ...] = (
    "side",
    "ic_frame",
    "to_frame",
    "ic_time_s",
    "to_time_s",
    "contact_time_s",
    "complete",
)

#: Fewest stances (steps) a clip must contain to be analysed: two strides.
MIN_STANCES = 4
#: Cutoff (Hz) of the low-pass applied to the foot-height difference that sets the phases.
PHASE_CUTOFF_HZ = 4.0
#: Sliding window (s) for each foot's ground level: more than one stride of walking.
GROUND_WINDOW_S = 1.5
#: Shortest candidate stance phase (s, and fraction of the step period); shorter sign
#: flips are jitter.
MIN_PHASE_S = 0.08
MIN_PHASE_STEP_FRACTION = 0.4
#: An alternative event rule replaces the first one only if its stride-time irregularity is
#: below this fraction of the first rule's.
ALTERNATIVE_RULE_ADVANTAGE = 0.5
#: ... and only if the first rule's irregularity exceeds this (seconds).
MIN_IRREGULARITY_S = 0.01
#: For IC, the best rule replaces the first one anyway when the first's irregularity
#: exceeds this (seconds).
MAX_IC_IRREGULARITY_S = 0.009
#: A swing foot must rise at least this far (fraction of leg length) above the stance foot.
MIN_FOOT_EXCURSION_LEG = 0.05
#: Step-to-step variation (s, standard deviation) of real initial-contact timing around a
#: steady rhythm, which :func:`_regularise_steps` leaves alone: treadmill step times vary by
#: about 2 % (6-7 ms); the renders' true ICs scatter 2-7 ms around a regular left/right rhythm.
STEP_TIMING_JITTER_S = 0.006
#: Contacts from which :func:`clip_cadence_spm` also fits a left/right step-time offset.
CADENCE_MIN_CONTACTS_FOR_ALTERNATION = 6
#: Least timing noise (s) of initial contacts located on MediaPipe rear/front tracks, for
#: the cadence: the spread that :func:`_regularise_steps` measures understates it (slow
#: drifts of the error look like rhythm). Per-clip SD of the IC error on the 10 shared
#: rear/front renders' MediaPipe tracks: 7.5 to 27 ms, median 18 ms.
MEDIAPIPE_IC_TIMING_SD_S = 0.015
#: Neighbouring contacts on either side of an IC that predict it in :func:`_regularise_steps`.
REGULARITY_HALF_WINDOW_STEPS = 8
#: Rear view: when the toe's highest point relative to the ankle comes this long (median
#: over the clip) after the ankle's landing deceleration, the runner lands on the forefoot
#: (the toe only rises once the heel has come down) and the forefoot IC rule is used.
#: Heel strikers of the renders: 0.00 to 0.03 s (true landmarks), -0.04 to 0.06 s (MediaPipe);
#: the forefoot-striking mocap runner: 0.10 s.
FOREFOOT_STRIKE_TOE_DELAY_S = 0.075
#: ... at this fraction of the contacts or more (the median was the test before). True
#: landmarks: every contact of the forefoot renders (rear_forefoot_s202, seeds 313, 603, 633;
#: 94-150 ms) and of the mocap runner (81-106 ms); 0-50 % of the slight heel strikers'
#: (2-5 deg, e.g. tex_d10_roll3: 50 %, whose median made it a forefoot striker).
FOREFOOT_STRIKE_CONTACT_FRACTION = 0.8
#: Side view, running: each initial contact found by the rules is refined by fitting the
#: heel's horizontal image track with a landing model (:func:`_fit_heel_landing`) over this
#: long (s) on either side of it: the heel is planted for the first ~40 % of a heel
#: striker's stance (0.1 s or more), longer windows run past heel-off (calibrated on the
#: gaitsynth side renders at 60 and 120 fps; 0.15 s was 3-10 times worse).
HEEL_LANDING_HALF_WINDOW_S = 0.1
#: The contact is searched this long (s) either side of the rules' estimate, in steps of
#: :data:`HEEL_LANDING_STEP_FRAMES`; a best fit on the search's edge keeps the rules' value.
#: The rules were up to 1.1 frames (18 ms) off on true landmarks of the renders; a wider
#: search lets a poor fit (noisy heel) move single contacts further (+-2 frames moved some
#: 1.7-2.7 frames off with 0.5-1 % of leg length of landmark noise).
HEEL_LANDING_SEARCH_S = 0.030
HEEL_LANDING_STEP_FRAMES = 0.05
#: The refinement needs the velocity kink of the landing to survive the event track's
#: low-pass: below this cutoff (Hz; 6 Hz at 30 fps) the fit was biased by 0.4-0.7 frames on
#: true landmarks, where the rules are within 0.2.
MIN_HEEL_LANDING_CUTOFF_HZ = 10.0
#: ... and precise landmarks: it is used when the fit's median RMS residual over the clip is
#: at most this fraction of leg length. True landmarks of the renders: 0.01-0.11 %; MediaPipe
#: tracks of the same renders: 0.40-0.91 %, where the fitted contacts were 1-2 frames off.
#: Gaussian noise added to true landmarks: 0.5 % of leg length gives about 0.1 % (fitted
#: contacts better than the rules' in median), 1 % about 0.2 % (no better: rules kept).
MAX_HEEL_LANDING_RESIDUAL_LEG = 0.0015
#: Front view: when the toe's highest point relative to the ankle comes this long (median
#: over the clip) after the leg's most extended point, the toe does not mark the landing
#: and the leg-extension IC rule is used. True landmarks of gaitsynth front renders: -18 to
#: +4 ms for heel strikes of 11-17 deg (front_treadmill, seeds 301, 302, 304 of
#: benchmarks/event_holdout_suite.toml); +130 ms for a 4 deg strike (seed 303).
FRONT_TOE_LATE_S = 0.06
#: Side view: an event whose leg-extension estimate lies more than this (s) from the rule's
#: other feature took the leg's other extension peak (:func:`_without_stray_leg_extension`).
#: True landmarks of the side renders (shared, seeds 601-636 of
#: benchmarks/event_truth_holdout_suite.toml, and eight truth-only side renders h401-h408 held
#: out in an earlier session): the two estimates of an IC differ by at most 23 ms, of a TO by
#: at most 39 ms; stray peaks by 109-219 ms.
MAX_LEG_EXTENSION_DISAGREEMENT_S = 0.06
#: A gap between successive highest points of the pelvis longer than this many median gaps
#: holds two contacts (:func:`_split_double_steps`); it is split at a local maximum at least
#: MIN_SPLIT_MARGIN_STEPS steps (from the clip's step period) from either end. Running gaps
#: vary by some 10 % (left/right asymmetry included). The peak search drops maxima closer
#: than 0.6 step, so a dropped one that marked a stance (at least MIN_SPLIT_MARGIN_STEPS from
#: its neighbour) leaves a gap of 1.3 steps or more; 1.4 keeps clear of both. Found on
#: u_sideL60_cad188_fast (benchmarks/event_truth_holdout2_suite.toml), whose one stance with a
#: 1 cm pelvis dip left two maxima 0.52 step apart and a gap of two steps: 6 of its 18 contacts
#: were lost or mislabelled.
DOUBLE_STEP_GAP_STEPS = 1.4
MIN_SPLIT_MARGIN_STEPS = 0.3
#: Rear/front MediaPipe tracks with the pelvis height measured from the clothing texture
#: (:attr:`gaitcheck.pelvis.PelvisEstimate.height_px`): the height's low-pass cutoff (Hz)
#: before its highest point (mid-flight) is searched; flights last 30-150 ms, the landing
#: and take-off bends of the renders' pelvis were kept from 6 Hz on.
PELVIS_TEXTURE_CUTOFF_HZ = 6.0
#: A texture height whose frame-to-frame second difference exceeds this (leg lengths per
#: s^2; 100 is about 9 g for a 0.88 m leg, beyond any running pelvis) jumped: the
#: registration locked onto a neighbouring stripe or seam for a frame or a few. Largest
#: value on clips registered correctly (the 27 rear/front renders' MediaPipe tracks,
#: shared and held-out): 26 to 94; on the jumping ones 118 to 790.
MAX_PELVIS_TEXTURE_ACCELERATION_LEG_S2 = 100.0
#: The jumping frames are filled by interpolation; when more than this fraction of the clip
#: jumped the height is not used (one held-out render, 17 %, where whole blocks of frames
#: were one stripe off; rear_drop12's spikes of one or two frames, 6 %).
MAX_PELVIS_TEXTURE_JUMP_FRACTION = 0.1
#: Typical contact time (s), from which the flight time of a texture-timed clip is first
#: estimated (flight = step time - contact time, :func:`_half_flight_frames`): the mean true
#: contact time of the 10 shared rear/front renders (their range 226-277 ms); the 17
#: held-out rear/front renders (benchmarks/pelvis_suite.toml, rear_s201, rear_forefoot_s202,
#: front_s203) give 257 ms (227-293 ms), and with 257 ms the shared clips' contacts are as
#: good (mean of their median IC errors 0.42 frames either way). Recreational runners' contact
#: times span about 200-300 ms; a quarter of a runner's difference from this value goes into
#: the half flight (the step-time estimate halves it, and is averaged with the toe-off one).
TYPICAL_CONTACT_TIME_S = 0.262
#: Half flight (s) used when a clip has too few contacts to estimate its own: minus the mean
#: over the 10 shared rear/front renders of each clip's median IC error with no lag.
DEFAULT_HALF_FLIGHT_S = 0.044


@dataclass(frozen=True)
class _EventRule:
    """One way of locating an event in one family of views.

    Each feature's maximum is searched in ``[boundary - search_before_s, boundary +
    search_after_s]``; the event is the mean (or median) over ``features`` of the time of
    that maximum plus the feature's lag.
    """

    search_before_s: float
    search_after_s: float
    features: tuple[tuple[str, float], ...]  # (feature name, lag in seconds)
    combine: str = "mean"


# Search windows (before, after) are relative to the coarse interval boundary (start for
# IC, end for TO): in running the boundaries are the pelvis's highest points, and every IC
# of the renders (true and MediaPipe landmarks) and of the projected mocap fell 0 to 0.09 s
# after one, every TO 0 to 0.11 s before one. Feature names are the
# keys of :func:`_event_features`; lags were calibrated on gaitsynth truth, MediaPipe
# tracks of the renders and projected mocap (benchmarks/validate_events.py). When an event
# has several alternative rules, the one giving the most regular stride times wins.
_IC_WINDOW_S = (0.06, 0.16)
_TO_WINDOW_S = (0.18, 0.08)
_RULES: dict[str, tuple[tuple[_EventRule, ...], tuple[_EventRule, ...]]] = {
    "side": (
        (_EventRule(*_IC_WINDOW_S, (("leg_extension", 0.017), ("heel_ahead_of_pelvis", 0.027))),),
        (_EventRule(*_TO_WINDOW_S, (("toe_below_pelvis", -0.010), ("leg_extension", -0.012))),),
    ),
    "rear": (
        (
            _EventRule(*_IC_WINDOW_S, (("toe_up", 0.018),)),
            _EventRule(
                *_IC_WINDOW_S,
                (("toe_up", 0.018), ("ankle_falling_acceleration", 0.024), ("pelvis_high", 0.033)),
                combine="median",
            ),
        ),
        # one TO rule: a more regular alternative (median with pelvis features) was only
        # ever chosen on true landmarks with genuinely irregular toe-offs, where it was
        # worse (up to 1.4 frames off on the valgus renders)
        (_EventRule(*_TO_WINDOW_S, (("toe_below_pelvis", -0.024),)),),
    ),
    # rear view, forefoot strike: the ankle's landing deceleration (lag from the RBDS001
    # mocap runner, the only forefoot striker with truth)
    "rear_forefoot": (
        (_EventRule(*_IC_WINDOW_S, (("ankle_falling_acceleration", 0.035),)),),
        (),
    ),
    # walking, side view: Zeni et al. (2008) heel-forward / toe-backward extremes relative
    # to the pelvis, uncalibrated (no walking ground truth); the wide windows cover the
    # double support on either side of the interval
    "side_walking": (
        (_EventRule(0.30, 0.20, (("heel_ahead_of_pelvis", 0.0),)),),
        (_EventRule(0.20, 0.30, (("toe_behind_pelvis", 0.0),)),),
    ),
    # front view: the toe rises to its highest relative to the ankle at a heel strike, as
    # from behind (lag from the true landmarks of front_treadmill and seeds 301, 302, 304 of
    # benchmarks/event_holdout_suite.toml: 17-23 ms); TO: the ankle's upward acceleration
    # peaks 25-29 ms after TO (true landmarks of front_treadmill and seeds 301-303)
    "front": (
        (_EventRule(*_IC_WINDOW_S, (("toe_up", 0.019),)),),
        (_EventRule(*_TO_WINDOW_S, (("ankle_rising_acceleration", -0.027),)),),
    ),
    # front view, foot landing nearly flat (:func:`_toe_rises_late_from_the_front`): the leg
    # most extended, 16-24 ms before IC on the true landmarks of the front renders except
    # front_treadmill (0 ms; its camera is 0.65 m high, the others' 1.0-1.3 m)
    "front_flat_foot": (
        (_EventRule(*_IC_WINDOW_S, (("leg_extension", 0.017),)),),
        (),
    ),
}
# MediaPipe landmarks seen from behind or in front: its VIDEO-mode tracking lags and blurs
# the feet (on the shared renders every feature's peak came 20-30 ms later than on the true
# landmarks, the pelvis's as much as the ankle's, and the toe was erratic), so the events
# come from the large, well-tracked landmarks, with lags calibrated on the MediaPipe tracks
# of the shared renders (rear: the 9 shared rear clips, front: front_treadmill) and confirmed
# on the held-out renders (benchmarks/validate_events.py --extra-renders).
_MEDIAPIPE_RULES: dict[str, tuple[tuple[_EventRule, ...], tuple[_EventRule, ...]]] = {
    "rear": (
        # the ankle's landing deceleration (peak 6 ms before IC, mean over the rear clips)
        # and the pelvis's highest point (20 ms before IC), averaged; heel or forefoot strike
        (_EventRule(*_IC_WINDOW_S, (("ankle_falling_acceleration", 0.006), ("pelvis_high", 0.020))),),
        # the pelvis rising fastest, 13 ms before TO (mean over the rear clips)
        (_EventRule(*_TO_WINDOW_S, (("pelvis_rising_speed", 0.013),)),),
    ),
    "front": (
        # leg most extended (8 ms after IC on front_treadmill's MediaPipe track)
        (_EventRule(*_IC_WINDOW_S, (("leg_extension", -0.008),)),),
        # the rear TO rule as it is (held-out check: 0.2-0.8 frames on the front renders)
        (_EventRule(*_TO_WINDOW_S, (("pelvis_rising_speed", 0.013),)),),
    ),
}


# MediaPipe rear/front tracks whose pelvis height was measured from the clothing texture
# (detect_stances' pelvis_height_px): this rule finds the texture's highest point (mid-flight);
# IC is that point plus half the clip's flight time, TO the next one minus half of it
# (:func:`_texture_flight_events`). The flight is ballistic and nearly symmetric: on the 27
# rear/front renders (shared and held-out) the highest point was within 0.35 frames of halfway
# between TO and the next IC (each clip's median; true landmarks and texture alike, where the
# texture did not jump; benchmarks/pelvis_height_events.py prints these figures). The texture
# follows the pelvis to 0.1-1.5 px RMS (median 0.5 px) where it does not jump, MediaPipe's
# smoothed hip midpoint to 3-7 px, with a lag. Half flights differ between runners (renders:
# IC 25-72 ms after the highest point; the mocap runner RBDS001, the one real runner with
# truth, 71 ms), so one constant lag put whole clips up to 1.9 frames off; the pelvis's own
# landing (its acceleration leaving free fall) does not mark IC on the renders (one g below
# free fall 8 to 62 ms after IC depending on the clip, RBDS001: 30 ms, SD 5 ms), nor do
# MediaPipe's feet from behind measure the flight better than a typical value (the flight
# from their landing and take-off peaks scattered 25-55 ms SD about the truth over the clips).
_PELVIS_TEXTURE_APEX_RULES: tuple[_EventRule, ...] = (_EventRule(*_IC_WINDOW_S, (("pelvis_texture_high", 0.0),)),)


def leg_length_px(track: PoseTrack) -> float:
    """Median thigh plus shank length in pixels, the longer side (the less foreshortened one).

    Raises
    ------
    AnalysisError
        When neither leg has hip, knee and ankle landmarks in any frame.
    """
    lengths = []
    for side in ("left", "right"):
        hip, knee, ankle = (track.point_px(f"{side}_{part}") for part in ("hip", "knee", "ankle"))
        per_frame = point_distance_px(hip, knee)
        per_frame += point_distance_px(knee, ankle)
        finite = per_frame[np.isfinite(per_frame)]
        if finite.size:
            lengths.append(float(np.median(finite)))
    if not lengths or max(lengths) <= 0:
        raise AnalysisError(_source(track) + "no frame shows a hip, knee and ankle; film the whole body, legs included")
    return max(lengths)


def point_distance_px(a: FloatArray, b: FloatArray) -> FloatArray:
    """(T,) distance between two (T, 2) point tracks: ``np.linalg.norm(a - b, axis=1)``, from
    the x and y columns (contiguous in the tracks' pixel rows) instead of a reduction over
    the short axis (a third of the time on an hour of frames), squared, summed and rooted in
    place (two temporaries instead of six: 4.3 -> 2.3 ms on an hour of frames)."""
    dx, dy = a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]
    dx *= dx
    dy *= dy
    dx += dy
    return np.sqrt(dx, out=dx)


def _source(track: PoseTrack) -> str:
    source = track.meta.get("source") or track.meta.get("clip")
    return f"{source}: " if source else ""


def _fill_nan(values: NDArray[np.floating[Any]]) -> FloatArray:
    """Linear interpolation over NaN samples (ends held); all-NaN stays NaN."""
    series: FloatArray = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(series)
    if finite.all() or not finite.any():
        return series
    frames = np.arange(series.size)
    return np.interp(frames, frames[finite], series[finite])


def _smooth_phase_signal(lowness: FloatArray, fps: float) -> FloatArray:
    """Zero-lag low-pass of the left-minus-right foot height at :data:`PHASE_CUTOFF_HZ`.

    The signal oscillates once per stride (below 2 Hz even when sprinting); the filter
    removes landmark jitter that would otherwise flip its sign between steps.
    """
    return zero_lag_lowpass(lowness, min(PHASE_CUTOFF_HZ, 0.4 * fps / 2.0), fps)


def _rolling_ground_level(foot_v: FloatArray, window: int) -> FloatArray:
    """The foot's lowest image position (largest v) in a sliding window of ``window`` frames.

    A local reference: for a runner or walker crossing the frame the ground's image height
    changes along the way (perspective, camera tilt), so one clip-wide level would not do.
    """
    from scipy.ndimage import maximum_filter1d

    level: FloatArray = maximum_filter1d(foot_v, size=max(3, window), mode="nearest")
    return level


def _step_period_s(lowness: FloatArray, fps: float) -> float:
    """Step period from the dominant stride frequency of the left-minus-right foot height."""
    series = lowness - lowness.mean()
    spectrum = np.abs(np.fft.rfft(series * hann_window(series.size)))
    frequency_hz = np.fft.rfftfreq(series.size, d=1.0 / fps)
    band = (frequency_hz >= 0.5) & (frequency_hz <= 2.2)
    if not band.any():
        return 0.35
    return float(0.5 / frequency_hz[band][np.argmax(spectrum[band])])


def _pelvis_intervals(
    track: PoseTrack, lowness: FloatArray, leg_px: float, *, walking: bool = False
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.bool_]]:
    """One interval per step, between successive turning points of the pelvis height.

    Running: the pelvis is highest once per step, in flight, so the intervals run from one
    flight to the next and hold one stance. Walking: the pelvis is lowest once per step, in
    double support, so the intervals hold one single-support phase (IC just before the
    start, TO just after the end). The pelvis has no side, so the intervals stay right
    through left/right landmark swaps. The stance foot of an interval is the one lower in
    the image over it (``lowness`` > 0: left).
    """
    from scipy.signal import find_peaks

    fps = track.fps
    pelvis_v = _fill_nan(0.5 * (track.point_px("left_hip")[:, 1] + track.point_px("right_hip")[:, 1])) / leg_px
    step_s = _step_period_s(lowness, fps)
    pelvis_v = zero_lag_lowpass(pelvis_v, min(2.5 / step_s, 0.4 * fps / 2.0), fps)
    turning = pelvis_v if walking else -pelvis_v
    peaks, _ = find_peaks(turning, distance=max(1, int(0.6 * step_s * fps)))
    peaks = _split_double_steps(turning, peaks, step_s * fps)
    bounds = np.unique(np.r_[0, peaks, pelvis_v.size])
    starts, ends = bounds[:-1], bounds[1:]
    mean_lowness = np.add.reduceat(lowness, starts) / (ends - starts)
    return starts, ends, mean_lowness > 0


def _split_double_steps(signal: FloatArray, peaks: NDArray[np.intp], step_frames: float) -> NDArray[np.intp]:
    """Turning points of the pelvis height with the ones the minimum spacing hid put back.

    ``peaks`` are the maxima of ``signal`` at least 0.6 step apart. A stance whose pelvis
    barely dips leaves two maxima closer than that, and the lower one is dropped: the interval
    then holds two contacts and the second is lost (with the side labels of the contacts before
    it, which the strict alternation then flips). Every gap between successive peaks longer
    than :data:`DOUBLE_STEP_GAP_STEPS` steps is split at the highest local maximum of
    ``signal`` inside it at least :data:`MIN_SPLIT_MARGIN_STEPS` steps from both ends, if any.
    """
    from scipy.signal import find_peaks

    if peaks.size < 3:
        return peaks
    gaps = np.diff(peaks)
    long_gaps = np.flatnonzero(gaps > DOUBLE_STEP_GAP_STEPS * np.median(gaps))
    if not long_gaps.size:
        return peaks
    candidates, _ = find_peaks(signal)
    margin = MIN_SPLIT_MARGIN_STEPS * step_frames
    added = []
    for gap in long_gaps:  # a loop over the few long gaps, not over frames
        inside = candidates[(candidates > peaks[gap] + margin) & (candidates < peaks[gap + 1] - margin)]
        if inside.size:
            added.append(inside[np.argmax(signal[inside])])
    return np.sort(np.r_[peaks, np.asarray(added, dtype=np.intp)])


def _window_frames(
    centres: FloatArray, before: int, after: int, n_frames: int
) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Frames of the windows ``[centre - before, centre + after]``, (window, centres), clipped to
    the clip, and whether each window lies inside frames 1 to ``n_frames - 2``.

    Window offsets run along the first axis, so that the peak search's comparisons run over rows
    as long as the number of centres, not over thousands of rows a window long (the eight searches
    of a side view on an hour of contacts: 12 -> 9 ms main-thread CPU).
    """
    frames = np.arange(-before, after + 1)[:, None] + np.round(centres).astype(np.intp)[None, :]
    inside = (frames[0] >= 1) & (frames[-1] <= n_frames - 2)
    return np.clip(frames, 0, n_frames - 1, out=frames), inside


def _window_extremum(
    signal: FloatArray, frames: NDArray[np.intp], inside: NDArray[np.bool_]
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Fractional frame of the peak of ``signal`` in each window of :func:`_window_frames`.

    The peak is the highest interior local maximum of the window (a maximum on the
    window's edge is the flank of a neighbouring peak), or the window's maximum when it
    has no interior one. It is refined by parabolic interpolation. The flag is False
    where the window leaves the clip (``inside``) or the signal is NaN anywhere in it.
    """
    n = signal.size
    window = signal[frames]
    finite = np.isfinite(window)
    window = np.where(finite, window, -np.inf)
    interior = np.zeros_like(window, dtype=bool)
    interior[1:-1] = (window[1:-1] >= window[:-2]) & (window[1:-1] >= window[2:])
    best = np.argmax(np.where(interior, window, -np.inf), axis=0)
    no_interior = ~interior.any(axis=0)
    best[no_interior] = np.argmax(window[:, no_interior], axis=0)
    peak = frames[best, np.arange(frames.shape[1])]
    left = signal[np.clip(peak - 1, 0, n - 1)]
    mid = signal[peak]
    right = signal[np.clip(peak + 1, 0, n - 1)]
    curvature = left - 2.0 * mid + right
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(curvature < 0, 0.5 * (left - right) / curvature, 0.0)
    shift = np.where(np.isfinite(shift), np.clip(shift, -0.5, 0.5), 0.0)
    observed = inside & finite.all(axis=0)
    return peak + shift, observed


class _LazySignals(Mapping[str, FloatArray]):
    """Named signals computed from their recipes the first time each is read, then kept.

    Every read signal is NaN outside the ``seen`` frames and bridged over its own NaN runs
    inside them. A clip's event rules read two to four of the nine feature signals.
    """

    def __init__(self, recipes: dict[str, Callable[[], FloatArray]], seen: NDArray[np.bool_]) -> None:
        self._recipes = recipes
        self._unseen = ~seen
        self._signals: dict[str, FloatArray] = {}

    def __getitem__(self, name: str) -> FloatArray:
        if name not in self._signals:
            # every recipe returns a new array, which is bridged and masked in place
            signal = _fill_nan(self._recipes[name]())
            signal[self._unseen] = np.nan
            self._signals[name] = signal
        return self._signals[name]

    def put(self, name: str, signal: FloatArray) -> None:
        """Add a signal computed elsewhere, kept as it is (not masked or bridged)."""
        self._recipes[name] = lambda: signal
        self._signals[name] = signal

    def __iter__(self) -> Iterator[str]:
        return iter(self._recipes)

    def __len__(self) -> int:
        return len(self._recipes)


def _event_features(track: PoseTrack, side: str, direction: float, pelvis: FloatArray) -> _LazySignals:
    """Signals of one foot whose maxima mark events (pixels; image v points down).

    ``direction`` is +1 when the runner faces image-right, -1 image-left, 0 frontal;
    ``pelvis`` is the (T, 2) hip midpoint. Each signal is computed when it is first read
    (:class:`_LazySignals`).
    """
    toe = track.point_px(f"{side}_foot_index")
    ankle = track.point_px(f"{side}_ankle")
    ankle_v = _fill_nan(ankle[:, 1])
    recipes: dict[str, Callable[[], FloatArray]] = {
        # hip-ankle distance: the leg is most extended just before IC and just before TO
        "leg_extension": lambda: point_distance_px(track.point_px(f"{side}_hip"), ankle),
        # heel furthest ahead of the pelvis (Zeni et al. 2008), a little before IC
        "heel_ahead_of_pelvis": lambda: (track.point_px(f"{side}_heel")[:, 0] - pelvis[:, 0]) * direction,
        # toe furthest behind the pelvis (Zeni et al. 2008), at toe-off in walking
        "toe_behind_pelvis": lambda: -(toe[:, 0] - pelvis[:, 0]) * direction,
        # toe lowest relative to the pelvis: the forefoot leaves the ground
        "toe_below_pelvis": lambda: toe[:, 1] - pelvis[:, 1],
        # toe highest relative to the ankle: peak dorsiflexion of a heel strike
        "toe_up": lambda: ankle_v - toe[:, 1],
        # upward / downward acceleration of the ankle in the image
        "ankle_rising_acceleration": lambda: -np.gradient(np.gradient(ankle_v)),
        "ankle_falling_acceleration": lambda: np.gradient(np.gradient(ankle_v)),
        # the pelvis is highest in flight and rises fastest after toe-off
        "pelvis_high": lambda: -pelvis[:, 1],
        "pelvis_rising_speed": lambda: -np.gradient(_fill_nan(pelvis[:, 1])),
    }
    # frames where every coordinate is finite, column by column (a reduction over the
    # length-2 axis of each (T, 2) point took 4 times as long)
    points = (pelvis, *(track.point_px(f"{side}_{part}") for part in ("foot_index", "ankle", "heel", "hip")))
    seen = np.ones(track.n_frames, dtype=bool)
    for point in points:
        seen &= np.isfinite(point[:, 0])
        seen &= np.isfinite(point[:, 1])
    # frames where the foot or pelvis is missing stay NaN: no event is placed near them
    return _LazySignals(recipes, seen)


def _pelvis_texture_high(height_px: NDArray[np.floating[Any]], leg_px: float, fps: float) -> FloatArray | None:
    """The texture pelvis's height (up = larger), low-passed, or None when it jumps.

    Frames where the height's second difference is implausible for a pelvis
    (:data:`MAX_PELVIS_TEXTURE_ACCELERATION_LEG_S2`) are interpolated over: that bridges
    spikes of a frame or two. A jump that stays (the registration one stripe off for a
    while) leaves an implausible bend after bridging, and a clip with such a bend, with
    more than :data:`MAX_PELVIS_TEXTURE_JUMP_FRACTION` of its frames bridged or with no
    measured frame gives None. The low-pass is :data:`PELVIS_TEXTURE_CUTOFF_HZ`.
    """
    height = np.asarray(height_px, dtype=np.float64)
    if not np.isfinite(height).any():
        return None

    def implausible(series: FloatArray) -> NDArray[np.bool_]:
        flags = np.zeros(series.size, dtype=bool)
        flags[1:-1] = np.abs(np.diff(series, 2)) * fps * fps / leg_px > MAX_PELVIS_TEXTURE_ACCELERATION_LEG_S2
        return flags

    # a one-frame spike flags itself and both neighbours, a step the frames either side
    jumped = implausible(_fill_nan(height))
    repaired = _fill_nan(np.where(jumped, np.nan, height))
    if jumped.mean() > MAX_PELVIS_TEXTURE_JUMP_FRACTION or implausible(repaired).any():
        return None
    return -zero_lag_lowpass(repaired, min(PELVIS_TEXTURE_CUTOFF_HZ, 0.4 * fps / 2.0), fps)


def _half_flight_frames(
    apex_frames: FloatArray, apex_seen: NDArray[np.bool_], to_frames: FloatArray, to_seen: NDArray[np.bool_], fps: float
) -> float:
    """Half the clip's flight time (frames), for contacts timed from the pelvis's highest points.

    The mean of two independent estimates whose per-clip errors were alike on the renders'
    MediaPipe tracks (RMS over the clips of the median signed IC error: 0.64 and 0.58 frames
    on the 10 shared rear/front renders, 0.67 and 0.73 on the 14 held-out ones with a usable
    texture; their mean 0.42 and 0.64):

    * the step time (median interval between successive highest points) minus
      :data:`TYPICAL_CONTACT_TIME_S`, halved: most of the difference in flight between
      runners comes from their step time;
    * the median time from each toe-off (the MediaPipe rule's, ``to_frames``) to the next
      highest point: MediaPipe's lag on the hips is in the rule's calibrated lag.

    ``apex_frames[k + 1]`` must be the highest point after ``to_frames[k]`` (the event
    intervals are contiguous). :data:`DEFAULT_HALF_FLIGHT_S` when neither can be formed.
    """
    estimates = []
    steps = np.diff(apex_frames[apex_seen])
    if steps.size >= 2:
        estimates.append(max(0.0, 0.5 * (float(np.median(steps)) - TYPICAL_CONTACT_TIME_S * fps)))
    paired = np.r_[apex_seen[1:], False] & to_seen
    if paired.sum() >= 3:
        next_apex = np.r_[apex_frames[1:], np.nan]
        estimates.append(max(0.0, float(np.median(next_apex[paired] - to_frames[paired]))))
    return float(np.mean(estimates)) if estimates else DEFAULT_HALF_FLIGHT_S * fps


def _texture_flight_events(
    apex_frames: FloatArray, apex_seen: NDArray[np.bool_], to_frames: FloatArray, to_seen: NDArray[np.bool_], fps: float
) -> tuple[FloatArray, FloatArray]:
    """Initial contacts and toe-offs from the texture pelvis's highest points (mid-flight).

    IC is each highest point plus half the clip's flight (:func:`_half_flight_frames`). TO is
    the mean of the rule's toe-off (``to_frames``) and the next highest point minus that half
    flight, where that point was seen (on the renders the mean had a smaller per-clip error
    than either: 0.54 vs 0.64 frames mean of the shared clips' medians, 0.64 vs 0.73 on the
    held-out ones); otherwise the rule's.

    Returns
    -------
    ic_frames, to_frames
        Fractional frames, one per event interval, in the order of ``apex_frames``.
    """
    half_flight = _half_flight_frames(apex_frames, apex_seen, to_frames, to_seen, fps)
    next_apex = np.r_[apex_frames[1:], np.nan]
    next_seen = np.r_[apex_seen[1:], False] & to_seen
    to_from_apex = np.where(next_seen, 0.5 * (to_frames + next_apex - half_flight), to_frames)
    return apex_frames + half_flight, to_from_apex


def _landing_model(
    offsets_frames: FloatArray, half_window: int, cutoff_hz: float | None, filter_order: int, fps: float
) -> FloatArray:
    """(U, W, 4) design matrices of the heel-landing model, one per candidate contact offset.

    Window frame ``j`` (``-half_window .. half_window``) around a reference frame, contact at
    offset ``u``: the heel moves along a straight line once planted (the treadmill belt, or
    still overground) and, before the contact, approaches that line with a velocity that
    changes linearly, so the model is ``c0 + c1 j + c2 r + c3 r^2`` with ``r = max(u - j, 0)``.
    The ramp terms go through the same zero-lag Butterworth low-pass as the event track
    (``cutoff_hz`` None: an unfiltered track), so the model describes the filtered heel.
    """
    pad = 4 * half_window
    padded = np.arange(-half_window - pad, half_window + pad + 1, dtype=np.float64)
    ramp = np.maximum(offsets_frames[:, None] - padded[None, :], 0.0)
    terms = np.stack([ramp, ramp**2])
    if cutoff_hz is not None:
        terms = zero_lag_lowpass(terms, cutoff_hz, fps, order=filter_order)
    terms = terms[..., pad:-pad]
    frames = np.arange(-half_window, half_window + 1, dtype=np.float64)
    constant = np.ones_like(terms[0])
    slope = np.broadcast_to(frames, terms[0].shape)
    return np.stack([constant, slope, terms[0], terms[1]], axis=-1)


def _fit_heel_landing(
    heel_u_px: FloatArray, first_frames: FloatArray, fps: float, cutoff_hz: float | None, filter_order: int
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Initial contacts where the heel's horizontal image track best fits a landing.

    For every candidate contact time within :data:`HEEL_LANDING_SEARCH_S` of each first
    estimate, the heel's horizontal pixel position over :data:`HEEL_LANDING_HALF_WINDOW_S`
    either side is fitted by least squares with :func:`_landing_model`; the contact is the
    candidate of smallest residual, refined by parabolic interpolation. Unlike the peak of
    a smooth feature plus a lag, the kink does not depend on the runner's swing kinematics.

    Returns
    -------
    frames, rms_px, fitted
        Fractional contact frames, the RMS residual of the best fit (pixels), and whether
        the fit could be made (window inside the clip and seen, best fit not on the search's
        edge); ``frames`` is ``first_frames`` where not fitted.
    """
    half_window = max(3, round(HEEL_LANDING_HALF_WINDOW_S * fps))
    step = HEEL_LANDING_STEP_FRAMES
    search = max(2.0 * step, round(HEEL_LANDING_SEARCH_S * fps / step) * step)
    offsets = np.arange(-search - 0.5, search + 0.5 + 0.5 * step, step)  # around the nearest frame
    basis, _ = np.linalg.qr(_landing_model(offsets, half_window, cutoff_hz, filter_order, fps))  # (U, W, 4)
    n = heel_u_px.size
    usable = np.isfinite(first_frames)
    reference = np.round(np.where(usable, first_frames, 0.0)).astype(np.intp)
    index = reference[:, None] + np.arange(-half_window, half_window + 1)[None, :]
    window = heel_u_px[np.clip(index, 0, n - 1)]
    usable &= (index[:, 0] >= 0) & (index[:, -1] <= n - 1) & np.isfinite(window).all(axis=1)
    window = np.where(usable[:, None], window, 0.0)
    window = window - window.mean(axis=1, keepdims=True)
    # The model's first two columns (constant, slope) do not depend on the candidate, so neither
    # do the first two orthonormal columns of its QR (Householder QR works column by column):
    # their projections are taken once per contact, the ramp columns' for every candidate in one
    # product (S, W) x (W, U x 2). Half the arithmetic of projecting on all four columns of every
    # candidate, and the squares are summed in the order .sum(axis=-1) used (same results to the
    # bit; 0.1 -> 0.04 s on an hour of side-view contacts). einsum, not the BLAS product, whose
    # threads would keep spinning on the second core after it.
    shared = np.einsum("sw,wc->sc", window, np.ascontiguousarray(basis[0, :, :2]))
    shared *= shared
    ramps = basis[:, :, 2:].transpose(1, 0, 2).reshape(basis.shape[1], -1)
    explained = np.einsum("sw,wj->sj", window, ramps).reshape(window.shape[0], basis.shape[0], 2)
    explained *= explained
    explained_sq = (shared[:, :1] + shared[:, 1:]) + explained[..., 0]
    explained_sq += explained[..., 1]
    # (S, U) residuals and distances computed in place: fewer temporaries of S x U
    residual = np.subtract((window**2).sum(axis=1)[:, None], explained_sq, out=explained_sq)
    np.maximum(residual, 0.0, out=residual)
    first_offset = np.where(usable, first_frames - reference, 0.0)
    distance = np.subtract(offsets[None, :], first_offset[:, None])
    allowed = np.abs(distance, out=distance) <= search + 1e-9
    best = np.argmin(np.where(allowed, residual, np.inf), axis=1)
    rows = np.arange(best.size)
    last = offsets.size - 1
    interior = allowed[rows, np.clip(best - 1, 0, last)] & allowed[rows, np.clip(best + 1, 0, last)]
    interior &= (best > 0) & (best < last)
    left = residual[rows, np.clip(best - 1, 0, offsets.size - 1)]
    mid = residual[rows, best]
    right = residual[rows, np.clip(best + 1, 0, offsets.size - 1)]
    curvature = left - 2.0 * mid + right
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(curvature > 0, 0.5 * (left - right) / curvature, 0.0)
    shift = np.clip(np.where(np.isfinite(shift), shift, 0.0), -0.5, 0.5)
    fitted = usable & interior
    frames = np.where(fitted, reference + offsets[best] + shift * step, first_frames)
    rms_px = np.sqrt(mid / index.shape[1])
    return frames, rms_px, fitted


def _heel_landing_contacts(
    track: PoseTrack,
    ic_frames: FloatArray,
    seen: NDArray[np.bool_],
    is_left: NDArray[np.bool_],
    leg_px: float,
    *,
    metric_cutoff: bool = False,
) -> FloatArray | None:
    """Side-view running ICs moved to the heel's landing kink where the landmarks allow it.

    Applies :func:`_fit_heel_landing` to each foot's contacts on ``track``'s heel; the fitted
    times replace the rules' ones when the track's low-pass keeps the kink
    (:data:`MIN_HEEL_LANDING_CUTOFF_HZ`) and the clip's median fit residual shows precise
    landmarks (:data:`MAX_HEEL_LANDING_RESIDUAL_LEG`); otherwise (MediaPipe's feet, an event
    track at low frame rates) None. A track without a cleaning report counts as unfiltered. ``metric_cutoff``:
    ``track`` is :func:`gaitcheck.clean.clean_tracks`' metric track, filtered at the report's
    ``metric_filter_cutoff_hz`` (12 Hz at 30 fps, where the event track's 6 Hz hides the kink).
    """
    cleaning = track.meta.get("cleaning") or {}
    cutoff_hz = cleaning.get("metric_filter_cutoff_hz" if metric_cutoff else "filter_cutoff_hz")
    if cutoff_hz is not None and cutoff_hz < MIN_HEEL_LANDING_CUTOFF_HZ:
        return None
    refined = ic_frames.copy()
    fitted = np.zeros(ic_frames.size, dtype=bool)
    rms_px = np.full(ic_frames.size, np.nan)
    for side, left_flag in (("left", True), ("right", False)):
        mine = seen & (is_left == left_flag)
        heel_u = track.point_px(f"{side}_heel")[:, 0]
        frames, rms, ok = _fit_heel_landing(
            heel_u, ic_frames[mine], track.fps, cutoff_hz, int(cleaning.get("filter_order", 2))
        )
        refined[mine], rms_px[mine], fitted[mine] = frames, rms, ok
    if not fitted.any() or np.median(rms_px[fitted]) > MAX_HEEL_LANDING_RESIDUAL_LEG * leg_px:
        return None
    return np.where(fitted, refined, ic_frames)


class _FeaturePeaks:
    """The stance feet's feature peaks in windows around one set of interval boundaries.

    Each feature's peak in a window (:func:`_window_extremum`) is searched once and kept, and
    each window's frames (:func:`_window_frames`) are computed once for all features: the rules
    and checks of one clip read the same peaks again (a side view's two rules' four peaks are
    read again by :func:`_without_stray_leg_extension`, a rear view's toe peak up to four
    times): 16 -> 8 searches of a side view, 24 -> 10 ms main-thread CPU on an hour of contacts
    with :func:`_window_frames`' layout.

    ``features`` holds each side's signals (``features[side][name]``), ``boundaries`` the
    intervals' boundary frames, ``is_left`` their stance side.
    """

    def __init__(
        self,
        features: Mapping[str, Mapping[str, FloatArray]],
        boundaries: FloatArray,
        is_left: NDArray[np.bool_],
        fps: float,
    ) -> None:
        self.features = features
        self.boundaries = boundaries
        self.is_left = is_left
        self.fps = fps
        self._windows: dict[tuple[str, int, int], tuple[NDArray[np.intp], NDArray[np.bool_]]] = {}
        self._peaks: dict[tuple[str, int, int], tuple[FloatArray, NDArray[np.bool_]]] = {}

    def window(self, before_s: float, after_s: float) -> tuple[int, int]:
        """A search window in frames (before, after the boundary), as the rules round it."""
        return round(before_s * self.fps), round(after_s * self.fps)

    def peak(self, name: str, before: int, after: int) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Fractional frame of feature ``name``'s peak within ``before``/``after`` frames of
        every boundary (in the stance foot's signal), and whether it was seen."""
        key = (name, before, after)
        if key not in self._peaks:
            frames = np.zeros(self.boundaries.size)
            seen = np.ones(self.boundaries.size, dtype=bool)
            for side, left_flag in (("left", True), ("right", False)):
                mine = self.is_left == left_flag
                signal = self.features[side][name]
                if (side, before, after) not in self._windows:
                    self._windows[side, before, after] = _window_frames(
                        self.boundaries[mine], before, after, signal.size
                    )
                frames[mine], seen[mine] = _window_extremum(signal, *self._windows[side, before, after])
            frames.setflags(write=False)  # shared by every reader
            seen.setflags(write=False)
            self._peaks[key] = (frames, seen)
        return self._peaks[key]


def _locate(peaks: _FeaturePeaks, rule: _EventRule) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Fractional frames of one event for every candidate interval, and whether it was seen."""
    estimates = np.zeros((len(rule.features), peaks.boundaries.size))
    seen = np.ones(peaks.boundaries.size, dtype=bool)
    before, after = peaks.window(rule.search_before_s, rule.search_after_s)
    for row, (name, lag_s) in enumerate(rule.features):
        found, observed = peaks.peak(name, before, after)
        estimates[row] = found + lag_s * peaks.fps
        seen &= observed
    frames = np.median(estimates, axis=0) if rule.combine == "median" else estimates.mean(axis=0)
    return frames, seen


def _stride_irregularity(frames: FloatArray, seen: NDArray[np.bool_], is_left: NDArray[np.bool_]) -> float:
    """Median absolute deviation of same-side event-to-event intervals (frames)."""
    deviations = []
    for left_flag in (True, False):
        intervals = np.diff(frames[seen & (is_left == left_flag)])
        if intervals.size >= 2:
            deviations.append(np.abs(intervals - np.median(intervals)))
    return float(np.median(np.concatenate(deviations))) if deviations else 0.0


def _locate_best(
    peaks: _FeaturePeaks, rules: tuple[_EventRule, ...], erratic_s: float | None = None
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """The first rule, unless an alternative gives more regular stride times.

    The first rule is the most precise one when its landmarks are good. An alternative
    replaces it when its irregularity is below :data:`ALTERNATIVE_RULE_ADVANTAGE` times the
    first rule's, or when the first rule's stride times wobble by more than ``erratic_s``
    (more than runners' own stride-to-stride variation; used for IC, whose first rear rule
    is precise on good landmarks and erratic on poor ones).
    """
    fps = peaks.fps
    candidates = [_locate(peaks, rule) for rule in rules]
    scores = np.array([_stride_irregularity(frames, seen, peaks.is_left) for frames, seen in candidates])
    best = int(np.argmin(scores))
    clearly_better = scores[best] < ALTERNATIVE_RULE_ADVANTAGE * scores[0] and scores[0] >= MIN_IRREGULARITY_S * fps
    first_is_erratic = erratic_s is not None and scores[0] > erratic_s * fps
    if not (clearly_better or first_is_erratic):
        best = 0
    return candidates[best]


def _regularise_steps(frames: FloatArray, seen: NDArray[np.bool_], fps: float) -> tuple[FloatArray, float | None]:
    """Pull noisy initial contacts toward the rhythm predicted by the neighbouring steps.

    Each seen event gets a step number (gaps of about two median steps count as two, so a
    missed contact keeps the numbering). It is predicted, itself left out, by a weighted
    least-squares fit ``t = a + b k + c (-1)^k`` over the seen events up to
    :data:`REGULARITY_HALF_WINDOW_STEPS` positions before and after it (a locally constant
    step time plus a left/right offset for asymmetric runners), with Huber weights against
    badly located neighbours. The measured time keeps the weight ``j^2 / r^2`` (at most 1),
    ``j`` being :data:`STEP_TIMING_JITTER_S` and ``r`` the clip's robust spread of
    measured-minus-predicted: events located about as precisely as real running varies are
    left as they are; erratic ones (MediaPipe sees the feet poorly from behind) mostly take
    the prediction. Only events with at least two seen neighbours on each side are changed:
    extrapolating to the first and last contacts was less accurate than measuring them.

    Returns
    -------
    events : numpy.ndarray
        The events, same shape; unseen events and clips with fewer than six seen events
        unchanged.
    spread : float or None
        ``r`` in frames, the timing noise of the measured events; None when the clip has
        too few events to estimate it.
    """
    times = frames[seen]
    m = times.size
    if m < 6:
        return frames, None
    if not np.median(np.diff(times)) > 0:
        return frames, None
    step_number = step_numbers(times)
    half = REGULARITY_HALF_WINDOW_STEPS
    offsets = np.r_[np.arange(-half, 0), np.arange(1, half + 1)]
    neighbour = np.arange(m)[:, None] + offsets[None, :]
    usable = (neighbour >= 0) & (neighbour < m)
    neighbour = np.clip(neighbour, 0, m - 1)
    relative = (step_number[neighbour] - step_number[:, None]).astype(np.float64)
    alternation = np.where(step_number[neighbour] % 2 == 0, 1.0, -1.0)
    design = np.stack([np.ones_like(relative), relative, alternation], axis=-1)
    targets = times[neighbour]
    own_alternation = np.where(step_number % 2 == 0, 1.0, -1.0)
    jitter = STEP_TIMING_JITTER_S * fps
    spread = 0.0
    predicted = times
    robust_weight = np.ones(m)
    for _ in range(4):
        weights = usable * robust_weight[neighbour]
        normal = np.einsum("nk,nki,nkj->nij", weights, design, design)
        rhs = np.einsum("nk,nki,nk->ni", weights, design, targets)
        before = (usable & (offsets[None, :] < 0)).sum(axis=1)
        after = (usable & (offsets[None, :] > 0)).sum(axis=1)
        solvable = (before >= 2) & (after >= 2) & (np.abs(np.linalg.det(normal)) > 1e-9)
        normal[~solvable] = np.eye(3)
        coefficients = np.linalg.solve(normal, rhs[..., None])[..., 0]
        predicted = np.where(solvable, coefficients[:, 0] + coefficients[:, 2] * own_alternation, times)
        residual = times - predicted
        if int(solvable.sum()) < 5:
            return frames, None
        spread = _robust_spread(residual[solvable])
        robust_weight = _huber_weights(residual, spread, jitter)
    keep_measured = _keep_measured_weight(spread, jitter)
    regular = frames.copy()
    regular[seen] = predicted + keep_measured * (times - predicted)
    return regular, spread


def _robust_spread(residual: FloatArray) -> float:
    """Standard deviation estimated from the median absolute deviation (normal data)."""
    return 1.4826 * float(np.median(np.abs(residual - np.median(residual))))


def _huber_weights(residual: FloatArray, spread: float, jitter: float) -> FloatArray:
    """Huber weights of residuals, with the threshold at 1.5 x the spread (at least ``jitter``)."""
    scaled = np.abs(residual) / (1.5 * max(spread, jitter))
    return np.where(scaled <= 1.0, 1.0, 1.0 / np.maximum(scaled, 1e-12))


def _keep_measured_weight(spread: float, jitter: float) -> float:
    """Weight ``j^2 / r^2`` (at most 1) a measured contact keeps against its fitted rhythm: 1
    when contacts scatter no more than running's own step-to-step jitter ``j``."""
    return min(1.0, jitter**2 / max(spread**2, 1e-12))


def _peak_delays_frames(peaks: _FeaturePeaks, later: str, earlier: str) -> FloatArray:
    """Frames from the IC-window peak of ``earlier`` to that of ``later``, at every contact
    that shows both peaks."""
    later_frames, later_seen = _locate(peaks, _EventRule(*_IC_WINDOW_S, ((later, 0.0),)))
    earlier_frames, earlier_seen = _locate(peaks, _EventRule(*_IC_WINDOW_S, ((earlier, 0.0),)))
    both = later_seen & earlier_seen
    return np.asarray(later_frames[both] - earlier_frames[both])


def _median_peak_delay_s(peaks: _FeaturePeaks, later: str, earlier: str) -> float:
    """Clip-wide median time (s) of :func:`_peak_delays_frames`; NaN when no contact shows both peaks."""
    delays = _peak_delays_frames(peaks, later, earlier)
    return float(np.median(delays)) / peaks.fps if delays.size else float("nan")


def _lands_on_forefoot(peaks: _FeaturePeaks) -> bool:
    """Whether the runner lands on the forefoot, judged from behind over the whole clip.

    A heel striker's toe is highest relative to the ankle at contact, when the ankle's
    fall is being stopped; a forefoot striker's toe is pointed down then and only rises
    once the heel has come down. A contact whose toe peaks more than
    :data:`FOREFOOT_STRIKE_TOE_DELAY_S` after the ankle's landing deceleration looks like a
    forefoot landing; the runner lands on the forefoot when at least
    :data:`FOREFOOT_STRIKE_CONTACT_FRACTION` of the contacts do (a slight heel strike shows
    a late toe peak at some contacts only, :func:`_late_toe_contacts_from_anchor`).
    """
    delays = _peak_delays_frames(peaks, "toe_up", "ankle_falling_acceleration")
    if not delays.size:
        return False
    return bool(np.mean(delays > FOREFOOT_STRIKE_TOE_DELAY_S * peaks.fps) >= FOREFOOT_STRIKE_CONTACT_FRACTION)


def _toe_rises_late_from_the_front(peaks: _FeaturePeaks) -> bool:
    """Whether, seen from the front, the toe's highest point does not mark the landing.

    At a clear heel strike the toe is highest relative to the ankle at contact, just as the
    leg is most extended; a foot landing nearly flat (or on the forefoot) shows its toe
    highest only later, as the foot lifts toward toe-off. The clip-wide median delay of the
    toe's peak after the leg's, compared with :data:`FRONT_TOE_LATE_S`, tells them apart.
    """
    delay_s = _median_peak_delay_s(peaks, "toe_up", "leg_extension")
    return bool(delay_s > FRONT_TOE_LATE_S)


def _without_stray_leg_extension(peaks: _FeaturePeaks, rule: _EventRule, frames: FloatArray) -> FloatArray:
    """Events of a mean rule re-timed without the leg's extension where it picked the wrong peak.

    The hip-ankle distance peaks twice per stance, just before IC and just before TO, about
    a contact time apart; at low frame rates or short contacts the other peak can be the
    higher one in an event's search window and moves the rule's mean by half a contact time
    (100 ms). Where the leg-extension estimate (lag included) lies more than
    :data:`MAX_LEG_EXTENSION_DISAGREEMENT_S` from the mean of the rule's other features, the
    event is that mean alone. Rules without the leg's extension, or without another feature,
    are returned unchanged.
    """
    names = [name for name, _ in rule.features]
    if rule.combine != "mean" or "leg_extension" not in names or len(names) < 2:
        return frames
    estimates = {
        name: _locate(peaks, _EventRule(rule.search_before_s, rule.search_after_s, ((name, lag_s),)))[0]
        for name, lag_s in rule.features
    }
    others = np.mean([estimates[name] for name in names if name != "leg_extension"], axis=0)
    stray = np.abs(estimates["leg_extension"] - others) > MAX_LEG_EXTENSION_DISAGREEMENT_S * peaks.fps
    return np.where(stray, others, frames)


#: Toe-rule views of exact landmarks: the feature (name, lag in s) that places a contact whose
#: toe peaks late (:func:`_late_toe_contacts_from_anchor`), and how late (s) after that
#: feature's own peak the toe's may come. Front: the flat-foot rule's leg extension and
#: :data:`FRONT_TOE_LATE_S`. Rear: the ankle's landing deceleration with its lag in the
#: second rear IC rule (24 ms, calibrated on the renders' heel strikers) and
#: :data:`FOREFOOT_STRIKE_TOE_DELAY_S`; toe peaks at contact came 5-45 ms after the anchor's
#: on the held-out renders' true landmarks, late ones 110-140 ms.
_LATE_TOE_ANCHORS: dict[str, tuple[tuple[str, float], float]] = {
    "front": (("leg_extension", 0.017), FRONT_TOE_LATE_S),
    "rear": (("ankle_falling_acceleration", 0.024), FOREFOOT_STRIKE_TOE_DELAY_S),
}


def _late_toe_contacts_from_anchor(
    peaks: _FeaturePeaks, family: str, ic_frames: FloatArray, ic_seen: NDArray[np.bool_]
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Rear/front views, toe rule: contacts whose toe peaks late are placed by an anchor feature.

    A foot landing only a little heel first (2-8 deg) shows the toe highest relative to the
    ankle twice: at contact, and again about 0.12 s later as the foot lifts. When the later
    peak is the higher one, the toe rule places that contact 3-13 frames late, and the
    clip-wide tests (:func:`_toe_rises_late_from_the_front`, :func:`_lands_on_forefoot`,
    medians) do not see it while most contacts peak early. Contacts whose toe peak comes
    more than the family's limit after the anchor feature's peak
    (:data:`_LATE_TOE_ANCHORS`) are placed by the anchor (plus its lag) instead, one by one.
    """
    (anchor, lag_s), late_after_s = _LATE_TOE_ANCHORS[family]
    fps = peaks.fps
    toe_frames, toe_seen = _locate(peaks, _EventRule(*_IC_WINDOW_S, (("toe_up", 0.0),)))
    anchor_frames, anchor_seen = _locate(peaks, _EventRule(*_IC_WINDOW_S, ((anchor, lag_s),)))
    late = toe_seen & anchor_seen & (toe_frames - (anchor_frames - lag_s * fps) > late_after_s * fps)
    return np.where(late, anchor_frames, ic_frames), np.where(late, anchor_seen, ic_seen)


def _frame_to_time(track: PoseTrack, frames: FloatArray) -> FloatArray:
    index = np.arange(track.n_frames, dtype=np.float64)
    slope_end = track.time_s[-1] + (frames - index[-1]) / track.fps
    slope_start = track.time_s[0] + frames / track.fps
    inner = np.interp(frames, index, track.time_s)
    return np.where(frames > index[-1], slope_end, np.where(frames < 0, slope_start, inner))


def detect_stances(
    track: PoseTrack,
    classification: ClipClassification,
    *,
    pelvic_obliquity_deg: NDArray[np.floating[Any]] | None = None,
    pelvis_height_px: NDArray[np.floating[Any]] | None = None,
    metric_track: PoseTrack | None = None,
    uncleaned_track: PoseTrack | None = None,
) -> pd.DataFrame:
    """Initial contact and toe-off of every foot contact in a (cleaned) track.

    Parameters
    ----------
    track : PoseTrack
        Preferably the output of :func:`gaitcheck.clean.clean_track` (filtered, swaps repaired).
    classification : ClipClassification
        ``view`` selects the event signals (side, rear or front rules), ``activity`` the
        phase intervals (running or walking).
    pelvic_obliquity_deg : (T,) array, optional
        Rear/front views: per-frame in-image pelvic obliquity (+ = left hip higher) measured
        independently of the leg landmarks, e.g. from the pelvis texture
        (:func:`gaitcheck.pelvis.estimate_pelvis_obliquity`); NaN where not measured. It
        names the stance sides when it tells them apart more consistently than the feet do
        (see :func:`_alternate_sides`): from behind, a pose model can label the feet by their
        image side, which fails when they land across the midline (crossover gait).
    pelvis_height_px : (T,) array, optional
        Rear/front views of MediaPipe tracks: per-frame vertical image position of the pelvis
        measured from its clothing texture (:attr:`gaitcheck.pelvis.PelvisEstimate.height_px`),
        NaN where not measured. Initial contacts (and, in part, toe-offs) are then placed
        from its highest points (:func:`_texture_flight_events`) unless it jumps too often
        (:func:`_pelvis_texture_high`); other tracks and views ignore it.
    metric_track : PoseTrack, optional
        The same landmarks less smoothed: the metric track of
        :func:`gaitcheck.clean.clean_tracks` (same frames; the same object from 60 fps up).
        Side-view running ICs are refined on its heel (:func:`_heel_landing_contacts`), whose
        landing kink survives its higher cutoff at low frame rates. Tracks other than
        MediaPipe's (exact landmarks: truth replay, motion capture) also take the event
        features from it, so that at 30 fps they go through the 12 Hz low-pass the rules'
        lags were calibrated under at 60 fps, not the event track's 6 Hz, which shifts
        asymmetric peaks by 5-30 ms; phases stay on ``track``.
    uncleaned_track : PoseTrack, optional
        The landmarks before cleaning (same frames), as :func:`gaitcheck.pipeline.analyze_track`
        passes them. Exact landmarks (not MediaPipe's) fit the side-view heel landing on its
        unfiltered heel first (:data:`MAX_HEEL_LANDING_RESIDUAL_LEG` decides whether they are
        precise enough), and on ``metric_track``'s only where they are not: the landing model
        describes the heel's approach only roughly, and a low-pass spreads that misfit across the
        kink (heel ahead of the pelvis moves about 0.45 % of leg length per ms of IC error).

    Returns
    -------
    pandas.DataFrame
        One row per contact, sorted by ``ic_time_s``, columns :data:`STANCE_COLUMNS`.
        Every row has an observed IC (contacts that began before the clip are left out).
        Sides alternate strictly: labels that break the alternation (a left/right swap the
        cleaning missed) are corrected, and their number is in
        ``table.attrs["sides_relabelled"]``. ``complete`` is False when the TO falls outside the clip (or too close
        to its end to be located); ``to_frame``/``to_time_s`` are then the clip's last frame
        and ``contact_time_s`` is NaN. Times follow the convention in the module docstring.

    Raises
    ------
    AnalysisError
        When the legs are never visible, the feet do not alternate (standing still,
        jumping with both feet) or fewer than :data:`MIN_STANCES` contacts are found.
    ValueError
        When ``pelvic_obliquity_deg`` or ``pelvis_height_px`` does not hold one value per frame,
        or ``metric_track`` has another number of frames.
    """
    import pandas as pd

    if pelvis_height_px is not None and np.shape(pelvis_height_px) != (track.n_frames,):
        raise ValueError(
            f"pelvis_height_px has shape {np.shape(pelvis_height_px)}, expected one value per frame ({track.n_frames},)"
        )
    if metric_track is not None and metric_track.n_frames != track.n_frames:
        raise ValueError(f"metric_track has {metric_track.n_frames} frames, the track {track.n_frames}")
    if uncleaned_track is not None and uncleaned_track.n_frames != track.n_frames:
        raise ValueError(f"uncleaned_track has {uncleaned_track.n_frames} frames, the track {track.n_frames}")
    view = classification.view
    leg_px = leg_length_px(track)
    fps = track.fps
    foot_v = {}
    for side in ("left", "right"):
        heel_v = track.point_px(f"{side}_heel")[:, 1]
        toe_v = track.point_px(f"{side}_foot_index")[:, 1]
        foot = _fill_nan(np.where(np.isfinite(toe_v), 0.5 * (heel_v + toe_v), heel_v))
        if not np.isfinite(foot).any():
            raise AnalysisError(
                _source(track) + f"the {side} foot is never visible; film the whole body with both feet in view"
            )
        foot_v[side] = (foot - _rolling_ground_level(foot, round(GROUND_WINDOW_S * fps))) / leg_px
    lowness = foot_v["left"] - foot_v["right"]
    excursion = float(np.percentile(np.abs(lowness), 90))
    if excursion < MIN_FOOT_EXCURSION_LEG:
        raise AnalysisError(
            _source(track)
            + f"the feet barely move relative to each other (swing height {excursion:.0%} of leg length); "
            "no running or walking strides found: film at least four steps of steady running"
        )
    smooth = _smooth_phase_signal(lowness, fps)
    starts, ends, is_left = _pelvis_intervals(track, smooth, leg_px, walking=classification.activity == "walking")

    family = view if view in ("rear", "front") else "side"
    ic_timing_sd_s: float | None = None
    if family == "side" and classification.activity == "walking":
        family = "side_walking"
    direction = {"side_right": 1.0, "side_left": -1.0}.get(view, 0.0)
    mediapipe = is_mediapipe_track(track)  # every other track holds exact landmarks
    # exact landmarks: features through the low-pass the lags were calibrated under (60 fps:
    # 12 Hz); MediaPipe's feet need the event track's stronger smoothing
    feature_track = track if metric_track is None or mediapipe else metric_track

    def features_of(source: PoseTrack) -> dict[str, _LazySignals]:
        pelvis = 0.5 * (source.point_px("left_hip") + source.point_px("right_hip"))
        return {side: _event_features(source, side, direction, pelvis) for side in ("left", "right")}

    features = features_of(feature_track)
    # two exceptions keep the event track's features: side-view ICs, which only start the
    # heel-landing fit (starts from the metric track moved single fitted 30 fps contacts
    # 0.7-0.8 frames off), and front-view TOs, whose ankle acceleration (a second difference)
    # showed spurious peaks at 30 fps on the metric track (2 of 15 TOs of seed 304 150 ms early)
    event_features = features if feature_track is track else features_of(track)
    ic_features = event_features if family == "side" else features
    to_features = event_features if family == "front" else features
    ic_rules, to_rules = _RULES[family]
    mediapipe_rules = family in _MEDIAPIPE_RULES and mediapipe
    texture_high = None
    # each feature's peaks around the intervals' starts (ICs) and ends (TOs) are searched once
    # and read by every rule and check that needs them
    feature_peaks = _FeaturePeaks(features, starts.astype(np.float64), is_left, fps)
    ic_peaks = feature_peaks
    if ic_features is not features:
        ic_peaks = _FeaturePeaks(ic_features, feature_peaks.boundaries, is_left, fps)
    if mediapipe_rules:
        ic_rules, to_rules = _MEDIAPIPE_RULES[family]
        if pelvis_height_px is not None:
            texture_high = _pelvis_texture_high(pelvis_height_px, leg_px, fps)
        if texture_high is not None:
            ic_rules = _PELVIS_TEXTURE_APEX_RULES
            for side_features in features.values():
                side_features.put("pelvis_texture_high", texture_high)
    elif family == "rear" and _lands_on_forefoot(feature_peaks):
        ic_rules = _RULES["rear_forefoot"][0]
    elif family == "front" and _toe_rises_late_from_the_front(feature_peaks):
        ic_rules = _RULES["front_flat_foot"][0]
    ic_frames, ic_seen = _locate_best(ic_peaks, ic_rules, erratic_s=MAX_IC_IRREGULARITY_S)
    if family in _LATE_TOE_ANCHORS and ic_rules is _RULES[family][0]:
        ic_frames, ic_seen = _late_toe_contacts_from_anchor(feature_peaks, family, ic_frames, ic_seen)
    # toe-offs are searched around the next highest point of the pelvis (the interval's end), as
    # contacts around the one starting it; around the frame before it, a feature peaking at that
    # highest point lay on the window's edge at 30 fps and the window's earlier peak was taken
    # (three toe-offs of seed 617, a runner approaching the camera, 165 ms early). Exact
    # landmarks only (MediaPipe's rules were calibrated around the frame before, and one of its
    # clips moved); and where the window would pass the clip's last frame, the frame before
    # still is the centre (the last toe-off stays measurable, as before)
    window_after = round(_TO_WINDOW_S[1] * fps)
    centred_on_peak = (ends + window_after <= track.n_frames - 2) & (not mediapipe)
    to_boundaries = np.where(centred_on_peak, ends, ends - 1).astype(np.float64)
    to_peaks = _FeaturePeaks(to_features, to_boundaries, is_left, fps)
    to_frames, to_seen = _locate_best(to_peaks, to_rules)
    if texture_high is not None:
        ic_frames, to_frames = _texture_flight_events(ic_frames, ic_seen, to_frames, to_seen, fps)
    if family == "side" and not mediapipe:
        # exact landmarks only: on MediaPipe's side tracks the two estimates scatter by as
        # much (the check moved its toe-offs of side_120fps and side_land30_cad155 further off)
        ic_frames = _without_stray_leg_extension(ic_peaks, ic_rules[0], ic_frames)
        to_frames = _without_stray_leg_extension(to_peaks, to_rules[0], to_frames)
    if family == "side":
        # exact landmarks fit the landing on their unfiltered heel first, then (or MediaPipe's
        # straight away) on the heel of the metric track; the rules' contacts stay where neither fits
        refined = None
        if uncleaned_track is not None and not mediapipe:
            refined = _heel_landing_contacts(uncleaned_track, ic_frames, ic_seen, is_left, leg_px)
        if refined is None:
            landing_track, metric_cutoff = (track, False) if metric_track is None else (metric_track, True)
            refined = _heel_landing_contacts(
                landing_track, ic_frames, ic_seen, is_left, leg_px, metric_cutoff=metric_cutoff
            )
        if refined is not None:
            ic_frames = refined
    ic_seen &= starts > 0
    to_seen &= ends < track.n_frames
    if family in ("rear", "front"):
        # toe-offs are left as measured: their true timing varies more from step to step
        # (contact time varies), and regularising them moved true-landmark TOs off by 1.2 frames
        ic_frames, ic_spread_frames = _regularise_steps(ic_frames, ic_seen, fps)
        ic_timing_sd_s = None if ic_spread_frames is None else ic_spread_frames / fps
        if mediapipe_rules and texture_high is None:
            ic_timing_sd_s = max(ic_timing_sd_s or 0.0, MEDIAPIPE_IC_TIMING_SD_S)
    last = track.n_frames - 1
    to_frames = np.where(to_seen, to_frames, float(last))
    keep = ic_seen & (ic_frames >= 0) & (ic_frames < to_frames)
    ic_frames, to_frames, is_left, to_seen = ic_frames[keep], to_frames[keep], is_left[keep], to_seen[keep]
    ic_time = _frame_to_time(track, ic_frames)
    to_time = _frame_to_time(track, to_frames)
    # in IC-time order (sorted here, on arrays, so the table is built once with its final sides)
    order = np.argsort(ic_time, kind="stable")
    ic_frames, to_frames, is_left, to_seen = ic_frames[order], to_frames[order], is_left[order], to_seen[order]
    ic_time, to_time = ic_time[order], to_time[order]
    complete = to_seen & (to_frames <= last)
    ic_frame = np.clip(np.round(ic_frames), 0, last).astype(np.int64)
    to_frame = np.clip(np.round(to_frames), 0, last).astype(np.int64)
    pelvis_says_left = None
    if pelvic_obliquity_deg is not None and np.shape(pelvic_obliquity_deg) != (track.n_frames,):
        raise ValueError(
            f"pelvic_obliquity_deg has shape {np.shape(pelvic_obliquity_deg)}, expected one value per frame "
            f"({track.n_frames},)"
        )
    if pelvic_obliquity_deg is not None and family in ("rear", "front"):
        pelvis_says_left = _stance_sides_from_obliquity(
            np.asarray(pelvic_obliquity_deg, dtype=np.float64), ic_frame, np.where(complete, to_frame, ic_frame + 1)
        )
    alternating_is_left, relabelled = _alternate_sides(is_left, pelvis_says_left)
    table = pd.DataFrame(
        {
            "side": np.where(alternating_is_left, "left", "right"),
            "ic_frame": ic_frame,
            "to_frame": to_frame,
            "ic_time_s": ic_time,
            "to_time_s": to_time,
            "contact_time_s": np.where(complete, to_time - ic_time, np.nan),
            "complete": complete,
        },
        columns=list(STANCE_COLUMNS),
    )
    table.attrs["sides_relabelled"] = relabelled
    # the contacts' timing noise, for the cadence: measured where they are regularised
    # (rear/front); None (side views, too few contacts): their scatter about the rhythm
    table.attrs["ic_timing_sd_s"] = ic_timing_sd_s
    # whether the contacts were timed from the pelvis texture's height
    table.attrs["ic_from_pelvis_height"] = texture_high is not None
    if len(table) < MIN_STANCES:
        raise AnalysisError(
            _source(track) + f"only {len(table)} foot contacts found, at least {MIN_STANCES} (two strides) are needed; "
            "film a longer stretch of steady running"
        )
    return table


def _alternate_sides(
    is_left: NDArray[np.bool_], pelvis_says_left: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.bool_], int]:
    """Strictly alternating sides (True: left), in the phase the side evidence supports best.

    Feet alternate in running and walking, so a run of stances whose sides break the
    alternation is a left/right landmark swap the cleaning did not catch; the contact
    times are right, only the names are wrong. The evidence is the detected sides (which
    foot was lower) and, when given, ``pelvis_says_left`` (per stance: 1 left, 0 right,
    NaN unknown; the hip on the swing side drops during stance). Each source votes for the
    phase most of its stances agree with; the source with the larger majority wins (a tie
    keeps the feet). Returns the sides and how many detected sides changed.
    """
    starts_left = np.arange(is_left.size) % 2 == 0
    feet_agree = int(np.sum(starts_left == is_left))
    margin = (2 * feet_agree - is_left.size) / max(is_left.size, 1)
    if pelvis_says_left is not None:
        known = np.isfinite(pelvis_says_left)
        if known.any():
            agree = int(np.sum(starts_left[known] == (pelvis_says_left[known] > 0.5)))
            pelvis_margin = (2 * agree - int(known.sum())) / int(known.sum())
            if abs(pelvis_margin) > abs(margin):
                margin = pelvis_margin
    best = starts_left if margin >= 0 else ~starts_left
    return best, int(np.sum(best != is_left))


def _stance_sides_from_obliquity(
    obliquity_deg: FloatArray, ic_frames: NDArray[np.int64], end_frames: NDArray[np.int64]
) -> FloatArray:
    """Per stance, 1.0 when the pelvis says left stance, 0.0 right, NaN when it cannot tell.

    The mean obliquity over the stance frames, relative to the clip's median (camera roll
    and a constant tilt cancel), is positive when the left hip is higher, i.e. the right
    (swing) side has dropped: a left stance. Stances with no measured frame are NaN.
    """
    n = obliquity_deg.size
    centred = obliquity_deg - np.nanmedian(obliquity_deg) if np.isfinite(obliquity_deg).any() else obliquity_deg
    measured = np.isfinite(centred)
    cumulative_sum = np.r_[0.0, np.cumsum(np.where(measured, centred, 0.0))]
    cumulative_count = np.r_[0, np.cumsum(measured)]
    first = np.clip(ic_frames, 0, n)
    stop = np.clip(np.maximum(end_frames, ic_frames + 1), 0, n)
    count = cumulative_count[stop] - cumulative_count[first]
    total = cumulative_sum[stop] - cumulative_sum[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count > 0, (mean > 0).astype(np.float64), np.nan)


def step_numbers(ic_time_s: FloatArray) -> NDArray[np.int64]:
    """Step number of each (sorted) initial contact, counting the contacts that were missed.

    A gap of about ``k`` median step times counts as ``k`` steps (at least one), so a
    missed contact keeps the numbering of the ones after it.
    """
    gaps = np.diff(ic_time_s)
    step_s = float(np.median(gaps)) if gaps.size else 0.0
    if not step_s > 0:
        return np.arange(ic_time_s.size, dtype=np.int64)
    return np.r_[0, np.cumsum(np.maximum(1, np.round(gaps / step_s)))].astype(np.int64)


def clip_cadence_spm(ic_time_s: NDArray[np.floating[Any]], timing_sd_s: float | None = None) -> float:
    """Steps per minute over a clip: 60 / the step time fitted to every initial contact.

    The step time is the slope of a robust least-squares line of IC time against step
    number (:func:`step_numbers`), plus a left/right alternating offset from six contacts
    on (an asymmetric runner's steps alternate long and short), with Huber weights against
    a badly located contact. Unlike ``60 (n - 1) / (t_last - t_first)`` it uses every
    contact, so the error of the first and last one no longer dominates on a short clip.

    The first and last contacts keep the weight ``j^2 / r^2`` (at most 1) against the
    fitted line, ``j`` being :data:`STEP_TIMING_JITTER_S` and ``r`` the contacts' timing
    noise: contacts located about as precisely as real running varies give exactly
    ``60 (n - 1) / (t_last - t_first)`` (gaitsynth's definition of cadence, n counting
    missed contacts), erratic ones the fitted rhythm.

    Parameters
    ----------
    ic_time_s : initial-contact times (s), any order.
    timing_sd_s : the contacts' timing noise when known (``detect_stances`` stores it in
        ``attrs["ic_timing_sd_s"]``; regularised contacts hide it from their scatter), 0
        for contacts known to be precise; None: their robust scatter about the fitted line
        (which also holds the runner's own drift in rhythm).

    Returns
    -------
    float
        NaN with fewer than two distinct contact times.
    """
    times = np.sort(np.asarray(ic_time_s, dtype=np.float64))
    times = times[np.isfinite(times)]
    if times.size < 2 or times[-1] <= times[0]:
        return float("nan")
    number = step_numbers(times).astype(np.float64)
    columns = [np.ones_like(number), number]
    if times.size >= CADENCE_MIN_CONTACTS_FOR_ALTERNATION:
        columns.append(np.where(number % 2 == 0, 1.0, -1.0))
    design = np.stack(columns, axis=1)
    weights = np.ones_like(times)
    fitted = times
    spread = 0.0
    for _ in range(4):
        root = np.sqrt(weights)
        coefficients = np.linalg.lstsq(design * root[:, None], times * root, rcond=None)[0]
        fitted = design @ coefficients
        residual = times - fitted
        spread = _robust_spread(residual)
        weights = _huber_weights(residual, spread, STEP_TIMING_JITTER_S)
    if timing_sd_s is not None:
        spread = timing_sd_s
    keep_measured = _keep_measured_weight(spread, STEP_TIMING_JITTER_S)
    ends = fitted[[0, -1]] + keep_measured * (times[[0, -1]] - fitted[[0, -1]])
    duration_s = float(ends[1] - ends[0])
    return 60.0 * float(number[-1] - number[0]) / duration_s if duration_s > 0 else float("nan")


def cadence_spm(stances: pd.DataFrame) -> float:
    """Steps per minute from all initial contacts of a stances table (:func:`clip_cadence_spm`
    with the table's ``attrs["ic_timing_sd_s"]``; without it the contacts count as precise).

    Raises
    ------
    AnalysisError
        With fewer than two distinct contact times.
    """
    cadence = clip_cadence_spm(
        np.asarray(stances["ic_time_s"], dtype=np.float64), stances.attrs.get("ic_timing_sd_s", 0.0)
    )
    if not np.isfinite(cadence):
        raise AnalysisError("cadence needs at least two initial contacts")
    return cadence


def describe(stances: pd.DataFrame) -> dict[str, Any]:
    """Small JSON-able summary of a stances table (counts, cadence, median contact time)."""
    complete = stances[stances["complete"]]
    return {
        "n_stances": len(stances),
        "n_complete": len(complete),
        "cadence_spm": cadence_spm(stances),
        "contact_time_median_s": float(np.median(complete["contact_time_s"])) if len(complete) else None,
    }
