"""Pelvis metrics: contralateral pelvic drop (rear/front views) and vertical oscillation."""

from __future__ import annotations

import numpy as np

from gaitcheck.errors import AnalysisError
from gaitcheck.metrics._context import MetricColumns, StrideContext
from gaitcheck.metrics._geometry import FloatArray, line_tilt_deg

PELVIS_FROM_HIP_LANDMARKS = "hip_landmarks"
PELVIS_FROM_OVERRIDE = "pelvis_estimate"


def pelvic_obliquity_image_deg(ctx: StrideContext) -> FloatArray:
    """Per-frame in-image pelvic obliquity from the hip landmarks, + = left hip higher."""
    return line_tilt_deg(ctx.point("left_hip"), ctx.point("right_hip"))


def pelvic_drop(ctx: StrideContext, obliquity_deg: FloatArray | None = None) -> MetricColumns:
    """Peak contralateral pelvic drop of each stance, listed under the stance side.

    The drop is the obliquity during a left stance and minus it during a right stance
    (+ = swing side lower); ``obliquity_deg`` replaces the hip-landmark obliquity when given.
    """
    if obliquity_deg is None:
        obliquity_deg, method = pelvic_obliquity_image_deg(ctx), PELVIS_FROM_HIP_LANDMARKS
    else:
        obliquity_deg, method = np.asarray(obliquity_deg, dtype=np.float64), PELVIS_FROM_OVERRIDE
        if obliquity_deg.shape != (ctx.track.n_frames,):
            raise AnalysisError(
                f"pelvis obliquity override has shape {obliquity_deg.shape}; expected one value per frame "
                f"({ctx.track.n_frames},)"
            )
    return {
        "pelvic_drop_deg": ctx.peak_in_stance(obliquity_deg, -obliquity_deg),
        "pelvic_drop_method": np.full(len(ctx.is_left), method),
    }


def vertical_oscillation(ctx: StrideContext) -> MetricColumns:
    """Peak-to-peak vertical travel of the hip midpoint from each IC to the next IC (any side)."""
    hip_mid_v = ctx.midpoint("hip")[:, 1]
    next_first = np.append(ctx.first_frame[1:], -1)
    has_next = next_first > ctx.first_frame
    range_px = np.where(
        has_next, ctx.range_between(hip_mid_v, ctx.first_frame, np.where(has_next, next_first, 0)), np.nan
    )
    columns: MetricColumns = {"vertical_oscillation_pct_leg": 100.0 * range_px / ctx.leg_length_px}
    if ctx.px_per_cm is not None:
        columns["vertical_oscillation_cm"] = range_px / ctx.px_per_cm
    return columns
