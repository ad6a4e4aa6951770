"""Foot placement: heel ahead of the pelvis, shank and foot angles at IC (side views), and
step width / crossover (rear/front views)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gaitcheck import skeleton
from gaitcheck.metrics._context import MetricColumns, StrideContext, left_direction_of_view
from gaitcheck.metrics._geometry import FloatArray, inclination_from_horizontal_deg, inclination_from_vertical_deg
from gaitcheck.pose.mediapipe_backend import is_mediapipe_track

#: Foot strike angle limits (sole angle at IC relative to foot flat, degrees), after
#: Altman & Davis 2012: above 8 rearfoot, below -1.6 forefoot, in between midfoot.
REARFOOT_STRIKE_ABOVE_DEG = 8.0
FOREFOOT_STRIKE_BELOW_DEG = -1.6
#: Fraction of stance at which the foot is taken to be flat on the ground (the reference
#: posture for foot inclination); mid-stance, after loading and before heel rise.
FOOT_FLAT_STANCE_FRACTION = 0.35
#: How far the pose model's heel landmark lies ahead of the heel contact point at initial
#: contact, in leg lengths. The model marks the heel on the back of the shoe, above the sole
#: and inside its rounded outline, while the contact point is the rear bottom edge of the
#: sole. Calibrated on MediaPipe tracks of the six side-view renders (cleaned heel minus the
#: true heel at the frames after IC: median 2.5 %, 2.3-3.2 % per clip); confirmed on three
#: held-out side renders (other body sizes and camera set-ups). Not checked on real shoes.
POSE_MODEL_HEEL_AHEAD_OF_CONTACT_LEG = 0.025
#: Heel ahead at IC is extrapolated back from the first two frames at or after IC + this
#: delay. The metric track's zero-phase low-pass rounds the kink of the heel trajectory at
#: contact (the heel stops, the pelvis goes on), so a frame within a few ms after IC still
#: carries some of the swing motion and reads heel ahead low. Calibrated on truth replays of
#: the six shared side renders, cleaned, with true events (mean error per clip -0.70 to -0.21
#: % leg with no delay -> -0.09 to +0.14; 3 ms left part of the bias, 7 ms and more
#: overshot); confirmed on eleven held-out side renders at 30-120 fps (-0.59 to +0.04 ->
#: -0.26 to +0.44; the two 30 fps clips move up by 0.3-0.5). Not used for the shank, foot
#: and knee angles at IC, which it makes worse at 30 fps. Exact landmarks now use the
#: unblurred read (:func:`heel_ahead_at_ic_px`); this one stays for pose-model tracks.
HEEL_AHEAD_READ_DELAY_S = 0.005


def _both_sides(ctx: StrideContext, part: str) -> dict[str, FloatArray]:
    return {side: ctx.point(skeleton.side_name(side, part)) for side in skeleton.SIDES}


def sagittal_foot_placement(ctx: StrideContext) -> MetricColumns:
    """Heel ahead of the hip midpoint, shank angle and foot inclination at IC, strike pattern.

    Heel ahead is measured from the heel contact point: the pose model's heel landmark is
    moved back by :func:`heel_landmark_ahead_of_contact_px`. It is read at IC by
    :func:`heel_ahead_at_ic_px`.

    Foot inclination is the heel->toe line above the horizontal at IC minus the same at
    foot flat (mid-stance), so the landmark offset of the toe point and camera roll cancel.
    At-IC values come from the leg on the ground (see ``StrideContext.at_ic_contact_leg``);
    ``ic_leg_labels_swapped`` marks the stances where that was the other label.
    """
    forward = ctx.forward_sign
    hip_mid_u = ctx.midpoint("hip")[:, 0]
    heel, knee, ankle, toe = (_both_sides(ctx, part) for part in ("heel", "knee", "ankle", "foot_index"))
    heel_ahead_px = {side: forward * (heel[side][:, 0] - hip_mid_u) for side in skeleton.SIDES}
    shank_deg = {side: inclination_from_vertical_deg(knee[side], ankle[side], forward) for side in skeleton.SIDES}
    foot_deg = {side: inclination_from_horizontal_deg(heel[side], toe[side], forward) for side in skeleton.SIDES}
    heel_ahead_ic_px = heel_ahead_at_ic_px(ctx, heel_ahead_px) - heel_landmark_ahead_of_contact_px(ctx)
    flat_time_s = ctx.ic_time_s + FOOT_FLAT_STANCE_FRACTION * (ctx.to_time_s - ctx.ic_time_s)
    foot_flat_deg = ctx.by_stance_side(
        ctx.at_times(foot_deg["left"], flat_time_s), ctx.at_times(foot_deg["right"], flat_time_s)
    )
    foot_inclination_deg = ctx.at_ic_contact_leg(foot_deg["left"], foot_deg["right"]) - foot_flat_deg
    strike = np.select(
        [
            foot_inclination_deg > REARFOOT_STRIKE_ABOVE_DEG,
            foot_inclination_deg < FOREFOOT_STRIKE_BELOW_DEG,
            np.isfinite(foot_inclination_deg),
        ],
        ["rearfoot", "forefoot", "midfoot"],
        default="unknown",
    )
    columns: MetricColumns = {
        "heel_ahead_pct_leg": 100.0 * heel_ahead_ic_px / ctx.leg_length_px,
        "shank_angle_ic_deg": ctx.at_ic_contact_leg(shank_deg["left"], shank_deg["right"]),
        "foot_inclination_ic_deg": foot_inclination_deg,
        "strike_pattern": strike,
        "ic_leg_labels_swapped": ctx.ic_labels_swapped.copy(),
    }
    if ctx.px_per_cm is not None:
        columns["heel_ahead_cm"] = heel_ahead_ic_px / ctx.px_per_cm
    return columns


def heel_ahead_at_ic_px(ctx: StrideContext, heel_ahead_px: Mapping[str, FloatArray]) -> FloatArray:
    """Heel ahead of the hip midpoint at each IC, in pixels, from the per-frame signal of each side.

    Exact landmarks (truth replay, motion capture), cleaned: :meth:`StrideContext.at_ic_unblurred`,
    which undoes the metric track's low-pass around the kink at contact. Uncleaned tracks
    (nothing to undo) and pose-model landmarks: extrapolated back from the frames after IC +
    :data:`HEEL_AHEAD_READ_DELAY_S`, the read
    :data:`POSE_MODEL_HEEL_AHEAD_OF_CONTACT_LEG` was calibrated with; the pose model smooths
    and lags its own landmarks around contact, which the low-pass model does not know, and the
    unblurred read moved heel ahead 0.3-2.5 % leg lower on its tracks of the side renders
    (median error per clip up to 4.4 % leg with detected events, from 2.5). Also the fallback
    where the fit window leaves the clip or has missing frames, and where the leg labels are
    swapped at IC (the window around IC would mix the two legs).
    """
    after_ic = ctx.at_ic_contact_leg(heel_ahead_px["left"], heel_ahead_px["right"], delay_s=HEEL_AHEAD_READ_DELAY_S)
    if is_mediapipe_track(ctx.track) or not ctx.track.meta.get("cleaning"):
        return after_ic
    unblurred = ctx.at_ic_unblurred(heel_ahead_px["left"], heel_ahead_px["right"])
    return np.where(np.isfinite(unblurred) & ~ctx.ic_labels_swapped, unblurred, after_ic)


def heel_landmark_ahead_of_contact_px(ctx: StrideContext) -> float:
    """Distance in pixels by which the heel landmark lies ahead of the heel contact point at IC:
    :data:`POSE_MODEL_HEEL_AHEAD_OF_CONTACT_LEG` leg lengths for the pose model's landmarks,
    0 for landmarks that are the contact point itself (truth replay, motion capture)."""
    if not is_mediapipe_track(ctx.track):
        return 0.0
    return POSE_MODEL_HEEL_AHEAD_OF_CONTACT_LEG * ctx.leg_length_px


def step_width(ctx: StrideContext) -> MetricColumns:
    """Lateral distance between this heel at its IC and the other heel at the previous IC.

    + when the left heel is to the left of the right heel; negative = crossover. NaN when
    the previous stance is not on the other side (a contact was missed).
    """
    heel = _both_sides(ctx, "heel")
    left_u = left_direction_of_view(ctx.view)
    heel_u_ic = ctx.at_ic(heel["left"][:, 0], heel["right"][:, 0])
    side_sign = np.where(ctx.is_left, 1.0, -1.0)
    previous_is_other = np.append(False, ctx.is_left[1:] != ctx.is_left[:-1])
    previous_u = np.append(np.nan, heel_u_ic[:-1])
    width_px = np.where(previous_is_other, side_sign * left_u * (heel_u_ic - previous_u), np.nan)
    columns: MetricColumns = {"step_width_pct_leg": 100.0 * width_px / ctx.leg_length_px}
    if ctx.px_per_cm is not None:
        columns["step_width_cm"] = width_px / ctx.px_per_cm
    return columns
